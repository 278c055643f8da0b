"""Operator health: an operator's success rate far below its usual, or its top-ups taking far
longer than usual to reach a final outcome, when no single code spikes.

The operator is the price list's description of the product (`Telkomsel`), else the product
code. Two incidents per operator at most, with their own keys (and mutes): its success rate
(`Telkomsel`) and its time to deliver (`slow:Telkomsel`). Both resolve with hysteresis, as
spikes do. Failures whose code's owner is the customer (a wrong number) are the customer's,
not the operator's: they are not counted at all.

Cheap at a million rows: the window and each hour of the usual are aggregated in SQL (per
product, outcome, rc and a bucket of the time to final); products are mapped to operators
in Python. Each settled hour of the usual is read once, beside the ticks and between them
(`bot.incidents.hours`: after a start, or on a new leader, the week, newest hour first, over
the first few intervals; then, once an hour, the hour that settled), and kept by the watch
as one tally per product (the customer's failures already left out), with their running
sum: a tick reads the window alone. Until the week is read, an operator with too little
history in what was read is not judged on its success rate (its usual might be lower than
DEFAULT_RATE), and its open incident is kept as it is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial

from bot.iak.products import Product
from bot.incidents.config import REFRESH_PARENT_EVERY, MonitorConfig
from bot.incidents.finals import (
    FinalCounts,
    Tally,
    UsualHours,
    earliest_final,
    final_counts,
    read_hour,
)
from bot.incidents.hours import HourReader
from bot.incidents.kinds.product import Alternative
from bot.incidents.model import (
    Details,
    Incident,
    IncidentChange,
    IncidentKind,
    PostParent,
    Resolved,
    UpdateParent,
    lasted,
    resolution,
)
from bot.incidents.watch import PriceListFetch, Tick, WatchContext
from bot.outcomes import Line, Outcome
from bot.registry import Owner, Registry
from bot.store.schema import transactions

KIND = IncidentKind.OPERATOR
# With fewer final transactions than this in the usual, the usual rate is DEFAULT_RATE, and
# no usual time to deliver is known (nothing is slow against it).
USUAL_MIN_FINAL = 100
DEFAULT_RATE = 0.95
# Hysteresis: an incident resolves only once the window is back within this share of the
# opening margin (half the drop; half the slowdown), and stays so for a whole window.
RESOLVE_FRACTION = 0.5
# The price list's operators are read from the database at most this often.
PRICE_LIST_EVERY = timedelta(minutes=5)
LISTED_PRODUCTS = 5
LISTED_CODES = 5
MAX_ALTERNATIVES = 5
# An incident's key: the operator (which may be a long price-list description), cut.
KEY_LENGTH = 90
SLOW_PREFIX = "slow:"
t = transactions.c


class Measure(StrEnum):
    """What an operator incident is about."""

    RATE = "rate"  # its success rate far below its usual
    SLOW = "slow"  # its median time to final far above its usual


@dataclass(frozen=True)
class ProductFigures:
    """One product of the operator in the window."""

    code: str
    final: int
    failed: int
    median_seconds: float | None = None


@dataclass(frozen=True)
class OperatorDetails(Details):
    """One operator's window against its usual, and the incident's course."""

    operator: str
    measure: Measure
    window_seconds: float
    final: int  # final transactions in the window (the customer's failures not counted)
    failed: int
    usual_rate: float  # DEFAULT_RATE when usual_final < USUAL_MIN_FINAL
    usual_final: int
    median_seconds: float | None
    usual_median_seconds: float | None
    refreshed_at: datetime  # when the parent's figures were last edited
    # the worst the window got while open: the lowest rate, the longest median
    lowest_rate: float | None = None
    longest_median_seconds: float | None = None
    products: tuple[ProductFigures, ...] = ()  # the worst ones, worst first
    codes: dict[str, int] = field(default_factory=dict)  # the operator's failures per rc
    quiet_since: datetime | None = None  # back within the resolve margin since then
    # active products of the operator, with a worst product's nominal, not among the worst
    alternatives: tuple[Alternative, ...] = ()
    price_list_at: datetime | None = None  # None: no price list cached

    @property
    def rate(self) -> float | None:
        """The window's success rate (None with no final transaction)."""
        return (self.final - self.failed) / self.final if self.final else None

    @property
    def usual_is_default(self) -> bool:
        """Too little history: the usual rate is DEFAULT_RATE."""
        return self.usual_final < USUAL_MIN_FINAL


DETAILS = OperatorDetails
REPLIES = ()


@dataclass
class OperatorActivity:
    """One operator's final transactions in the window and in its usual. `usual_complete`
    False: the watch has not read the whole usual yet (after a start)."""

    operator: str
    window: Tally = field(default_factory=Tally)
    usual: Tally = field(default_factory=Tally)
    products: dict[str, Tally] = field(default_factory=dict)  # window, per product
    codes: Counter[str] = field(default_factory=Counter)  # window failures per rc
    usual_complete: bool = True


def operator_activity(
    window: FinalCounts,
    usual: Mapping[str, Tally],
    operator_of: Callable[[str], str],
    customers: frozenset[str],
    usual_complete: bool = True,
) -> dict[str, OperatorActivity]:
    """Per operator, what it answers for in the window and usually (`usual`: per product,
    as `product_tallies` keeps it): failures with a code in `customers` (the customer's
    input) are left out."""
    found: dict[str, OperatorActivity] = {}

    def of(product: str) -> OperatorActivity:
        operator = operator_of(product)
        activity = found.get(operator)
        if activity is None:
            activity = found[operator] = OperatorActivity(operator, usual_complete=usual_complete)
        return activity

    for product, tally in usual.items():
        if tally.final:
            of(product).usual.absorb(tally)
    for (product, outcome, rc, bucket), count in window.items():
        if outcome == Outcome.FAILED.value and rc in customers:
            continue
        activity = of(product)
        activity.window.add(outcome, bucket, count)
        activity.products.setdefault(product, Tally()).add(outcome, bucket, count)
        if outcome == Outcome.FAILED.value:
            activity.codes[rc] += count
    return found


# --- The decision (pure) -------------------------------------------------------------------


def incident_key(operator: str, measure: Measure) -> str:
    """`Telkomsel` for its success rate, `slow:Telkomsel` for its time to deliver."""
    name = operator[:KEY_LENGTH]
    return SLOW_PREFIX + name if measure is Measure.SLOW else name


def usual_rate(usual: Tally) -> float:
    """The operator's usual success rate: DEFAULT_RATE without enough history."""
    rate = usual.rate
    return rate if rate is not None and usual.final >= USUAL_MIN_FINAL else DEFAULT_RATE


def known_usual_rate(activity: OperatorActivity) -> float | None:
    """Its usual success rate; None while the watch, still reading the usual after a start,
    has too little of it to say (the week might have enough, at a rate below DEFAULT_RATE)."""
    if activity.usual_complete or activity.usual.final >= USUAL_MIN_FINAL:
        return usual_rate(activity.usual)
    return None


def usual_median(usual: Tally) -> float | None:
    """The operator's usual time to final; None without enough history."""
    return usual.median_seconds() if usual.final >= USUAL_MIN_FINAL else None


def slow_threshold(usual: Tally, config: MonitorConfig) -> float | None:
    """The median time to final that opens a slow incident (None: none can open)."""
    median = usual_median(usual)
    if median is None:
        return None
    return config.slow_delivery_factor * median


def troubled(
    activity: OperatorActivity, config: MonitorConfig, measure: Measure, margin: float = 1.0
) -> bool:
    """Whether the window is at least `margin` of the way to the opening condition's edge
    (1: opens an incident; RESOLVE_FRACTION: not yet recovered)."""
    window = activity.window
    if window.final < config.success_rate_min_transactions:
        return False
    if measure is Measure.RATE:
        rate = window.rate
        usual = known_usual_rate(activity)
        drop = config.success_rate_drop_points / 100 * margin
        # in points, with a little slack: 80 % is 15 points below 95 %, whatever floats say
        return rate is not None and usual is not None and usual - rate >= drop - 1e-9
    threshold = slow_threshold(activity.usual, config)
    median = window.median_seconds()
    return threshold is not None and median is not None and median >= threshold * margin


def judged(activity: OperatorActivity, measure: Measure) -> bool:
    """Whether its usual is known well enough to judge `measure` against (not yet, for the
    rate, while the watch reads the usual after a start and has too little of it)."""
    return measure is Measure.SLOW or known_usual_rate(activity) is not None


def decide(
    activity: OperatorActivity,
    incident: Incident | None,
    now: datetime,
    config: MonitorConfig,
    measure: Measure,
    offer: Offer | None = None,
) -> IncidentChange | None:
    """Open, update or resolve one operator's incident about `measure`; nothing while its
    usual is not known yet (`judged`): not knowing is no recovery."""
    if not judged(activity, measure):
        return None
    key = incident_key(activity.operator, measure)
    measured = _measured(activity, config, measure, now)
    offer = offer or Offer()
    if incident is None:
        if not troubled(activity, config, measure):
            return None
        return IncidentChange(KIND, key, None, _offered(measured, offer), (PostParent(),))

    before = incident.details
    assert isinstance(before, OperatorDetails)
    quiet = not troubled(activity, config, measure, RESOLVE_FRACTION)
    details = _offered(
        replace(
            measured,
            refreshed_at=before.refreshed_at,
            lowest_rate=_least(before.lowest_rate, measured.lowest_rate),
            longest_median_seconds=_most(
                before.longest_median_seconds, measured.longest_median_seconds
            ),
            quiet_since=(before.quiet_since or now) if quiet else None,
        ),
        offer,
        before,
    )
    if details.quiet_since is not None and now - details.quiet_since >= config.success_rate_window:
        return resolution(incident, details, Resolved(lasted(incident, now)))
    # The stored figures are what the parent shows: they move on only with an edit.
    if _shown(details) != _shown(before) and now - before.refreshed_at >= REFRESH_PARENT_EVERY:
        details = replace(details, refreshed_at=now)
        return IncidentChange(KIND, key, incident.id, details, (UpdateParent(),))
    kept = replace(
        before,
        quiet_since=details.quiet_since,
        lowest_rate=details.lowest_rate,
        longest_median_seconds=details.longest_median_seconds,
    )
    if kept == before:
        return None
    return IncidentChange(KIND, key, incident.id, kept)


def _measured(
    activity: OperatorActivity, config: MonitorConfig, measure: Measure, now: datetime
) -> OperatorDetails:
    """The window's figures against the usual, as a newly opened incident shows them."""
    window = activity.window
    products = [
        ProductFigures(code, tally.final, tally.failed, _rounded(tally.median_seconds()))
        for code, tally in activity.products.items()
    ]
    if measure is Measure.RATE:
        products = [p for p in products if p.failed]
        products.sort(key=lambda p: (-p.failed, -p.final, p.code))
    else:
        products.sort(key=lambda p: (-(p.median_seconds or 0), -p.final, p.code))
    codes = sorted(activity.codes.items(), key=lambda kv: (-kv[1], kv[0]))[:LISTED_CODES]
    median = _rounded(window.median_seconds())
    return OperatorDetails(
        operator=activity.operator,
        measure=measure,
        window_seconds=config.success_rate_window.total_seconds(),
        final=window.final,
        failed=window.failed,
        usual_rate=round(usual_rate(activity.usual), 4),
        usual_final=activity.usual.final,
        median_seconds=median,
        usual_median_seconds=_rounded(usual_median(activity.usual)),
        refreshed_at=now,
        lowest_rate=window.rate,
        longest_median_seconds=median,
        products=tuple(products[:LISTED_PRODUCTS]),
        codes=dict(codes),
    )


def _shown(details: OperatorDetails) -> tuple[object, ...]:
    """What the parent shows (the rest is bookkeeping)."""
    return (
        details.final,
        details.failed,
        details.usual_rate,
        details.median_seconds,
        details.usual_median_seconds,
        details.products,
        details.codes,
        details.alternatives,
    )


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


def _least(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _most(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


@dataclass(frozen=True)
class Offer:
    """What the cached price list offers instead of an operator's worst products: its other
    active products of the same nominals. `fetched_at` None: no price list is cached."""

    alternatives: tuple[Alternative, ...] = ()
    fetched_at: datetime | None = None


def offer_for(
    operator: str,
    worst: Iterable[str],
    products: tuple[Product, ...] | None,
    fetched_at: datetime | None,
) -> Offer:
    """The operator's active products with the nominal of one of its `worst` products and
    not among them, cheapest first."""
    if products is None or fetched_at is None:
        return Offer()
    worst_codes = {code.lower() for code in worst}
    nominals = {
        (p.nominal or "").lower() for p in products if p.code.lower() in worst_codes and p.nominal
    }
    same = sorted(
        (
            p
            for p in products
            if p.active is True
            and p.code.lower() not in worst_codes
            and (p.name or "").lower() == operator.lower()
            and (p.nominal or "").lower() in nominals
        ),
        key=lambda p: (p.price is None, p.price or 0, p.code),
    )
    return Offer(tuple(Alternative(p.code, p.price) for p in same[:MAX_ALTERNATIVES]), fetched_at)


def _offered(
    details: OperatorDetails, offer: Offer, before: OperatorDetails | None = None
) -> OperatorDetails:
    """The details with the price list's offer, once there is one; an unchanged offer keeps
    the time of the list it came from, so a routine refresh edits nothing."""
    kept = before or details
    if offer.fetched_at is None:
        return replace(details, alternatives=kept.alternatives, price_list_at=kept.price_list_at)
    same = kept.alternatives == offer.alternatives and kept.price_list_at is not None
    return replace(
        details,
        alternatives=offer.alternatives,
        price_list_at=kept.price_list_at if same else offer.fetched_at,
    )


# --- The watch ---------------------------------------------------------------------------------


class OperatorWatch:
    """Each operator's success rate and time to deliver over the window, against its
    usual."""

    def __init__(self, context: WatchContext) -> None:
        self.config = context.config
        self.price_lists = context.price_lists
        self.spawn = context.spawn
        self.customers = customer_codes(context.registry)
        self.hours = UsualHours()
        self.reader = HourReader(
            self.hours,
            context,
            partial(read_hour, customers=self.customers),
            empty=dict,
            earliest=earliest_final,
            task="monitor-operator-usual",
            what="the operators' usual",
        )
        self._operators: dict[str, str] = {}
        self._products: tuple[Product, ...] | None = None
        self._fetched_at: datetime | None = None
        self._read_at: datetime | None = None
        self._fetch_price_list = PriceListFetch(context, "operator health")

    def run(self, tick: Tick) -> None:
        """One tick: each operator with final transactions in the window (or an open
        incident), decided for both measures."""
        window_start = tick.now - self.config.success_rate_window
        window = final_counts(tick.connection, window_start, tick.now + timedelta(seconds=1))
        self.reader.catch_up(tick, window_start)
        usual = self.hours.total
        opened = tick.open_incidents(KIND)
        if sum(window.values()) < self.config.success_rate_min_transactions and not opened:
            return  # no operator can be judged: the price list is not even read
        self._read_price_list(tick)
        activities = operator_activity(
            window, usual, self._operator_of, self.customers, self.hours.complete
        )
        if self._products is None:
            # without it each product stands alone, likely too thin to judge: fetch one
            tick.after_commit(self._fetch_price_list)
        for open_incident in opened.values():
            assert isinstance(open_incident.details, OperatorDetails)
            name = open_incident.details.operator
            activities.setdefault(name, OperatorActivity(name, usual_complete=self.hours.complete))
        for operator in sorted(activities):
            activity = activities[operator]
            for measure in Measure:
                incident = opened.get(incident_key(operator, measure))
                if incident is None and not troubled(activity, self.config, measure):
                    continue
                if not judged(activity, measure):
                    continue
                worst = [
                    code
                    for code, tally in activity.products.items()
                    if tally.failed or measure is Measure.SLOW
                ]
                offer = offer_for(operator, worst, self._products, self._fetched_at)
                tick.apply(decide(activity, incident, tick.now, self.config, measure, offer))

    def _operator_of(self, product_code: str) -> str:
        return self._operators.get(product_code.lower(), product_code)

    def _read_price_list(self, tick: Tick) -> None:
        """The cached prepaid price list's operators, re-read every PRICE_LIST_EVERY (every
        tick while none is cached)."""
        if self.price_lists is None:
            return
        if (
            self._products is not None
            and self._read_at is not None
            and tick.now - self._read_at < PRICE_LIST_EVERY
        ):
            return
        view = self.price_lists.cached_now(Line.PREPAID)
        self._read_at = tick.now
        self._products, self._fetched_at = view.products, view.fetched_at
        self._operators = {
            p.code.lower(): p.name for p in view.products or () if p.name is not None
        }


def customer_codes(registry: Registry) -> frozenset[str]:
    """Prepaid codes whose failures are the customer's input (the registry's owner)."""
    return frozenset(
        code.code for code in registry.response_codes(Line.PREPAID) if code.owner is Owner.CUSTOMER
    )


def watch(context: WatchContext) -> OperatorWatch:
    """The operator watch."""
    return OperatorWatch(context)
