"""`iak-bot digest`, `pending` and `stats` in the terminal: what the Slack cards say, read
straight from the database (no writer process), and `digest --post` into the fake Slack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings
from bot.registry import Registry
from bot.store.db import create_db_engine
from bot.store.transactions import TransactionStore
from tests.support.alerts import text_of
from tests.support.cli import clean_env, iak_bot
from tests.support.db import sqlite_copy
from tests.support.digest import seed_day
from tests.support.fakes.slack import FakeSlack
from tests.support.transactions import record_all, seen

# scenario tests: the bot runs whole, over loopback or as processes
pytestmark = pytest.mark.slow

# The digest of the seeded day as the terminal shows it: Slack's markup undone.
TERMINAL_FIGURES = (
    "Daily digest · Thu 3 Dec 2026\n=============================",
    "36 transactions · success rate 64.7% (7-day average 100.0%, ▼ 35.3 pts)",
    "✅ Success\n22\n❌ Failed\n12\n⏳ Pending\n2",
    "Top failure codes · 12 failures\n• 14 · INCORRECT DESTINATION NUMBER — 8 · Fix the input:",
    "• tsel10 — 4 of 10 failed (40.0%)\n• xld25000 — 5 of 22 failed (22.7%)",
    "3 opened · 1 resolved · median time to acknowledge 7 min (2 of 3 acknowledged)",
)


@pytest.fixture
def seeded(sqlite_template: Path, tmp_path: Path, registry: Registry) -> str:
    url = sqlite_copy(sqlite_template, tmp_path)
    engine = create_db_engine(url)
    seed_day(engine, registry)
    engine.dispose()
    return url


def test_digest_prints_a_day(seeded: str, tmp_path: Path) -> None:
    result = iak_bot(
        "digest", "--date", "2026-12-03", cwd=tmp_path, env=clean_env(DATABASE_URL=seeded)
    )
    assert result.returncode == 0, result.stderr
    for figure in TERMINAL_FIGURES:
        assert figure in result.stdout
    assert "*" not in result.stdout and "`" not in result.stdout
    assert "chart" not in result.stdout  # the picture is Slack's only


def test_an_indonesian_digest_writes_days_numbers_and_shares_the_indonesian_way(
    seeded: str, tmp_path: Path
) -> None:
    env = clean_env(DATABASE_URL=seeded, BOT_LANGUAGE="id")
    result = iak_bot("digest", "--date", "2026-12-03", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    shown = result.stdout
    assert "Kam 3 Des 2026" in shown  # not "Thu 3 Dec 2026"
    assert "64,7%" in shown and "100,0%" in shown  # not 64.7 % nor 64.7%
    assert "▼ 35,3 poin" in shown
    assert "WIB" in shown  # every time with its zone
    for english in ("Thu", "Dec", "64.7", " %", "Daily digest"):
        assert english not in shown, english


def test_digest_posts_with_its_chart(seeded: str, tmp_path: Path, fake_slack: FakeSlack) -> None:
    env = clean_env(
        DATABASE_URL=seeded,
        SLACK_BOT_TOKEN="xoxb-cli",
        SLACK_API_URL=fake_slack.api_url,
        OPS_CHANNEL="C0OPS",
    )
    result = iak_bot("digest", "--date", "2026-12-03", "--post", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "Posted the digest for 2026-12-03 to C0OPS." in result.stdout
    (posted,) = fake_slack.calls_to("chat.postMessage")
    assert posted.args["channel"] == "C0OPS"
    assert "Daily digest · Thu 3 Dec 2026" in text_of(posted)
    (upload,) = fake_slack.uploads()
    assert upload.args["content"].startswith(b"\x89PNG")
    (completed,) = fake_slack.calls_to("files.completeUploadExternal")
    assert completed.args["thread_ts"] == posted.answer["ts"]


def test_digest_post_says_when_the_chart_did_not_go_up(
    seeded: str, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    fake_slack.fail("files.getUploadURLExternal", "missing_scope")
    env = clean_env(
        DATABASE_URL=seeded,
        SLACK_BOT_TOKEN="xoxb-cli",
        SLACK_API_URL=fake_slack.api_url,
        OPS_CHANNEL="C0OPS",
    )
    result = iak_bot("digest", "--date", "2026-12-03", "--post", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "The chart did not go up (missing_scope)" in result.stdout
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_digest_refuses_a_bad_or_future_date_and_a_missing_database(tmp_path: Path) -> None:
    bad = iak_bot("digest", "--date", "3/12/2026", cwd=tmp_path)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
    future = iak_bot("digest", "--date", "2999-01-01", cwd=tmp_path)
    assert future.returncode == 2 and "has not begun yet" in future.stderr
    missing = iak_bot("digest", cwd=tmp_path)
    assert missing.returncode == 2 and "No database" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert not (tmp_path / "iak_bot.db").exists()  # no empty database left behind
    unposted = iak_bot("digest", "--post", cwd=tmp_path)
    assert unposted.returncode == 2 and "OPS_CHANNEL" in unposted.stderr


def test_pending_and_stats_print_what_slack_shows(
    sqlite_template: Path, tmp_path: Path, registry: Registry
) -> None:
    url = sqlite_copy(sqlite_template, tmp_path)
    engine = create_db_engine(url)
    # The command reads the real clock: the transactions happened just now.
    recent = datetime.now(UTC) - timedelta(minutes=20)
    record_all(
        TransactionStore(engine),
        [
            seen(registry, "late-1", recent - timedelta(hours=2)),
            seen(registry, "late-2", recent),
            seen(registry, "bad-1", recent, "failed", rc="14"),
            seen(registry, "bad-2", recent, "failed", rc="14"),
            seen(registry, "good-1", recent, "success"),
        ],
    )
    engine.dispose()
    env = clean_env(DATABASE_URL=url)

    pending = iak_bot("pending", cwd=tmp_path, env=env)
    assert pending.returncode == 0, pending.stderr
    assert "Pending transactions\n====" in pending.stdout
    assert "2 pending, oldest first (all shown)" in pending.stdout
    assert pending.stdout.index("late-1") < pending.stdout.index("late-2")
    assert "08***215" in pending.stdout and "0817777215" not in pending.stdout

    stats = iak_bot("stats", "1h", cwd=tmp_path, env=env)
    assert stats.returncode == 0, stats.stderr
    assert "IAK transactions, last 1 h" in stats.stdout
    assert "4 transactions in the last 1 h" in stats.stdout  # late-1 is older
    assert "14 · INCORRECT DESTINATION NUMBER (prepaid) — 2 (100 % of failures)" in stats.stdout
    week = iak_bot("stats", "7d", cwd=tmp_path, env=env)
    assert "5 transactions in the last 7 d" in week.stdout
    wrong = iak_bot("stats", "2h", cwd=tmp_path, env=env)
    assert wrong.returncode == 2 and "1h" in wrong.stderr


def test_digest_time_is_a_wib_clock_time_or_empty() -> None:
    def settings(value: str) -> Settings:
        return load_settings(_env_file=None, digest_time=value)

    assert settings("8:30").digest_time is not None
    assert str(settings("08:00").digest_time) == "08:00:00"
    assert settings("").digest_time is None
    for wrong in ("24:00", "8", "08:00 WIB", "eight"):
        with pytest.raises(ConfigError, match="DIGEST_TIME"):
            settings(wrong)
