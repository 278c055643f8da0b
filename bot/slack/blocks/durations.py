"""How long something has been going on, as ops say it: `45 s`, `12 min`, `3 h 12 min`
(in Indonesian `45 dtk`, `12 mnt`, `3 jam 12 mnt`)."""

from __future__ import annotations

from datetime import timedelta

from bot.i18n import _


def duration(elapsed: timedelta) -> str:
    """`3 h 12 min`: the two largest units that matter; never negative (clock skew is 0 s)."""
    seconds = max(0, int(elapsed.total_seconds()))
    if seconds < 60:
        return _("{seconds} s").format(seconds=seconds)
    minutes = seconds // 60
    if minutes < 60:
        return _("{minutes} min").format(minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        if minutes:
            return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
        return _("{hours} h").format(hours=hours)
    days, hours = divmod(hours, 24)
    if hours:
        return _("{days} d {hours} h").format(days=days, hours=hours)
    return _("{days} d").format(days=days)
