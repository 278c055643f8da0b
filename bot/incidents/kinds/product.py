"""One product out of service: a product failing as out of service or unknown (rc 106, 20)
far above its usual rate, counted and decided as a spike is, with what the price list offers
instead. Its usual rate comes from the failures per hour the spike kind judges against too
(`bot.incidents.failures`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, func, select

from bot.iak.products import Product
from bot.incidents.config import MonitorConfig
from bot.incidents.failures import FailureHours, per_product
from bot.incidents.kinds.spike import (
    PRODUCT_LEVEL_RCS,
    RcActivity,
    SpikeDetails,
    counted_from,
    may_open,
    sparkline_counts,
)
from bot.incidents.kinds.spike import decide as decide_spike
from bot.incidents.model import Details, Incident, IncidentChange, IncidentKind, UpdateParent
from bot.incidents.watch import PriceListFetch, Tick, WatchContext
from bot.outcomes import Line, Outcome
from bot.store.schema import transactions

log = logging.getLogger(__name__)

KIND = IncidentKind.PRODUCT
MAX_ALTERNATIVES = 5
# A price list fetched for an outage's alternatives, beside the ticks, never waits longer.
t = transactions.c


@dataclass(frozen=True)
class Alternative:
    """An active product of the same operator and nominal, from IAK's price list."""

    code: str
    price: int | None


@dataclass(frozen=True)
class ProductOutageDetails(Details):
    """One product failing as out of service or unknown: its failures, counted and decided
    as a spike is, and what the price list offers instead."""

    product_code: str
    spike: SpikeDetails  # its failures with those codes; `rc` the most frequent one
    rcs: dict[str, int] = field(default_factory=dict)  # failures per rc, window
    operator: str | None = None  # the product's operator and nominal, from the price list
    nominal: str | None = None
    alternatives: tuple[Alternative, ...] = ()
    # when the price list offered them was fetched; None: no price list cached yet
    price_list_at: datetime | None = None


DETAILS = ProductOutageDetails
REPLIES = ()


@dataclass(frozen=True)
class ProductActivity:
    """One product's recent failures with a product-level code."""

    product_code: str
    rcs: dict[str, int]  # failures per rc, window
    # all of them counted as one rc's would be (its `rc`: the most frequent code)
    failures: RcActivity


@dataclass(frozen=True)
class Offer:
    """What the cached price list says of a product: its operator and nominal, and the
    other active products of both. `fetched_at` None: no price list is cached."""

    operator: str | None = None
    nominal: str | None = None
    alternatives: tuple[Alternative, ...] = ()
    fetched_at: datetime | None = None


# --- The decision (pure) -------------------------------------------------------------------


def offer_for(
    code: str, products: tuple[Product, ...] | None, fetched_at: datetime | None
) -> Offer:
    """The active products of the same operator and nominal as `code`, cheapest first."""
    if products is None or fetched_at is None:
        return Offer()
    wanted = code.lower()
    failing = next((p for p in products if p.code.lower() == wanted), None)
    if failing is None or failing.name is None or failing.nominal is None:
        return Offer(fetched_at=fetched_at)
    same = sorted(
        (
            p
            for p in products
            if p.active is True
            and p.code.lower() != wanted
            and (p.name or "").lower() == failing.name.lower()
            and (p.nominal or "").lower() == failing.nominal.lower()
        ),
        key=lambda p: (p.price is None, p.price or 0, p.code),
    )
    alternatives = tuple(Alternative(p.code, p.price) for p in same[:MAX_ALTERNATIVES])
    return Offer(failing.name, failing.nominal, alternatives, fetched_at)


def decide(
    activity: ProductActivity,
    incident: Incident | None,
    now: datetime,
    config: MonitorConfig,
    offer: Offer,
) -> IncidentChange | None:
    """Open, update or resolve the incident of one product, as a spike of its failures is
    (thresholds, thread updates, resolution); its parent names the alternatives."""
    before = incident.details if incident is not None else None
    assert before is None or isinstance(before, ProductOutageDetails)
    inner = replace(incident, details=before.spike) if incident and before else None
    change = decide_spike(activity.failures, inner, now, config, stops_sales=False)
    key = activity.product_code
    if change is None:
        if incident is None or before is None:
            return None
        offered = _offered(before, offer)
        if offered == before:
            return None
        return IncidentChange(KIND, key, incident.id, offered, (UpdateParent(),))
    assert isinstance(change.details, SpikeDetails)
    details = _offered(
        ProductOutageDetails(
            product_code=key,
            spike=replace(change.details, products={}),
            rcs=activity.rcs or (before.rcs if before else {}),
        ),
        offer,
        before,
    )
    intents = change.intents
    moved = before is not None and _offer_of(details) != _offer_of(before)
    if moved and not any(isinstance(intent, UpdateParent) for intent in intents):
        intents = (*intents, UpdateParent())
    return replace(change, kind=KIND, key=key, details=details, intents=intents)


def _offer_of(details: ProductOutageDetails) -> tuple[object, ...]:
    return (details.operator, details.nominal, details.alternatives, details.price_list_at)


def _offered(
    details: ProductOutageDetails, offer: Offer, before: ProductOutageDetails | None = None
) -> ProductOutageDetails:
    """The details with the price list's offer, once there is one; an unchanged offer keeps
    the time of the list it came from, so a routine refresh edits nothing."""
    kept = before or details
    if offer.fetched_at is None:
        return replace(
            details,
            operator=kept.operator,
            nominal=kept.nominal,
            alternatives=kept.alternatives,
            price_list_at=kept.price_list_at,
        )
    same = (kept.operator, kept.nominal, kept.alternatives) == (
        offer.operator,
        offer.nominal,
        offer.alternatives,
    )
    return replace(
        details,
        operator=offer.operator,
        nominal=offer.nominal,
        alternatives=offer.alternatives,
        price_list_at=kept.price_list_at if same and kept.price_list_at else offer.fetched_at,
    )


# --- What it gathers (SQL, in the tick's transaction) ------------------------------------------


def product_activity(
    connection: Connection,
    now: datetime,
    config: MonitorConfig,
    rcs: frozenset[str],
    open_outages: dict[str, Incident],
    wanted: Callable[[RcActivity], bool],
    baseline: Mapping[str, int],
) -> list[ProductActivity]:
    """Each product failing now with one of `rcs` (or with an open incident): its window
    count per rc and its `baseline` (its prepaid failures with `rcs` in the 24 hours before
    the window), as the spike kind reads them for one rc. `wanted` is given the product's
    counts (as an `RcActivity` named by the product's code)."""
    window_start = now - config.spike_window
    # Prepaid products only: postpaid codes with these numbers mean something else.
    coded = and_(
        t.outcome == Outcome.FAILED.value, t.rc.in_(sorted(rcs)), t.line == Line.PREPAID.value
    )
    window: dict[str, dict[str, int]] = {}
    for code, rc, count in connection.execute(
        select(t.product_code, t.rc, func.count())
        .where(coded, t.started_at >= window_start, t.started_at <= now + timedelta(seconds=1))
        .group_by(t.product_code, t.rc)
    ).all():
        window.setdefault(str(code or "?"), {})[str(rc)] = int(count)
    activities = []
    for code in sorted(set(window) | set(open_outages)):
        per_rc = window.get(code, {})
        count, base = sum(per_rc.values()), baseline.get(code, 0)
        incident = open_outages.get(code)
        if incident is None and not wanted(RcActivity(code, count, base)):
            continue
        product = t.product_code.is_(None) if code == "?" else t.product_code == code
        failed = and_(coded, product)
        hour = connection.execute(
            select(t.started_at).where(failed, t.started_at >= now - timedelta(hours=1))
        ).scalars()
        total = None
        if incident is not None:
            assert isinstance(incident.details, ProductOutageDetails)
            since = counted_from(incident, incident.details.spike)
            total = int(
                connection.execute(
                    select(func.count()).where(failed, t.started_at >= since)
                ).scalar_one()
            )
        rc = max(per_rc, key=lambda r: (per_rc[r], r)) if per_rc else _rc_of(incident, rcs)
        activities.append(
            ProductActivity(
                product_code=code,
                rcs=per_rc,
                failures=RcActivity(
                    rc=rc,
                    window_count=count,
                    baseline_count=base,
                    sparkline=sparkline_counts(list(hour), now),
                    total_since_open=total,
                ),
            )
        )
    return activities


def _rc_of(incident: Incident | None, rcs: frozenset[str]) -> str:
    if incident is not None and isinstance(incident.details, ProductOutageDetails):
        return incident.details.spike.rc
    return min(rcs)


# --- The watch ---------------------------------------------------------------------------------


class ProductWatch:
    """Products failing as out of service or unknown: one incident each, offering what the
    cached price list has instead (never fetched inside the tick: a tick that finds none
    cached has one fetched beside the ticks, and the next tick offers it)."""

    def __init__(self, context: WatchContext) -> None:
        self.config = context.config
        self.price_lists = context.price_lists
        self.failures = context.shared(FailureHours)
        self._fetch_price_list = PriceListFetch(context, "an outage's alternatives")

    def run(self, tick: Tick) -> None:
        """One tick: each failing product, decided and written."""
        outages = tick.open_incidents(KIND)
        window_start = tick.now - self.config.spike_window
        baseline = self.failures.baseline(tick, window_start)
        activities = product_activity(
            tick.connection,
            tick.now,
            self.config,
            PRODUCT_LEVEL_RCS,
            outages,
            lambda counted: may_open(counted, self.config, stops_sales=False),
            per_product(baseline, PRODUCT_LEVEL_RCS),
        )
        if not activities:
            return
        products, fetched_at = None, None
        if self.price_lists is not None:
            view = self.price_lists.cached_now(Line.PREPAID)
            products, fetched_at = view.products, view.fetched_at
            if products is None:
                tick.after_commit(self._fetch_price_list)
        for activity in activities:
            code = activity.product_code
            offer = offer_for(code, products, fetched_at)
            tick.apply(decide(activity, outages.get(code), tick.now, self.config, offer))


def watch(context: WatchContext) -> ProductWatch:
    """The product watch."""
    return ProductWatch(context)
