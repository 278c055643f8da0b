"""How long something has been going on, as ops say it: `45 s`, `12 min`, `3 h 12 min`."""

from __future__ import annotations

from datetime import timedelta


def duration(elapsed: timedelta) -> str:
    """`3 h 12 min`: the two largest units that matter; never negative (clock skew is 0 s)."""
    seconds = max(0, int(elapsed.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
