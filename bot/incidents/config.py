"""The settings the monitor and every kind's decisions depend on, and the timings they share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta

from bot.config import Settings

# Members listed in a parent or a reply (the rest are counted).
LISTED = 20
# The parent's figures are refreshed at most this often (edits do not notify anyone).
REFRESH_PARENT_EVERY = timedelta(minutes=1)
# Re-checks of a pending transaction back off up to this, and stop after a day.
RECHECK_CAP = timedelta(minutes=15)
STOP_CHECKING_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class MonitorConfig:
    """The settings decisions depend on."""

    interval: timedelta
    age_out: timedelta
    spike_window: timedelta
    spike_min_failures: int
    spike_factor: float
    low_balance_threshold: int | None
    # WIB time of the daily digest; None: no digest
    digest_time: time | None = None
    # WIB times of the shift handover; empty: none
    handover_times: tuple[time, ...] = ()
    escalate_after: timedelta = timedelta(seconds=900)
    watch_callbacks: bool = False
    iak_env: str = "development"
    # how long a leader's lease lasts without renewal (None: LEASE_TICKS ticks, at least 1 s)
    lease: timedelta | None = None
    # RETENTION_DAYS: what the leader deletes as it ages (bot.store.retention); 0 keeps all
    retention_days: int = 0
    # an operator's success rate and time to deliver (kinds.operator)
    success_rate_window: timedelta = timedelta(seconds=900)
    success_rate_min_transactions: int = 20
    success_rate_drop_points: float = 15
    slow_delivery_factor: float = 5

    @classmethod
    def from_settings(cls, settings: Settings) -> MonitorConfig:
        """Read them from Settings."""
        return cls(
            interval=timedelta(seconds=settings.monitor_interval_seconds),
            age_out=timedelta(seconds=settings.pending_age_out_seconds),
            spike_window=timedelta(seconds=settings.spike_window_seconds),
            spike_min_failures=settings.spike_min_failures,
            spike_factor=settings.spike_factor,
            low_balance_threshold=settings.low_balance_threshold,
            digest_time=settings.digest_time,
            handover_times=settings.handover_times,
            escalate_after=timedelta(seconds=settings.escalate_after_seconds),
            watch_callbacks=settings.watch_callbacks,
            iak_env=settings.iak_env,
            lease=(
                timedelta(seconds=settings.monitor_lease_seconds)
                if settings.monitor_lease_seconds is not None
                else None
            ),
            retention_days=settings.retention_days,
            success_rate_window=timedelta(seconds=settings.success_rate_window_seconds),
            success_rate_min_transactions=settings.success_rate_min_transactions,
            success_rate_drop_points=settings.success_rate_drop_points,
            slow_delivery_factor=settings.slow_delivery_factor,
        )

    @property
    def recheck_cap(self) -> timedelta:
        """Re-checks back off up to min(15 minutes, PENDING_AGE_OUT_SECONDS)."""
        return min(RECHECK_CAP, self.age_out)
