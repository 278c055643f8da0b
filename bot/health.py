"""What /healthz (and the Home tab) say of the bot beyond the database: the monitor, the
outbox, Slack errors, and settings that leave something open."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, Field

from bot.config import Settings
from bot.services import Services
from bot.store.retention import last_run


class Alerting(Protocol):
    """What health asks of this process's alerting (`bot.slack.alerts.alerting`)."""

    @property
    def leads(self) -> bool:
        """Whether this process holds the monitor's lease."""

    @property
    def slack_errors(self) -> dict[str, str]:
        """Channels Slack refuses alerts to, and why."""


class MonitorHealth(BaseModel):
    """Whether the monitor runs here, which process leads it, and when it last ticked."""

    enabled: bool
    this_process_leads: bool
    leader: str | None = Field(None, description="the lease holder, while its lease holds")
    last_tick_at: str | None = Field(None, description="ISO 8601")
    last_tick_age_seconds: float | None = None


class LastFailure(BaseModel):
    at: str = Field(description="ISO 8601")
    error: str | None


class OutboxHealth(BaseModel):
    """Alerts not yet delivered to Slack, and those that never will be."""

    backlog: int = 0
    oldest_undelivered_age_seconds: float | None = None
    # rows that could never be delivered (logged when they failed)
    failed: int = 0
    # rows Slack kept answering with a retryable error, dropped so they hold nothing back
    # (logged when given up)
    given_up: int = 0
    last_failure: LastFailure | None = None


class RetentionHealth(BaseModel):
    """RETENTION_DAYS and what the leader's last retention run did."""

    days: int
    last_run_at: str | None = Field(None, description="ISO 8601")
    last_run_deleted: int | None = Field(None, description="rows, every table together")
    last_run_blanked: int | None = Field(None, description="history rows blanked")


class HealthReport(BaseModel):
    """What /healthz tells (to whoever has the token) and the Home tab shows."""

    monitor: MonitorHealth
    outbox: OutboxHealth
    retention: RetentionHealth | None = None
    slack_errors: dict[str, str] = Field(
        default_factory=dict,
        description="channels whose alerts stopped on a permanent Slack error, and the error",
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="settings that work but leave something open, e.g. callbacks",
    )


class Health(BaseModel):
    """The /healthz answer: whether the bot can serve; with the token, the report too."""

    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable"] | None = None
    monitor: MonitorHealth | None = None
    outbox: OutboxHealth | None = None
    retention: RetentionHealth | None = None
    slack_errors: dict[str, str] | None = None
    warnings: list[str] | None = None


def health_report(services: Services, alerting: Alerting | None) -> HealthReport:
    """What /healthz tells beyond the database: the monitor, the outbox, Slack errors."""
    now = services.clock.now()
    leader = services.incidents.leader()
    outbox = services.incidents.outbox_health()
    last_tick = leader.last_tick_at if leader else None
    return HealthReport(
        monitor=MonitorHealth(
            enabled=alerting is not None and services.settings.monitor_enabled,
            this_process_leads=bool(alerting and alerting.leads),
            leader=leader.holder if leader and leader.live else None,
            last_tick_at=last_tick.isoformat() if last_tick else None,
            last_tick_age_seconds=round((now - last_tick).total_seconds(), 1)
            if last_tick
            else None,
        ),
        outbox=OutboxHealth(
            backlog=outbox.backlog,
            oldest_undelivered_age_seconds=round(
                (now - outbox.oldest_created_at).total_seconds(), 1
            )
            if outbox.oldest_created_at
            else None,
            failed=outbox.failed,
            given_up=outbox.given_up,
            last_failure=LastFailure(at=outbox.last_failed_at.isoformat(), error=outbox.last_error)
            if outbox.last_failed_at
            else None,
        ),
        retention=retention_report(services),
        slack_errors=alerting.slack_errors if alerting else {},
        warnings=setting_warnings(services.settings),
    )


def retention_report(services: Services) -> RetentionHealth:
    """RETENTION_DAYS and what the leader's last retention run did."""
    with services.database.engine.connect() as connection:
        run = last_run(connection)
    return RetentionHealth(
        days=services.settings.retention_days,
        last_run_at=run.at.isoformat() if run else None,
        last_run_deleted=run.deleted if run else None,
        last_run_blanked=run.blanked if run else None,
    )


def setting_warnings(settings: Settings) -> list[str]:
    """Settings that work but leave something open; logged at start-up, shown by /healthz."""
    warnings = []
    if settings.iak_env == "production" and not settings.callback_allowed_ips:
        warnings.append(
            "CALLBACK_ALLOWED_IPS is empty: POST /iak/callback takes calls from any address "
            "(the sign is still checked); set it to IAK's callback address, 52.220.38.194"
        )
    if settings.iak_env == "production" and not (
        settings.allowed_users or settings.allowed_channels
    ):
        warning = (
            "ALLOWED_USERS and ALLOWED_CHANNELS are empty: everyone in the workspace sees "
            "transaction data (/iak status, pending, stats, balance, the alert buttons)"
        )
        if not settings.admin_users:
            warning += (
                ", and anyone can mute an alert or see a serial number whole (ADMIN_USERS is "
                "empty too)"
            )
        warnings.append(warning)
    return warnings
