"""Unicode charts for mrkdwn: sparklines and horizontal bars, one line of text each.

Slack has no charts in Block Kit, but block characters read well inside `code` spans,
on every client and in notifications. Pure functions of numbers: callers decide what
the numbers are (failures per bucket, counts per rc) and how wide a bucket is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# Eight heights; the lowest is kept for zero, so any non-zero bucket stands out from an
# empty one however small it is next to the peak.
SPARK_LEVELS = "▁▂▃▄▅▆▇█"
# A full cell and its eighths, for bars drawn to a fraction of a character.
BAR_FULL = "█"
BAR_EIGHTHS = ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")


def sparkline(values: Sequence[float], *, peak: float | None = None) -> str:
    """One character per value: `▁` for zero, `▂`-`█` for the rest, scaled to `peak`.

    `peak` defaults to the largest value; pass a shared one so several lines compare on
    one scale. Values above `peak` draw full height; negatives count as zero.
    """
    top = max(values, default=0) if peak is None else peak
    levels = len(SPARK_LEVELS) - 1
    out: list[str] = []
    for value in values:
        if value <= 0 or top <= 0:
            out.append(SPARK_LEVELS[0])
            continue
        level = min(levels, max(1, math.ceil(value / top * levels)))
        out.append(SPARK_LEVELS[level])
    return "".join(out)


def bar(value: float, peak: float, *, width: int = 20) -> str:
    """A horizontal bar `width` characters long at `peak`, in eighths of a character.

    Zero is an empty string; any positive value shows at least a sliver (`▏`).
    """
    if value <= 0 or peak <= 0 or width <= 0:
        return ""
    eighths = max(1, round(min(value, peak) / peak * width * 8))
    full, rest = divmod(eighths, 8)
    return BAR_FULL * full + BAR_EIGHTHS[rest]
