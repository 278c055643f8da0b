"""The digest's chart: a picture of a day's transactions and failures per WIB hour.

matplotlib is imported only here, when a chart is drawn: it is heavy, and nothing else in
the bot needs it. It draws on a Figure of its own with the Agg canvas (no pyplot, whose
global state is not safe in the worker threads this runs in).
"""

from __future__ import annotations

import io

from bot.i18n import _
from bot.incidents.kinds.digest import DigestDetails

_BLUE = "#36c5f0"
_RED = "#e01e5a"


def hourly_chart(details: DigestDetails, title: str) -> bytes:
    """The day's transactions and failures per hour, as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(10, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    hours = list(range(24))
    axes.bar(hours, details.hourly_transactions, color=_BLUE, label=_("Transactions"))
    # Failures are a part of each hour's transactions: drawn over them, in red.
    axes.bar(hours, details.hourly_failures, color=_RED, label=_("Failed"))
    axes.set_xticks(hours, [f"{hour:02d}" for hour in hours])
    axes.set_xlim(-0.6, 23.6)
    axes.set_xlabel(_("Hour (WIB)"))
    axes.set_ylabel(_("Transactions"))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(title)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(loc="upper left")
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
