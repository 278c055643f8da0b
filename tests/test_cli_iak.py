"""`iak-bot status` (`--postpaid`) and `iak-bot balance`: the same cards in a terminal, and
honest exit codes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.cli import main
from tests.support.bot import IAK_API_KEY, IAK_USERNAME
from tests.support.cli import clean_env, iak_bot
from tests.support.fakes.iak import FakeIak, bill, postpaid, transaction

# scenario tests: the bot runs whole, over loopback or as processes
pytestmark = pytest.mark.slow

CUSTOMER = "0817777215"


def iak_env(url: str, **extra: str) -> dict[str, str]:
    values = {
        "IAK_USERNAME": IAK_USERNAME,
        "IAK_API_KEY": IAK_API_KEY,
        "IAK_BASE_URL": url,
        "IAK_POSTPAID_BASE_URL": url,
        **extra,
    }
    return clean_env(**values)


def test_status_prints_the_card(tmp_path: Path, fake_iak: FakeIak) -> None:
    fake_iak.add(transaction("order001"))
    result = iak_bot("status", "order001", cwd=tmp_path, env=iak_env(fake_iak.url))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Transaction order001\n")
    for expected in ("✅ Success", "08***215", "Rp25.000", "3482", "Nothing to do"):
        assert expected in out
    assert CUSTOMER not in out
    assert "Recheck" not in out  # no buttons to press in a terminal
    assert "\033[" not in out
    assert len(fake_iak.calls_for("order001")) == 1


def test_status_prints_what_iak_sent_as_it_was_sent(tmp_path: Path, fake_iak: FakeIak) -> None:
    """Slack markup in a ref_id or in IAK's answer is text in a terminal too: as typed, never
    as the escapes Slack needs (`&lt;`) nor as the mention or link it would be in Slack."""
    fake_iak.add(
        transaction(
            "<!channel>",
            "failed",
            product_code="<@U0BOSS>",
            message="<https://evil.example|click> &lt;!here&gt;",
            tr_id="a&b",
        )
    )
    result = iak_bot("status", "<!channel>", cwd=tmp_path, env=iak_env(fake_iak.url))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Transaction <!channel>\n")
    for typed in ("<@U0BOSS>", "<https://evil.example|click> &lt;!here&gt;", "a&b"):
        assert typed in out, typed
    assert "&amp;" not in out and "&lt;!channel" not in out


def test_status_prints_no_control_character_iak_sent(tmp_path: Path, fake_iak: FakeIak) -> None:
    """A CR or an escape sequence in IAK's answer is dropped, not acted on by the terminal."""
    fake_iak.add(
        transaction(
            "ctl001",
            "failed",
            message="FAILED\r\x1b[2J\x1b]0;pwned\x07HIDDEN\x08\x9b31m",
            product_code="xld\x1b[31m25000",
        )
    )
    result = iak_bot("status", "ctl001", cwd=tmp_path, env=iak_env(fake_iak.url))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "FAILED[2J]0;pwnedHIDDEN31m" in out
    assert "xld[31m25000" in out
    for control in ("\r", "\x1b", "\x07", "\x08", "\x9b"):
        assert control not in out, repr(control)


def test_status_postpaid_prints_the_bill(tmp_path: Path, fake_iak: FakeIak) -> None:
    fake_iak.add_bill(bill("bill001"))
    result = iak_bot("status", "--postpaid", "bill001", cwd=tmp_path, env=iak_env(fake_iak.url))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Postpaid bill bill001\n")
    for expected in (
        "✅ Paid",
        "TELKOMPSTN",
        "63***202",
        "J***",
        "Rp137.110",
        "9732795",
        "1609626",
        "Postpaid 00 · PAYMENT / INQUIRY SUCCESS",
    ):
        assert expected in out, expected
    assert "6391601202" not in out and "JAORAH" not in out
    assert "Recheck" not in out
    assert len(fake_iak.calls_for(postpaid("bill001"))) == 1
    assert fake_iak.calls_for("bill001") == []  # the prepaid API was not asked
    # nothing stored: no database file appeared for a postpaid check
    assert not (tmp_path / "iak_bot.db").exists()


def test_status_postpaid_records_the_bill_where_the_bot_keeps_transactions(
    tmp_path: Path, fake_iak: FakeIak
) -> None:
    """With the bot's database there, a terminal check is kept like one from Slack: the
    bill shows in `iak-bot pending` on the postpaid line."""
    fake_iak.add_bill(bill("bill-term", "pending"))
    env = iak_env(fake_iak.url, DATABASE_URL=f"sqlite:///{tmp_path}/iak_bot.db")
    assert iak_bot("migrate", cwd=tmp_path, env=env).returncode == 0
    checked = iak_bot("status", "--postpaid", "bill-term", cwd=tmp_path, env=env)
    assert checked.returncode == 0, checked.stderr
    engine = create_engine(env["DATABASE_URL"])
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT line, outcome FROM transactions WHERE ref_id = 'bill-term'")
        ).one()
    engine.dispose()
    assert tuple(row) == ("postpaid", "pending")


def test_status_postpaid_exit_codes(tmp_path: Path, fake_iak: FakeIak) -> None:
    fake_iak.add_bill(bill("unpaid", "not_paid"))
    known = iak_bot("status", "--postpaid", "unpaid", cwd=tmp_path, env=iak_env(fake_iak.url))
    assert known.returncode == 0, known.stderr  # never paid is a known outcome
    assert "Not paid" in known.stdout
    missing = iak_bot("status", "--postpaid", "nope", cwd=tmp_path, env=iak_env(fake_iak.url))
    assert missing.returncode == 1
    assert "Not found at IAK development" in missing.stdout
    env = iak_env(fake_iak.url, IAK_API_KEY="the-production-key")
    refused = iak_bot("status", "--postpaid", "unpaid", cwd=tmp_path, env=env)
    assert refused.returncode == 1
    assert "response_code 100" in refused.stdout and "IAK_API_KEY" in refused.stdout


def test_missing_iak_settings_are_named(tmp_path: Path) -> None:
    for command in (["status", "order001"], ["status", "--postpaid", "bill001"], ["balance"]):
        result = iak_bot(*command, cwd=tmp_path)
        assert result.returncode == 2
        assert "IAK_USERNAME" in result.stderr
        assert "IAK_API_KEY" in result.stderr
        assert "Traceback" not in result.stderr


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """Run `main()` in this process with only the variables a test sets (and no .env)."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("IAK_", "LOW_BALANCE", "SLACK")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("IAK_USERNAME", IAK_USERNAME)
    monkeypatch.setenv("IAK_API_KEY", IAK_API_KEY)
    return monkeypatch


def test_errors_print_the_error_card_and_exit_1(
    environment: pytest.MonkeyPatch, fake_iak: FakeIak, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("IAK_BASE_URL", fake_iak.url)
    assert main(["status", "never-sent"]) == 1
    assert "Not found at IAK development" in capsys.readouterr().out

    environment.setenv("IAK_API_KEY", "the-production-key")
    assert main(["status", "never-sent"]) == 1
    assert "IAK_API_KEY" in capsys.readouterr().out
    assert main(["balance"]) == 1
    out = capsys.readouterr().out
    assert "IAK_API_KEY" in out
    assert "IAK deposit balance (development)" in out


def test_failed_is_a_known_outcome_so_exit_0(
    environment: pytest.MonkeyPatch, fake_iak: FakeIak, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("IAK_BASE_URL", fake_iak.url)
    fake_iak.add(transaction("order002", "failed"))
    assert main(["status", "order002"]) == 0
    assert "❌ Failed" in capsys.readouterr().out


def test_bad_ref_id_is_refused_before_asking_iak(
    environment: pytest.MonkeyPatch, fake_iak: FakeIak, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("IAK_BASE_URL", fake_iak.url)
    assert main(["status", "two words"]) == 2
    assert "1-100 printable characters" in capsys.readouterr().err
    assert fake_iak.calls == []


def test_balance_and_low_balance(
    environment: pytest.MonkeyPatch, fake_iak: FakeIak, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("IAK_BASE_URL", fake_iak.url)
    assert main(["balance"]) == 0
    out = capsys.readouterr().out
    assert "Rp997.136.249" in out
    assert "Low deposit" not in out

    environment.setenv("LOW_BALANCE_THRESHOLD", "1000000000")
    assert main(["balance"]) == 0
    out = capsys.readouterr().out
    assert "Low deposit: Rp997.136.249 is below the threshold of Rp1.000.000.000" in out


def test_product_prints_the_card(tmp_path: Path, fake_iak: FakeIak) -> None:
    result = iak_bot("product", "xld25000", cwd=tmp_path, env=iak_env(fake_iak.url))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("xld25000 · XL\n")
    for expected in ("🟢 Active", "Price\nRp24.925", "Nominal\n25000", "Active period\n30 days"):
        assert expected in out, expected
    assert "IAK prepaid price list (development), fetched 0 s ago" in out
    assert "\033[" not in out
    assert not (tmp_path / "iak_bot.db").exists()  # no database here: none is made


def test_product_search_and_nothing_found(tmp_path: Path, fake_iak: FakeIak) -> None:
    env = iak_env(fake_iak.url)
    found = iak_bot("product", "telkomsel", cwd=tmp_path, env=env)
    assert found.returncode == 0, found.stderr
    assert "Products matching “telkomsel”" in found.stdout
    postpaid_only = iak_bot("product", "pp", "bpjs", cwd=tmp_path, env=env)
    assert postpaid_only.stdout.startswith("BPJS · BPJS Kesehatan\n")
    nothing = iak_bot("product", "smartfren", cwd=tmp_path, env=env)
    assert nothing.returncode == 1
    assert "No product in IAK's price lists matches “smartfren”" in nothing.stdout


def test_product_uses_the_databases_cache(tmp_path: Path, fake_iak: FakeIak) -> None:
    env = iak_env(fake_iak.url, DATABASE_URL=f"sqlite:///{tmp_path}/iak_bot.db")
    assert iak_bot("migrate", cwd=tmp_path, env=env).returncode == 0
    first = iak_bot("product", "xld25000", cwd=tmp_path, env=env)
    second = iak_bot("product", "hindosat25000", cwd=tmp_path, env=env)
    assert first.returncode == second.returncode == 0, second.stderr
    assert second.stdout.startswith("hindosat25000 · Indosat\n")
    # The second process answered from the first one's copy.
    assert len(fake_iak.calls_for("pricelist")) == 1
    assert len(fake_iak.calls_for("pricelist-pasca")) == 1


def test_product_when_iak_refuses(tmp_path: Path, fake_iak: FakeIak) -> None:
    env = iak_env(fake_iak.url, IAK_API_KEY="the-production-key")
    result = iak_bot("product", "xld25000", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "IAK's price list is not available" in result.stdout
    assert "IAK_API_KEY" in result.stdout
