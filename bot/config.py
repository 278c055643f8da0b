"""Settings, read from the environment (and `.env`), validated once."""

from __future__ import annotations

import ipaddress
import re
from datetime import time
from typing import Annotated, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

IAK_BASE_URLS = {
    "development": "https://prepaid.iak.dev",
    "production": "https://prepaid.iak.id",
}
# IAK's postpaid (bill payment) API lives on other hosts than the prepaid one.
IAK_POSTPAID_BASE_URLS = {
    "development": "https://testpostpaid.mobilepulsa.net",
    "production": "https://mobilepulsa.net",
}
# Where IAK's documentation says its callbacks come from.
IAK_CALLBACK_IPS = {
    "development": "52.76.169.212",
    "production": "52.220.38.194",
}


_CLOCK_TIME = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


class ConfigError(Exception):
    """A setting is missing or unusable; the message names each variable and what it should hold."""


class DatabaseUnreachable(ConfigError):
    """The database did not answer: down, restarting, or not there yet. Unlike a schema
    that does not fit, `serve` outlives it (503 until it is back)."""


def _network(entry: str) -> None:
    """Refuse an entry that is not an IP address or a network, naming it."""
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        raise ValueError(
            f"{entry!r} is not an IP address or network (e.g. 52.220.38.194 or 10.0.0.0/8)"
        ) from None


# A Slack user group (S…) or a user (U…, W… on Enterprise Grid), as ONCALL_MENTION lists them.
_ONCALL_ID = re.compile(r"[SUW][A-Z0-9]{2,20}")


def _split_ids(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every setting of the bot; `.env.example` and docs/configuration.md say what each means."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    ops_channel: str | None = None

    iak_username: str | None = None
    iak_api_key: str | None = None
    iak_env: Literal["development", "production"] = "development"
    iak_base_url: str | None = None
    iak_postpaid_base_url: str | None = None

    database_url: str = "sqlite:///iak_bot.db"
    port: int = Field(default=3000, ge=1, le=65535)
    web_concurrency: int = Field(default=1, ge=1, le=64)
    ingest_token: str | None = None

    monitor_enabled: bool = True
    monitor_interval_seconds: float = Field(default=30, gt=0)
    # How long the monitor's leader holds its lease without renewing it: a standby takes
    # over after this, and a leader that stalls longer stops posting. None: three ticks.
    monitor_lease_seconds: float | None = Field(default=None, gt=0)
    pending_age_out_seconds: float = Field(default=900, gt=0)
    spike_window_seconds: float = Field(default=300, gt=0)
    spike_min_failures: int = Field(default=10, ge=1)
    spike_factor: float = Field(default=3, gt=0)
    success_rate_window_seconds: float = Field(default=900, gt=0)
    success_rate_min_transactions: int = Field(default=20, ge=1)
    success_rate_drop_points: float = Field(default=15, gt=0, le=100)
    slow_delivery_factor: float = Field(default=5, gt=1)
    low_balance_threshold: int | None = Field(default=None, ge=0)
    mask_customer_id: bool = True
    # WIB time of the daily digest in OPS_CHANNEL; None (empty) turns it off
    digest_time: time | None = time(8, 0)
    # WIB times at which the shift handover is posted to OPS_CHANNEL (08:00,16:00,00:00)
    handover_times: Annotated[tuple[time, ...], NoDecode] = ()
    # Slack user group (S…) and/or user IDs (U…) told of sales-stopping incidents and
    # escalations.
    oncall_mention: Annotated[list[str], NoDecode] = Field(default_factory=list)
    escalate_after_seconds: float = Field(default=900, gt=0)
    # None: on in production, off in development (the sandbox calls back only by hand).
    callback_health: bool | None = None
    # Final transactions, their history and resolved incidents older than this many days are
    # deleted by the monitor's leader (bot.store.retention); 0 keeps everything.
    retention_days: int = Field(default=90, ge=0)

    callback_allowed_ips: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Proxies whose X-Forwarded-For is believed (uvicorn's convention; "*": any, behind a
    # platform router that always appends the caller's address).
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1"]
    )
    allowed_channels: Annotated[list[str], NoDecode] = Field(default_factory=list)
    allowed_users: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # who may mute and unmute incidents (and codes); empty: ALLOWED_USERS, else everyone
    admin_users: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # bearer token for GET /metrics (unset: no such route); Sentry's DSN for unhandled errors
    metrics_token: str | None = None
    sentry_dsn: str | None = None

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    # Channel messages (alerts) are written in it; ephemeral answers follow the asker's
    # Slack locale when it is one of these, else fall back to it.
    bot_language: Literal["en", "id"] = "en"

    @field_validator(
        "callback_allowed_ips",
        "forwarded_allow_ips",
        "allowed_channels",
        "allowed_users",
        "admin_users",
        "oncall_mention",
        mode="before",
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_ids(value)

    @field_validator("monitor_lease_seconds")
    @classmethod
    def _lease_outlasts_ticks(cls, value: float | None, info: ValidationInfo) -> float | None:
        interval = info.data.get("monitor_interval_seconds")
        if value is not None and interval is not None and value < 2 * interval:
            raise ValueError(
                f"must be at least twice MONITOR_INTERVAL_SECONDS ({interval:g} s): the "
                "leader renews its lease once a tick and must be able to miss one"
            )
        return value

    @field_validator("callback_allowed_ips")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            _network(entry)
        return value

    @field_validator("oncall_mention")
    @classmethod
    def _oncall_ids(cls, value: list[str]) -> list[str]:
        for entry in value:
            if not _ONCALL_ID.fullmatch(entry):
                raise ValueError(
                    f"{entry!r} is not a Slack user group ID (S0123ABCD) or user ID "
                    "(U0123ABCD); give one group, or user IDs separated by commas"
                )
        return value

    @field_validator("callback_health", mode="before")
    @classmethod
    def _blank_is_automatic(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            if entry != "*":
                _network(entry)
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", "iak_env", "bot_language", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "ops_channel",
        "iak_username",
        "iak_api_key",
        "iak_base_url",
        "iak_postpaid_base_url",
        "ingest_token",
        "metrics_token",
        "sentry_dsn",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @field_validator("low_balance_threshold", mode="before")
    @classmethod
    def _blank_threshold_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("digest_time", mode="before")
    @classmethod
    def _digest_time(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        value = value.strip()
        if not value:
            return None
        found = _CLOCK_TIME.fullmatch(value)
        if found is None:
            raise ValueError("must be a WIB time as HH:MM (e.g. 08:00), or empty to turn it off")
        return time(int(found[1]), int(found[2]))

    @field_validator("handover_times", mode="before")
    @classmethod
    def _handover_times(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        slots = []
        for part in value.split(","):
            if not part.strip():
                continue
            found = _CLOCK_TIME.fullmatch(part.strip())
            if found is None:
                raise ValueError(
                    "must be WIB times as HH:MM separated by commas (e.g. 08:00,16:00,00:00), "
                    f"not {part.strip()[:20]!r}"
                )
            slots.append(time(int(found[1]), int(found[2])))
        if len(slots) > 24:
            raise ValueError("at most 24 handover times")
        return tuple(sorted(set(slots)))

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_slash(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("iak_base_url")
    @classmethod
    def _base_url_shape(cls, value: str | None) -> str | None:
        return _base_url(value, example=IAK_BASE_URLS["production"])

    @field_validator("iak_postpaid_base_url")
    @classmethod
    def _postpaid_base_url_shape(cls, value: str | None) -> str | None:
        return _base_url(value, example=IAK_POSTPAID_BASE_URLS["production"])

    @field_validator("sentry_dsn")
    @classmethod
    def _sentry_dsn_shape(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith(("http://", "https://")) and "@" in value):
            raise ValueError("must be a Sentry DSN such as https://key@o1.ingest.sentry.io/1")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_dialect(cls, value: str) -> str:
        value = value.strip()
        # Heroku writes postgres://; SQLAlchemy 2 wants an explicit dialect and driver.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        if not value.startswith(("sqlite:", "postgresql+")):
            raise ValueError("must be sqlite:///path.db or a postgres:// URL")
        return value

    @property
    def iak_url(self) -> str:
        """The IAK prepaid API base URL in effect."""
        return self.iak_base_url or IAK_BASE_URLS[self.iak_env]

    @property
    def watch_callbacks(self) -> bool:
        """Whether the monitor watches for IAK's callbacks missing or refused."""
        if self.callback_health is not None:
            return self.callback_health
        return self.iak_env == "production"

    @property
    def iak_postpaid_url(self) -> str:
        """The IAK postpaid API base URL in effect."""
        return self.iak_postpaid_base_url or IAK_POSTPAID_BASE_URLS[self.iak_env]

    def require(self, *names: str, why: str) -> None:
        """Stop with one message naming every listed setting that is unset."""
        missing = [name for name in names if getattr(self, name) in (None, "")]
        if missing:
            lines = [f"Missing setting(s) needed {why}:"]
            lines += [f"  {name.upper()}: {SETTING_HELP[name]}" for name in missing]
            lines.append("Set them in the environment or in a .env file; see .env.example.")
            raise ConfigError("\n".join(lines))


def _base_url(value: str | None, *, example: str) -> str | None:
    """An http(s) base URL without its trailing slash (None stays unset)."""
    if value is None:
        return None
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"must be an http(s) URL such as {example}")
    return value.rstrip("/")


# What each setting should hold, for error messages (kept next to the fields they describe).
SETTING_HELP: dict[str, str] = {
    "slack_bot_token": "the bot token, xoxb-… (Slack app → OAuth & Permissions)",
    "slack_signing_secret": "the signing secret (Slack app → Basic Information)",
    "slack_app_token": "an app-level token, xapp-…, with connections:write (Socket Mode)",
    "ops_channel": "the channel ID that receives alerts, e.g. C0123456789",
    "iak_username": "your IAK username (the registered phone number)",
    "iak_api_key": "your IAK API key (development or production, matching IAK_ENV)",
    "ingest_token": "a long random bearer token for POST /transactions",
    "metrics_token": "a long random bearer token for GET /metrics",
}


def required_for_slack(settings: Settings, *, socket_mode: bool = False) -> None:
    """Stop early when settings the Slack-facing commands need are missing."""
    if socket_mode:
        settings.require(
            "slack_bot_token", "slack_app_token", why="for Socket Mode (iak-bot socket)"
        )
    else:
        settings.require(
            "slack_bot_token", "slack_signing_secret", why="to receive Slack requests (serve)"
        )


def load_settings(**overrides: object) -> Settings:
    """Read Settings from the environment; turn validation errors into a readable ConfigError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = ["Invalid setting(s):"]
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]).upper()
            value = error.get("input")
            shown = "" if _is_secret(name) or isinstance(value, dict) else f" (got {value!r})"
            lines.append(f"  {name}: {error['msg']}{shown}")
        lines.append("Fix them in the environment or in .env; see .env.example.")
        raise ConfigError("\n".join(lines)) from None


def _is_secret(name: str) -> bool:
    return any(word in name for word in ("TOKEN", "SECRET", "KEY", "DATABASE_URL", "DSN"))
