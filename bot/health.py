"""What /healthz (and the Home tab) say of the bot beyond the database: the monitor, the
outbox, Slack errors, and settings that leave something open."""

from __future__ import annotations

from typing import Any, Protocol

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


def health_report(services: Services, alerting: Alerting | None) -> dict[str, Any]:
    """What /healthz tells beyond the database: the monitor, the outbox, Slack errors."""
    now = services.clock.now()
    leader = services.incidents.leader()
    outbox = services.incidents.outbox_health()
    report: dict[str, Any] = {
        "monitor": {
            "enabled": alerting is not None and services.settings.monitor_enabled,
            "this_process_leads": bool(alerting and alerting.leads),
            "leader": leader.holder if leader and leader.live else None,
            "last_tick_at": leader.last_tick_at.isoformat()
            if leader and leader.last_tick_at
            else None,
            "last_tick_age_seconds": round((now - leader.last_tick_at).total_seconds(), 1)
            if leader and leader.last_tick_at
            else None,
        },
        "outbox": {
            "backlog": outbox.backlog,
            "oldest_undelivered_age_seconds": round(
                (now - outbox.oldest_created_at).total_seconds(), 1
            )
            if outbox.oldest_created_at
            else None,
            # rows that could never be delivered (logged when they failed)
            "failed": outbox.failed,
            # rows Slack kept answering with a retryable error, dropped so they hold
            # nothing back (logged when given up)
            "given_up": outbox.given_up,
            "last_failure": {
                "at": outbox.last_failed_at.isoformat(),
                "error": outbox.last_error,
            }
            if outbox.last_failed_at
            else None,
        },
        "retention": retention_report(services),
        "slack_errors": alerting.slack_errors if alerting else {},
        "warnings": setting_warnings(services.settings),
    }
    return report


def retention_report(services: Services) -> dict[str, Any]:
    """RETENTION_DAYS and what the leader's last retention run did."""
    with services.database.engine.connect() as connection:
        run = last_run(connection)
    return {
        "days": services.settings.retention_days,
        "last_run_at": run.at.isoformat() if run else None,
        "last_run_deleted": run.deleted if run else None,
        "last_run_blanked": run.blanked if run else None,
    }


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
            warning += ", and anyone can mute an alert (ADMIN_USERS is empty too)"
        warnings.append(warning)
    return warnings
