"""Hostile text through every route, over HTTP, as Slack, IAK and the merchant backend send it.

Anything that came from outside (a ref_id, an rc, a product code, a customer number, IAK's
message, a serial number, a bill's name, a product's name in IAK's price list) may hold
Slack markup: `<!channel>`, a mention, a channel, a link, or an escape that spells one.
Whatever the bot sends afterwards (acks, response_url answers, alerts, their thread replies
and edits, the Home tab) shows it as text, in the blocks and in the notification `text`,
while the mentions the bot writes itself (who acknowledged, who muted, who shared) stay
real mentions.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from bot.registry import Line, Registry
from bot.slack.blocks.iak_answers import IAK_IP_SETTINGS
from tests.support.alerts import delivered_parents, replies, wait_until
from tests.support.bot import MONITOR_INGEST_TOKEN, RunningBot
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.iak import (
    PREPAID_PRODUCTS,
    FakeIak,
    IakReply,
    bill,
    postpaid_product,
    prepaid_product,
    transaction,
)
from tests.support.fakes.slack import Call, FakeSlack
from tests.support.intake import iak_sign
from tests.support.messages import (
    answer,
    as_shown,
    controls,
    markup_texts,
    stray_brackets,
)

HOSTILE = (
    "<!channel>",
    "<!here>",
    "<@U0BOSS>",
    "<#C0SECRET>",
    "<https://evil.example|click>",
    "&lt;!channel&gt;",
)
LEAD = "U0LEAD"
OPS = "C0ALERTS"


@pytest.fixture(params=HOSTILE)
def hostile(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def rc_of(value: str) -> str:
    """The value as an rc: IAK's rc is at most 16 characters, so a longer one arrives cut
    (and a cut link is as dangerous as a whole one, should a later `>` close it)."""
    return value[:16]


class Sent:
    """Everything the bot sent to Slack in a test: what the fake Slack recorded (posts,
    edits, views, response_url answers) and the acks the bot answered requests with."""

    def __init__(self, slack: FakeSlack) -> None:
        self.slack = slack
        self.acks: list[tuple[str, dict[str, Any]]] = []

    def ack(self, what: str, response: httpx.Response) -> dict[str, Any]:
        body = answer(response)
        self.acks.append((what, body))
        return body

    def everything(self) -> list[tuple[str, dict[str, Any]]]:
        recorded = [(f"{call.method} {call.path}", call.args) for call in self.slack.calls]
        return recorded + [(f"ack of {what}", body) for what, body in self.acks]


def our_hosts(registry: Registry) -> set[str]:
    """Where the bot links on purpose: Slack's permalinks (the Home tab's incidents) and
    IAK's pages (the registry's links, IAK's IP settings)."""
    hosts = {"slack.com", urlsplit(IAK_IP_SETTINGS).hostname or ""}
    codes = [*registry.http_rows(), *(c for line in Line for c in registry.response_codes(line))]
    for code in codes:
        hosts.update(urlsplit(link.url).hostname or "" for link in code.links)
    return hosts


def leaks(payload: dict[str, Any], value: str, hosts: set[str]) -> list[str]:
    """Where a payload lets `value` act as markup, or carries markup the bot did not write."""
    escaped = html.escape(value, quote=False)
    found = []
    for text in markup_texts(payload):
        for control in controls(text):
            if not _ours(control, hosts):
                found.append(f"<{control}> in {text!r}")
        if stray_brackets(text):
            found.append(f"a stray '<' in {text!r}")
        if value in text.replace(escaped, ""):
            found.append(f"{value!r} unescaped in {text!r}")
        shown = as_shown(text)
        if "&" not in value and any(e in shown for e in ("&lt;", "&gt;", "&amp;")):
            found.append(f"escaped twice: {shown!r}")
    return found


def _ours(control: str, hosts: set[str]) -> bool:
    """The markup the bot writes itself: its mentions of the people who clicked, dates, and
    links to IAK's pages and Slack's permalinks."""
    if control == f"@{LEAD}":
        return True
    if control.startswith("!date^"):
        return True
    url, _, _ = control.partition("|")
    parts = urlsplit(url)
    return parts.scheme == "https" and parts.hostname in hosts


def shows(payload: dict[str, Any], value: str) -> bool:
    """Whether a reader sees `value` as typed somewhere in the payload's markup."""
    return any(value in as_shown(text) for text in markup_texts(payload))


def assert_nothing_leaks(sent: Sent, value: str, registry: Registry) -> None:
    hosts = our_hosts(registry)
    everything = sent.everything()
    assert everything
    problems = [
        f"{where}: {problem}"
        for where, payload in everything
        for problem in leaks(payload, value, hosts)
    ]
    assert problems == [], "\n".join(problems)


def report(bot: RunningBot, data: dict[str, Any]) -> None:
    """What the merchant backend forwards: IAK's answer to a top-up."""
    answered = httpx.post(
        bot.url + "/transactions",
        json={"data": data},
        headers={"Authorization": f"Bearer {MONITOR_INGEST_TOKEN}"},
        timeout=10,
    )
    assert answered.status_code == 200, answered.text


def callback(bot: RunningBot, data: dict[str, Any]) -> None:
    """What IAK calls back with, signed."""
    signed = {**data, "sign": iak_sign(str(data["ref_id"]))}
    answered = httpx.post(bot.url + "/iak/callback", json={"data": signed}, timeout=10)
    assert answered.status_code == 200, answered.text


def hostile_transaction(ref_id: str, value: str, status: int) -> dict[str, Any]:
    """IAK's `data` with `value` in every text field (the rc cut as IAK's rc would be)."""
    return {
        "ref_id": ref_id,
        "status": status,
        "rc": rc_of(value),
        "product_code": value,
        "customer_id": value,
        "price": 25000,
        "message": value,
        "sn": value,
        "tr_id": value,
    }


def hostile_price_lists(fake_iak: FakeIak, value: str) -> None:
    """A product whose code and every word come from IAK's price list, on each line."""
    fake_iak.set_price_list(
        "prepaid",
        [
            *PREPAID_PRODUCTS,
            prepaid_product(
                value,
                f"Zonk {value}",
                value,
                1000,
                product_details=value,
                product_type=value,
                product_category=value,
            ),
        ],
    )
    fake_iak.set_price_list(
        "postpaid",
        [postpaid_product(f"PP{value}", f"Zonk {value}", 2500, type=value, province=value)],
    )


def test_answers_to_commands_and_clicks_show_hostile_text_as_text(
    start_bot: Callable[..., RunningBot],
    fake_iak: FakeIak,
    fake_slack: FakeSlack,
    registry: Registry,
    hostile: str,
) -> None:
    value = hostile
    fake_iak.add(
        transaction(
            f"{value}ok", "success", product_code=value, message=value, sn=value, tr_id=value
        )
    )
    fake_iak.add(
        transaction(f"{value}rc", "failed", rc=rc_of(value), customer_id=value, message=value)
    )
    fake_iak.add_bill(
        bill(
            f"{value}pp",
            "failed",
            code=value,
            hp=value,
            tr_name=value,
            period=value,
            noref=value,
            message=value,
            tr_id=value,
            datetime=value,
            response_code=rc_of(value),
        )
    )
    hostile_price_lists(fake_iak, value)
    bot = start_bot(
        iak_base_url=fake_iak.url,
        iak_postpaid_base_url=fake_iak.url,
        ingest_token=MONITOR_INGEST_TOKEN,
    )
    sent = Sent(fake_slack)
    for n in range(3):
        report(bot, hostile_transaction(f"{value}p{n}", value, 0))
        callback(bot, hostile_transaction(f"{value}f{n}", value, 2))

    command = bot.slack.command
    # Live checks: acked at once, the card follows through response_url.
    checks = {"ok": f"{value}ok", "rc": f"{value}rc", "unknown": value}
    for key, ref_id in checks.items():
        sent.ack("status", command(f"status {ref_id}", response_key=key))
    sent.ack("postpaid status", command(f"status pp {value}pp", response_key="pp"))
    for key in checks:
        fake_slack.wait_for_response(key)
    fake_slack.wait_for_response("pp")
    bot.slack.action("recheck_status", f"{value}ok", response_key="recheck")
    fake_slack.wait_for_response("recheck")
    # Reports from the store.
    pending = sent.ack("pending", command("pending"))
    stats = sent.ack("stats", command("stats 24h"))
    # IAK's price lists: the first answer fetches them, later ones read the copy.
    sent.ack("product search", command("product zonk", response_key="search"))
    (matches,) = fake_slack.wait_for_response("search")
    card = sent.ack("product", command(f"product {value}"))
    sent.ack("postpaid product", command(f"product pp PP{value}"))
    bot.slack.action("show_product_0", f"prepaid {value}", response_key="open")
    fake_slack.wait_for_response("open")
    # Words a person typed, echoed back.
    sent.ack("code", command(f"code {value}"))
    sent.ack("help", command(value))
    sent.ack("stats window", command(f"stats {value}"))
    bot.slack.action("share_card", "17", user_id=LEAD, response_key="share")
    (shared,) = fake_slack.wait_for_response("share")

    assert_nothing_leaks(sent, value, registry)
    (prepaid,) = fake_slack.responses("ok")
    assert shows(prepaid, value) and value in as_shown(prepaid["text"])
    (failed,) = fake_slack.responses("rc")
    assert shows(failed, rc_of(value))
    (postpaid,) = fake_slack.responses("pp")
    assert shows(postpaid, value)
    assert shows(pending, value) and shows(stats, rc_of(value))
    assert shows(matches, value) and shows(card, value)
    # The bot's own mention of who shared the card pings them, as meant.
    assert any(f"<@{LEAD}>" in text for text in markup_texts(shared))


def click(
    bot: RunningBot, action_id: str, value: str, *, user: str, key: str, select: bool = False
) -> None:
    extra: dict[str, Any] = {}
    if select:
        extra = {
            "type": "static_select",
            "selected_option": {"value": value, "text": {"type": "plain_text", "text": "x"}},
        }
    answered = bot.slack.action(
        action_id,
        "" if select else value,
        user_id=user,
        channel_id=OPS,
        response_key=key,
        container={"type": "message", "message_ts": "1.1", "channel_id": OPS},
        extra=extra,
    )
    assert answered.status_code == 200


def buttons(call: Call) -> dict[str, dict[str, Any]]:
    return {
        element["action_id"]: element
        for block in call.args.get("blocks", [])
        if block.get("type") == "actions"
        for element in block["elements"]
    }


def edits_of(slack: FakeSlack, ts: str) -> list[Call]:
    return [call for call in slack.calls_to("chat.update") if call.args.get("ts") == ts]


def mentions_lead(call: Call | dict[str, Any], words: str) -> bool:
    """Whether a message says `words` next to a real mention of the lead."""
    args = call.args if isinstance(call, Call) else call
    return any(f"{words} <@{LEAD}>" in text for text in markup_texts(args))


def open_home(bot: RunningBot, user: str) -> None:
    event = {
        "token": "x",
        "team_id": "T0TEAM",
        "api_app_id": "A0IAKBOT",
        "type": "event_callback",
        "event_id": f"Ev{user}",
        "event_time": int(time.time()),
        "event": {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"},
    }
    assert bot.slack.post(json.dumps(event), content_type="application/json").status_code == 200


def parent_saying(slack: FakeSlack, words: str) -> Call:
    """The delivered parent whose message says `words` (waits for it)."""

    def found() -> Call | None:
        return next((c for c in delivered_parents(slack) if words in str(c.args)), None)

    wait_until(lambda: found() is not None)
    parent = found()
    assert parent is not None
    return parent


def test_alerts_threads_and_the_home_tab_show_hostile_text_as_text(
    monitored: Callable[..., RunningBot],
    fake_iak: FakeIak,
    clock: FakeClock,
    fake_slack: FakeSlack,
    registry: Registry,
    hostile: str,
) -> None:
    value = hostile
    hostile_price_lists(fake_iak, value)
    disputed = f"{value}c"
    # IAK cannot say at first, so the conflict is told before IAK's own check settles it.
    fake_iak.always(disputed, IakReply(503, raw=b"down"))
    bot = monitored(spike_min_failures=3)
    sent = Sent(fake_slack)
    # Transactions that will age out, failures of one rc that make a spike, and two
    # answers that disagree on one transaction's outcome (IAK's own check settles it).
    for n in range(3):
        report(bot, hostile_transaction(f"{value}p{n}", value, 0))
    for n in range(3):
        callback(bot, hostile_transaction(f"{value}f{n}", value, 2))
    report(bot, hostile_transaction(disputed, value, 2))
    callback(bot, hostile_transaction(disputed, value, 1))
    spike = parent_saying(fake_slack, "failures in the last")
    spike_ts = str(spike.answer["ts"])
    incident = buttons(spike)["incident_ack"]["value"]
    conflict_ts = str(parent_saying(fake_slack, "Conflicting outcomes").answer["ts"])
    fake_iak.always(
        disputed,
        IakReply(200, transaction(disputed, "success", product_code=value, customer_id=value)),
    )

    # Acknowledged, then acknowledged again by someone else; muted (this rc's future
    # incidents too), then unmuted.
    click(bot, "incident_ack", incident, user=LEAD, key="ack")
    wait_until(
        lambda: any(mentions_lead(c, "Acknowledged by") for c in edits_of(fake_slack, spike_ts))
    )
    click(bot, "incident_ack", incident, user="U0OPS0001", key="again")
    (again,) = fake_slack.wait_for_response("again")
    click(bot, "incident_mute", f"{incident}:1440:all", user=LEAD, key="mute", select=True)
    (muted,) = fake_slack.wait_for_response("mute")
    wait_until(lambda: any(mentions_lead(c, "WIB by") for c in edits_of(fake_slack, spike_ts)))
    open_home(bot, LEAD)
    (published,) = fake_slack.wait_for("views.publish")
    click(bot, "incident_mute", f"{incident}:0", user=LEAD, key="unmute", select=True)
    fake_slack.wait_for_response("unmute")

    # The spike resolves (a quiet window) while the transactions age out. The clock moves
    # on by less than the lease at a time (30 s, sent under only with 10 s to spare): a
    # minute a poll left the notifier a lease to send under only if it ran between a tick
    # and the next poll, which a loaded machine (or a tick made slower) often missed.
    clock.advance(minutes=16)
    pending = parent_saying(fake_slack, "pending too long")
    pending_ts = str(pending.answer["ts"])
    wait_until(
        lambda: any("Resolved" in str(c.args) for c in replies(fake_slack, spike_ts)),
        timeout=20,
        clock=clock,
        step=timedelta(seconds=10),
    )
    # They settle, failed with the same rc: the outcomes and the resolution in the thread.
    for n in range(3):
        callback(bot, hostile_transaction(f"{value}p{n}", value, 2))
    wait_until(
        lambda: any("Resolved" in str(c.args) for c in replies(fake_slack, pending_ts)),
        clock=clock,
    )
    wait_until(lambda: any("Resolved" in str(c.args) for c in edits_of(fake_slack, pending_ts)))
    wait_until(
        lambda: any("Settled" in str(c.args) for c in edits_of(fake_slack, conflict_ts)),
        clock=clock,
    )

    assert_nothing_leaks(sent, value, registry)
    rc = rc_of(value)
    assert shows(spike.args, rc) and rc in as_shown(spike.args["text"])
    assert shows(muted, rc)
    assert shows(published.args, rc)
    assert shows(pending.args, f"{value}p0")
    thread = replies(fake_slack, pending_ts)
    assert any(shows(reply.args, f"rc {rc}") for reply in thread)
    resolved = [r for r in replies(fake_slack, spike_ts) if "Resolved" in str(r.args)]
    assert resolved and shows(resolved[0].args, rc)
    conflict = parent_saying(fake_slack, "Conflicting outcomes")
    assert shows(conflict.args, disputed) and disputed in as_shown(conflict.args["text"])
    # The bot's own mentions still ping the people they name.
    assert any(mentions_lead(reply, "Acknowledged by") for reply in replies(fake_slack, spike_ts))
    assert any(f"<@{LEAD}> already acknowledged" in text for text in markup_texts(again))
    assert mentions_lead(published, "acknowledged by")
