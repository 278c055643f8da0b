"""Settings: defaults, Heroku's spellings, and errors that name the variable."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings, load_settings


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_defaults_follow_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "PORT", "IAK_ENV", "MONITOR_ENABLED", "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    settings = make()
    assert settings.database_url == "sqlite:///iak_bot.db"
    assert settings.port == 3000
    assert settings.web_concurrency == 1
    assert settings.iak_url == "https://prepaid.iak.dev"
    assert settings.iak_postpaid_url == "https://testpostpaid.mobilepulsa.net"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.monitor_enabled is True
    assert settings.monitor_interval_seconds == 30
    assert settings.pending_age_out_seconds == 900
    assert settings.spike_window_seconds == 300
    assert settings.spike_min_failures == 10
    assert settings.spike_factor == 3
    assert settings.low_balance_threshold is None
    assert settings.mask_customer_id is True
    assert settings.allowed_users == []
    assert settings.log_level == "INFO"
    assert settings.log_format == "text"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@host:5432/db", "postgresql+psycopg://u:p@host:5432/db"),
        ("postgresql://u@host/db", "postgresql+psycopg://u@host/db"),
        ("postgresql+psycopg://u@host/db", "postgresql+psycopg://u@host/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_database_url_accepts_herokus_spelling(given: str, expected: str) -> None:
    assert make(database_url=given).database_url == expected


def test_environment_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IAK_ENV", "Production")
    monkeypatch.setenv("ALLOWED_USERS", " U1, U2 ,,")
    monkeypatch.setenv("CALLBACK_ALLOWED_IPS", "52.220.38.194")
    monkeypatch.setenv("LOW_BALANCE_THRESHOLD", "")
    monkeypatch.setenv("OPS_CHANNEL", "  ")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    settings = make()
    assert settings.iak_url == "https://prepaid.iak.id"
    assert settings.iak_postpaid_url == "https://mobilepulsa.net"
    assert settings.allowed_users == ["U1", "U2"]
    assert settings.callback_allowed_ips == ["52.220.38.194"]
    assert settings.low_balance_threshold is None
    assert settings.ops_channel is None
    assert settings.log_level == "DEBUG"
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"


def test_iak_base_url_overrides_the_environment() -> None:
    assert make(iak_base_url="http://127.0.0.1:8080/").iak_url == "http://127.0.0.1:8080"


def test_the_postpaid_base_url_is_set_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IAK_ENV", "production")
    monkeypatch.setenv("IAK_BASE_URL", "http://127.0.0.1:8080")
    monkeypatch.setenv("IAK_POSTPAID_BASE_URL", " http://127.0.0.1:8081/ ")
    settings = make()
    assert settings.iak_url == "http://127.0.0.1:8080"
    assert settings.iak_postpaid_url == "http://127.0.0.1:8081"
    monkeypatch.setenv("IAK_POSTPAID_BASE_URL", "")
    assert make().iak_postpaid_url == "https://mobilepulsa.net"


def test_a_postpaid_base_url_that_is_not_a_url_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IAK_POSTPAID_BASE_URL", "mobilepulsa.net")
    monkeypatch.chdir("/")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "IAK_POSTPAID_BASE_URL" in message
    assert "https://mobilepulsa.net" in message


def test_invalid_values_name_the_variable_but_not_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-user-token-secret")
    monkeypatch.setenv("PORT", "eighty")
    monkeypatch.chdir("/")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "SLACK_BOT_TOKEN" in message and "xoxb-" in message
    assert "xoxp-user-token-secret" not in message
    assert "PORT" in message and "'eighty'" in message
    assert ".env.example" in message


def test_require_names_every_missing_setting() -> None:
    with pytest.raises(ConfigError) as caught:
        make(slack_signing_secret="s").require(
            "slack_bot_token", "slack_signing_secret", "iak_api_key", why="to test"
        )
    message = str(caught.value)
    assert "SLACK_BOT_TOKEN" in message
    assert "IAK_API_KEY" in message
    assert "SLACK_SIGNING_SECRET" not in message
    assert ".env.example" in message


def test_oncall_and_callback_health_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IAK_ENV", "ONCALL_MENTION", "ESCALATE_AFTER_SECONDS", "CALLBACK_HEALTH"):
        monkeypatch.delenv(name, raising=False)
    settings = make()
    assert settings.oncall_mention == []
    assert settings.escalate_after_seconds == 900
    assert settings.watch_callbacks is False  # the sandbox calls back only by hand
    assert make(iak_env="production").watch_callbacks is True
    monkeypatch.setenv("IAK_ENV", "production")
    monkeypatch.setenv("CALLBACK_HEALTH", "off")
    assert load_settings().watch_callbacks is False
    monkeypatch.setenv("IAK_ENV", "development")
    monkeypatch.setenv("CALLBACK_HEALTH", "on")
    assert load_settings().watch_callbacks is True
    monkeypatch.setenv("ONCALL_MENTION", " U0ALICE, W0BOB ")
    assert load_settings().oncall_mention == ["U0ALICE", "W0BOB"]
    monkeypatch.setenv("ONCALL_MENTION", "S0ONCALL")
    assert load_settings().oncall_mention == ["S0ONCALL"]


def test_a_lease_shorter_than_two_ticks_is_refused_clearly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MONITOR_INTERVAL_SECONDS", "30")
    monkeypatch.setenv("MONITOR_LEASE_SECONDS", "45")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "MONITOR_LEASE_SECONDS: Value error, must be at least twice" in str(caught.value)
    assert "MONITOR_INTERVAL_SECONDS (30 s)" in str(caught.value)
    monkeypatch.setenv("MONITOR_LEASE_SECONDS", "60")
    assert load_settings().monitor_lease_seconds == 60


@pytest.mark.parametrize("given", ["@oncall", "<!subteam^S0ONCALL>", "U0ALICE,#ops", "s0oncall"])
def test_an_oncall_mention_that_is_not_slack_ids_is_refused_clearly(
    monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.setenv("ONCALL_MENTION", given)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "ONCALL_MENTION" in str(caught.value)
    assert "is not a Slack user group ID (S0123ABCD) or user ID (U0123ABCD)" in str(caught.value)
