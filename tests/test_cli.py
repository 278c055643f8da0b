"""`iak-bot …` as a user runs it: real processes, real output, exit codes."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.bot import SIGNING_SECRET
from tests.support.cli import clean_env, free_port, iak_bot
from tests.support.fakes.slack import FakeSlack
from tests.support.processes import wait_healthy
from tests.support.slack_requests import SlackSender

# scenario tests: the bot runs whole, over loopback or as processes
pytestmark = pytest.mark.slow


def test_code_prints_the_card_offline(tmp_path: Path) -> None:
    # a real process, as a user starts it (the other command tests call the same main here)
    env = clean_env(SLACK_API_URL="http://127.0.0.1:9/")
    result = iak_bot("code", "17", cwd=tmp_path, env=env, process=True)
    assert result.returncode == 0, result.stderr
    assert "17 · INSUFFICIENT DEPOSIT" in result.stdout
    assert "Top up the deposit" in result.stdout
    assert "\033[" not in result.stdout  # not a terminal: no colour codes


def test_code_normalises_and_searches(tmp_path: Path) -> None:
    assert "06 · TRANSACTION NOT FOUND" in iak_bot("code", "6", cwd=tmp_path).stdout
    found = iak_bot("code", "deposit", cwd=tmp_path).stdout
    assert found.index("Prepaid 17 INSUFFICIENT DEPOSIT") < found.index(
        "Postpaid 17 BALANCE NOT ENOUGH"
    )


@pytest.mark.parametrize("prefix", ["postpaid", "pp"])
def test_code_prints_the_postpaid_card(tmp_path: Path, prefix: str) -> None:
    result = iak_bot("code", prefix, "11", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Postpaid 11 · DUPLICATE REF ID\n")
    assert "The ref_id that you’ve inputted is already been inputted" in result.stdout
    assert "[Share in channel]" not in result.stdout  # nothing to share in a terminal


def test_code_says_what_the_same_number_means_in_the_other_table(tmp_path: Path) -> None:
    printed = " ".join(iak_bot("code", "06", cwd=tmp_path).stdout.split())
    assert printed.startswith("06 · TRANSACTION NOT FOUND")
    assert "In IAK's postpaid table, 06 means something else: INQUIRY ID NOT FOUND" in printed


def test_code_118_says_where_it_comes_from(tmp_path: Path) -> None:
    printed = " ".join(iak_bot("code", "118", cwd=tmp_path).stdout.split())
    assert printed.startswith("118 · ACCOUNT SUSPENDED")
    assert "🚨 Stops all sales" in printed
    assert "From IAK's reference documentation (added after the published table)." in printed


def test_unknown_code_exits_1_with_an_answer(tmp_path: Path) -> None:
    result = iak_bot("code", "22", cwd=tmp_path)
    assert result.returncode == 1
    assert "not a known IAK code" in result.stdout
    assert "Traceback" not in result.stderr
    postpaid = iak_bot("code", "pp", "99", cwd=tmp_path)
    assert postpaid.returncode == 1
    assert "not a known IAK postpaid code" in postpaid.stdout


def test_code_without_a_code_says_how(tmp_path: Path) -> None:
    result = iak_bot("code", "pp", cwd=tmp_path)
    assert result.returncode == 2
    assert "iak-bot code pp 11" in result.stderr


@pytest.mark.parametrize("command", ["serve", "socket"])
def test_missing_settings_are_named_without_a_traceback(tmp_path: Path, command: str) -> None:
    result = iak_bot(command, cwd=tmp_path)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr
    assert ".env.example" in result.stderr
    assert "Traceback" not in result.stderr
    if command == "serve":
        assert "SLACK_SIGNING_SECRET" in result.stderr
    else:
        assert "SLACK_APP_TOKEN" in result.stderr


def test_settings_are_read_from_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=not-a-bot-token\n", "utf-8")
    result = iak_bot("serve", cwd=tmp_path)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr and "xoxb-" in result.stderr
    assert "not-a-bot-token" not in result.stderr


def test_manifest_for_a_host(tmp_path: Path) -> None:
    result = iak_bot("manifest", "--url", "https://iak-bot.example.com/", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    manifest = yaml.safe_load(result.stdout)
    command = manifest["features"]["slash_commands"][0]
    assert command["url"] == "https://iak-bot.example.com/slack/events"
    refused = iak_bot("manifest", "--url", "http://iak-bot.example.com", cwd=tmp_path)
    assert refused.returncode == 2
    assert "https://" in refused.stderr


def test_migrate_is_safe_to_run(tmp_path: Path) -> None:
    first = iak_bot("migrate", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "migrated from schema none" in first.stdout
    assert (tmp_path / "iak_bot.db").exists()  # the default DATABASE_URL
    again = iak_bot("migrate", cwd=tmp_path)
    assert again.returncode == 0
    assert "up to date" in again.stdout


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_refuses_an_unmigrated_database(tmp_path: Path, workers: str) -> None:
    """With several workers the supervising process checks from a child of its own (it
    stays small), and says the same."""
    env = clean_env(SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET="s", WEB_CONCURRENCY=workers)
    result = iak_bot("serve", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "iak-bot migrate" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_names_an_unreachable_database(tmp_path: Path) -> None:
    env = clean_env(DATABASE_URL="postgres://bot:hunter2@127.0.0.1:1/iak")
    result = iak_bot("migrate", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, FakeSlack]]:
    with FakeSlack() as fake:
        port = free_port()
        env = clean_env(
            PORT=str(port),
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake.api_url,
            MONITOR_ENABLED="false",
        )
        assert iak_bot("migrate", cwd=tmp_path, env=env).returncode == 0
        log = (tmp_path / "serve.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, process, tmp_path / "serve.log")
            yield process, url, fake
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(10)
            log.close()


def test_serve_answers_slack_on_port_and_stops_on_sigterm(
    serve_process: tuple[subprocess.Popen[str], str, FakeSlack],
) -> None:
    process, url, fake = serve_process
    sender = SlackSender(url, SIGNING_SECRET, fake.base_url + "/response")
    try:
        answer = sender.command("code 102")
        assert answer.status_code == 200
        assert answer.json()["blocks"][0]["text"]["text"] == "102 · INVALID IP ADDRESS"
        assert sender.post(sender.command_body("code 17"), signature="v0=bad").status_code == 401
    finally:
        sender.close()
    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status says why.
    assert process.wait(15) in (0, -signal.SIGTERM)


@pytest.mark.parametrize("variable", ["CALLBACK_ALLOWED_IPS", "FORWARDED_ALLOW_IPS"])
def test_a_bad_address_stops_start_up_naming_the_variable_and_the_entry(
    tmp_path: Path, variable: str
) -> None:
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-x",
        SLACK_SIGNING_SECRET="s",
        **{variable: "52.220.38.194, 52.220.38.999"},
    )
    result = iak_bot("serve", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert variable in result.stderr and "52.220.38.999" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args", [("code", "x" * 101), ("product", *["telkomsel"] * 9), ("product", "x" * 4000)]
)
def test_a_search_too_long_is_refused_with_the_limits(tmp_path: Path, args: tuple[str]) -> None:
    result = iak_bot(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert "too long to search" in result.stderr
    assert "100 characters and 8 words" in result.stderr
    assert result.stdout == ""
