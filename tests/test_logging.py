"""Logs: one line per event with a request id, and never a secret or a customer number."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.logs import Redactor, secrets_of, setup_logging
from tests.support.bot import RunningBot
from tests.support.cli import clean_env, free_port, iak_bot
from tests.support.fakes.iak import FakeIak, IakReply, transaction
from tests.support.fakes.slack import FakeSlack
from tests.support.processes import serving
from tests.support.slack_requests import SlackSender

# scenario tests: the bot runs whole, over loopback or as processes
pytestmark = pytest.mark.slow

BOT_TOKEN = "xoxb-1111-2222-secrettokenvalue"
SIGNING_SECRET = "signing-secret-9f8e7d6c5b4a"
API_KEY = "iak-api-key-0a1b2c3d4e5f"
USERNAME = "082210138584"
INGEST = "ingest-token-zyxwvutsrq"
CUSTOMER = "081234567890"


def test_redactor_masks_secrets_signs_and_numbers() -> None:
    redact = Redactor({"IAK_API_KEY": API_KEY, "SHORT": "abc"})
    sign = hashlib.md5(b"x").hexdigest()
    line = redact(f"key={API_KEY} sign={sign} hp={CUSTOMER} token=1234-5678-9012-3456-7890 tr=3482")
    assert API_KEY not in line and "[IAK_API_KEY]" in line
    assert sign not in line and "[sign]" in line
    assert CUSTOMER not in line and "081***890" in line
    assert "5678" not in line
    assert "tr=3482" in line  # short numbers are not customer data
    stamp = "2026-11-28 04:53:50,078 took 1234567.5 ms"
    assert redact(stamp) == stamp  # dates, times and durations are not either
    assert "abc" not in redact.__dict__["_secrets"].__repr__()  # too short to be a secret


def test_json_lines_carry_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.logs import request_id

    settings = Settings(_env_file=None, log_format="json", iak_api_key=API_KEY)  # type: ignore[call-arg]
    setup_logging(settings)
    token = request_id.set("req-42")
    try:
        logging.getLogger("bot.test").warning("calling IAK with %s", API_KEY)
    finally:
        request_id.reset(token)
        logging.getLogger().handlers.clear()
    (line,) = capsys.readouterr().err.strip().splitlines()
    entry = json.loads(line)
    assert entry["request_id"] == "req-42"
    assert entry["message"] == "calling IAK with [IAK_API_KEY]"
    assert set(secrets_of(settings)) >= {"IAK_API_KEY"}


def test_a_full_scenario_logs_no_secret(tmp_path: Path) -> None:
    """serve at DEBUG, in JSON: slash commands, a live status check, callbacks, ingest and an
    alert; then every secret and the customer number are searched for in the log."""
    with FakeSlack() as slack, FakeIak(USERNAME, API_KEY) as iak:
        port = free_port()
        env = clean_env(
            PORT=str(port),
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack.api_url,
            IAK_USERNAME=USERNAME,
            IAK_API_KEY=API_KEY,
            IAK_BASE_URL=iak.url,
            INGEST_TOKEN=INGEST,
            OPS_CHANNEL="C0ALERTS",
            MONITOR_INTERVAL_SECONDS="0.2",
            LOG_LEVEL="DEBUG",
            LOG_FORMAT="json",
        )
        assert iak_bot("migrate", cwd=tmp_path, env=env).returncode == 0
        with serving(env, tmp_path) as served:
            url, log_path = served.url, served.log
            signs: list[str] = []
            sender = SlackSender(url, SIGNING_SECRET, slack.base_url + "/response")
            assert sender.command("code 17").status_code == 200
            iak.always("logs1", IakReply(200, transaction("logs1", customer_id=CUSTOMER)))
            assert sender.command("status logs1", response_key="st").status_code == 200
            slack.wait_for_response("st")
            # another person: one person's checks at IAK share a cooldown
            balance = sender.command("balance", user_id="U0OPS0002", response_key="bal")
            assert balance.status_code == 200
            slack.wait_for_response("bal")
            for ref_id, rc in (("logs2", "102"), ("logs3", "00")):
                sign = hashlib.md5(f"{USERNAME}{API_KEY}{ref_id}".encode()).hexdigest()
                signs.append(sign)
                data = {
                    "ref_id": ref_id,
                    "status": "2" if rc != "00" else "1",
                    "rc": rc,
                    "customer_id": CUSTOMER,
                    "sign": sign,
                }
                assert httpx.post(url + "/iak/callback", json={"data": data}).status_code == 200
            bad = {"data": {"ref_id": "logs4", "sign": "0" * 32, "customer_id": CUSTOMER}}
            assert httpx.post(url + "/iak/callback", json=bad).status_code == 401
            ingest = {"data": {"ref_id": "logs5", "status": 0, "rc": "39", "customer_id": CUSTOMER}}
            headers = {"Authorization": f"Bearer {INGEST}"}
            assert (
                httpx.post(url + "/transactions", json=ingest, headers=headers).status_code == 200
            )
            wrong = {"Authorization": "Bearer " + INGEST[:-1]}
            assert httpx.post(url + "/transactions", json=ingest, headers=wrong).status_code == 401
            slack.wait_for("chat.postMessage", 1, timeout=10)  # the 102 alert
            sender.close()
        text = log_path.read_text()
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) > 10
    for line in lines:
        json.loads(line)  # one JSON object per line, tracebacks included
    for secret in (BOT_TOKEN, SIGNING_SECRET, API_KEY, INGEST, CUSTOMER, *signs):
        assert secret not in text, f"{secret[:6]}… appears in the log"
    requests = [json.loads(line) for line in lines if '"POST /' in line]
    assert requests and all(entry["request_id"] not in (None, "-") for entry in requests)


def test_text_lines_carry_no_control_character(tmp_path: Path) -> None:
    """A request path with CR and escape sequences (percent-encoded, decoded by the server)
    is logged without them: it can neither fake a line nor drive the reader's terminal."""
    with FakeSlack() as slack:
        port = free_port()
        env = clean_env(
            PORT=str(port),
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack.api_url,
            MONITOR_ENABLED="false",
            LOG_FORMAT="text",
        )
        assert iak_bot("migrate", cwd=tmp_path, env=env).returncode == 0
        with serving(env, tmp_path) as served:
            url, log_path = served.url, served.log
            path = "/nope%0d2026-01-01 00:00:00,000 INFO fake%1b%5b2J%1b%5d0%3btitle%07%c2%9b"
            assert httpx.get(url + path).status_code == 404
        text = log_path.read_text()
    (line,) = [line for line in text.splitlines() if "/nope" in line]
    assert "/nope2026-01-01 00:00:00,000 INFO fake[2J]0;title 404" in line
    for control in ("\r", "\x1b", "\x07", "\x9b"):
        assert control not in text, repr(control)


def test_the_request_line_says_how_long_the_request_queued(
    start_bot: Callable[..., RunningBot], caplog: pytest.LogCaptureFixture
) -> None:
    """The router's X-Request-Start (ms on Heroku; seconds or µs after `t=` elsewhere) says
    when the request arrived: the line tells how long it waited for its handler."""
    bot = start_bot()
    caplog.set_level(logging.INFO, logger="bot.web")
    arrived = time.time() - 0.25
    stamps = [f"{arrived * 1000:.0f}", f"t={arrived:.3f}", f"t={arrived * 1e6:.0f}"]
    for stamp in [*stamps, "garbage", None]:
        headers = {"X-Request-Start": stamp} if stamp else {}
        assert httpx.get(bot.url + "/healthz", headers=headers).status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("GET /healthz")]
    assert len(lines) == 5, lines
    waits = [float(m.group(1)) for line in lines if (m := re.search(r"queued ([\d.]+) ms", line))]
    assert len(waits) == 3, lines
    assert all(250 <= wait < 10_000 for wait in waits), waits


def test_a_postgres_error_logs_no_row_values() -> None:
    """Postgres puts the row's values in an error's DETAIL ("Failing row contains (…)",
    "Key (…)=(…)"): hide_parameters keeps them out of the SQL, the redaction out of the
    DETAIL, whatever they are (a voucher code has letters, so no digit rule catches it)."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from bot.store.db import create_db_engine
    from tests.support.db import TEST_DATABASE_URL, postgres_schema

    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    with postgres_schema() as url:
        engine = create_db_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(text("CREATE TABLE t (code text PRIMARY KEY, sn text NOT NULL)"))
                connection.execute(text("INSERT INTO t VALUES ('VOUCHER-ABC-XYZ', 'x')"))
            errors = []
            # the bot binds every value: hide_parameters keeps them out of [SQL: …]
            for row in ({"code": "VOUCHER-ABC-XYZ", "sn": "y"}, {"code": "SECRET-PIN-QWERTY"}):
                with pytest.raises(IntegrityError) as failed, engine.begin() as connection:
                    connection.execute(
                        text("INSERT INTO t VALUES (:code, :sn)"), {"sn": None, **row}
                    )
                errors.append(str(failed.value))
        finally:
            engine.dispose()
    assert all("DETAIL" in error for error in errors)  # Postgres did say which row
    logged = [Redactor({})(error) for error in errors]
    for line in logged:
        assert "VOUCHER-ABC-XYZ" not in line and "SECRET-PIN-QWERTY" not in line, line
