"""The seam between the monitor's tick and each kind of incident.

Each tick the monitor opens one database transaction and hands every kind's `Watch` a
`Tick`: the connection, the time, and `apply`, which writes a change with its outbox rows
in that same transaction. A watch gathers what its kind needs (SQL in its module), asks its
pure `decide`, and applies what comes back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

from sqlalchemy import Connection, Engine

from bot.incidents.config import MonitorConfig
from bot.incidents.model import Incident, IncidentChange, IncidentKind
from bot.incidents.repository import IncidentRepository
from bot.registry import Line, Registry

if TYPE_CHECKING:
    from bot.price_lists import PriceLists

log = logging.getLogger(__name__)

# A fetch of IAK's price list beside the ticks gives up after this (seconds).
PRICE_LIST_DEADLINE = 30.0

T = TypeVar("T")


@dataclass
class TickReport:
    """What one tick did."""

    leader: bool
    opened: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    queued: int = 0
    # run on the event loop once the tick's transaction has committed
    after_commit: list[Callable[[], None]] = field(default_factory=list)


@dataclass
class Tick:
    """One tick's transaction, as every watch sees it."""

    connection: Connection
    now: datetime
    incidents: IncidentRepository
    channel: str
    report: TickReport

    def open_incident(self, kind: IncidentKind, key: str | None = None) -> Incident | None:
        """The open incident of that kind and key (the kind's name when it has one key)."""
        return self.incidents.open_incident(self.connection, kind, key or kind.value)

    def open_incidents(self, kind: IncidentKind) -> dict[str, Incident]:
        """The open incidents of one kind, by key."""
        return self.incidents.open_incidents_of(self.connection, kind)

    def apply(self, change: IncidentChange | None) -> int | None:
        """Write a change and queue its Slack operations; returns the incident's id."""
        if change is None:
            return None
        incident_id = self.incidents.apply_change(self.connection, change, self.now, self.channel)
        name = f"{change.kind.value}:{change.key}"
        if change.incident_id is None:
            self.report.opened.append(name)
        if change.resolve:
            self.report.resolved.append(name)
        self.report.queued += len(change.intents)
        return incident_id

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the event loop once this tick has committed (a watch's memory of
        where it got to must not move on with a tick that rolled back)."""
        self.report.after_commit.append(callback)


@dataclass(frozen=True)
class WatchContext:
    """What a watch is built with, once per monitor."""

    config: MonitorConfig
    registry: Registry
    price_lists: PriceLists | None = None
    # for reads beside the ticks, outside the tick's transaction (None: no such reads; a
    # kind that needs them then judges only what its tick reads)
    engine: Engine | None = None
    # start work beside the ticks (a fetch); the monitor cancels it when it stops
    spawn: Callable[[Coroutine[object, object, None], str], asyncio.Task[None]] = field(
        default=lambda work, name: asyncio.create_task(work, name=name)
    )
    # reads made before each tick this process may lead, outside its transaction (see
    # `before_tick`)
    _before: list[tuple[Callable[[Connection, datetime], None], Callable[[], bool]]] = field(
        default_factory=list, init=False, repr=False, compare=False
    )
    # what several kinds' watches share, by what makes it (see `shared`)
    _shared: dict[object, object] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def before_tick(
        self, read: Callable[[Connection, datetime], None], *, wanted: Callable[[], bool]
    ) -> None:
        """Have `read(connection, now)` run before each tick this process may lead (it
        leads, or the lease is free) while `wanted()` says so, in a read transaction of its
        own: what a watch must know and would otherwise read inside the tick's (a new
        leader's day of failures). Only with an `engine`."""
        if self.engine is not None:
            self._before.append((read, wanted))

    def reads_before_tick(self) -> list[Callable[[Connection, datetime], None]]:
        """The reads registered with `before_tick` that want to run before this tick."""
        return [read for read, wanted in self._before if wanted()]

    def shared(self, make: Callable[[WatchContext], T]) -> T:
        """The monitor's one `make(context)`, made when a watch first asks for it: what
        several kinds share (the failures per hour the spike and product kinds judge
        against)."""
        if make not in self._shared:
            self._shared[make] = make(self)
        return cast(T, self._shared[make])


class PriceListFetch:
    """Fetches the prepaid price list beside the ticks, for a kind whose alert names
    alternatives from it: one fetch at a time, each within PRICE_LIST_DEADLINE."""

    def __init__(self, context: WatchContext, why: str) -> None:
        self.price_lists = context.price_lists
        self.spawn = context.spawn
        self.why = why
        self._fetching: asyncio.Task[None] | None = None

    def __call__(self) -> None:
        """Start a fetch unless one is under way (or there is no price list to ask)."""
        price_lists = self.price_lists
        if price_lists is None or (self._fetching is not None and not self._fetching.done()):
            return

        async def fetch() -> None:
            try:
                await asyncio.wait_for(price_lists.current([Line.PREPAID]), PRICE_LIST_DEADLINE)
            except Exception:
                log.warning("could not fetch the price list for %s", self.why, exc_info=True)

        self._fetching = self.spawn(fetch(), "monitor-price-list")


class Watch(Protocol):
    """What the monitor runs for one kind each tick, in the tick's transaction."""

    def run(self, tick: Tick) -> None:
        """Gather, decide, and apply what changes."""


class KindModule(Protocol):
    """A module of `bot.incidents.kinds` as the monitor uses it."""

    def watch(self, context: WatchContext) -> Watch | None:
        """The kind's watch (None: this configuration does not watch it)."""
