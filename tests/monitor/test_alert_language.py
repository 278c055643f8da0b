"""Scenario: with BOT_LANGUAGE=id, the ops channel's alerts and their threads are in
Indonesian, whoever's locale caused them."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.alerts import Shop, parent_ts, parents, replies, text_of, wait_until
from tests.support.bot import RunningBot
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.slack import FakeSlack


def test_an_alert_and_its_thread_are_posted_in_bot_language(
    monitored: Callable[..., RunningBot], clock: FakeClock, fake_slack: FakeSlack
) -> None:
    bot = monitored(bot_language="id")
    shop = Shop(bot)
    shop.pending("order001")
    clock.advance(minutes=16)
    ts = parent_ts(fake_slack)
    parent = text_of(parents(fake_slack)[0])
    assert "1 top-up terlalu lama pending" in parent
    assert "Jangan refund atau kirim ulang dulu" in parent
    assert "Tangani" in parent and "Cek ulang sekarang" in parent  # the buttons
    assert "pending too long" not in parent

    shop.callback("order001", "2", "14")
    wait_until(lambda: len(fake_slack.calls_to("chat.update")) >= 1)
    thread = [text_of(reply) for reply in replies(fake_slack, ts)]
    assert "gagal (rc 14)" in thread[0]
    assert "Perbaiki input" in thread[0]  # what to do about rc 14, in Indonesian
    assert thread[-1].startswith("Selesai setelah")
    edited = text_of(fake_slack.calls_to("chat.update")[-1])
    assert "Selesai: 1 top-up yang lama pending sudah tuntas" in edited


def test_a_duplicate_serial_alert_in_indonesian_says_the_customer_was_wronged(
    monitored: Callable[..., RunningBot], clock: FakeClock, fake_slack: FakeSlack
) -> None:
    """The customer was cheated, not the cheat ("pelanggan yang curang" said the opposite)."""
    bot = monitored(bot_language="id")
    shop = Shop(bot)
    token = "01234567890123456789"
    shop.callback("pln-a", "1", "00", product="pln20000", sn=f"{token}/BUDI/R1/900")
    clock.advance(minutes=3)
    shop.callback("pln-b", "1", "00", product="pln50000", sn=f"{token}/SITI/R1/900")
    parent_ts(fake_slack)
    shown = text_of(parents(fake_slack)[0])
    assert "terkirim 2 kali" in shown and "SN " in shown
    assert "pelanggan dirugikan" in shown
    for wrong in ("curang", "Nomor serial", "Nomor seri"):
        assert wrong not in shown, wrong
