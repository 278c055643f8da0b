"""Every kind of incident has its two modules, and they name what the tick, the store and
the notifier need: adding a kind to `IncidentKind` without them fails here, listing every
gap at once."""

from __future__ import annotations

import dataclasses
import importlib
from collections import Counter
from datetime import time, timedelta

from bot.incidents import kinds
from bot.incidents.config import MonitorConfig
from bot.incidents.model import SHARED_REPLIES, Details, IncidentKind, Reply
from bot.incidents.tick import watches
from bot.incidents.watch import WatchContext
from bot.registry import Registry
from bot.slack.alerts.common import Renderer

EVERYTHING_ON = MonitorConfig(
    interval=timedelta(seconds=30),
    age_out=timedelta(seconds=900),
    spike_window=timedelta(seconds=300),
    spike_min_failures=10,
    spike_factor=3,
    low_balance_threshold=1_000_000,
    digest_time=time(8, 0),
    handover_times=(time(8, 0), time(16, 0)),
    watch_callbacks=True,
)


def test_every_kind_has_its_modules_and_names_what_is_needed() -> None:
    gaps = []
    for kind in IncidentKind:
        try:
            module = kinds.module(kind)
        except ModuleNotFoundError:
            gaps.append(f"{kind.value}: no bot/incidents/kinds/{kind.value}.py")
            continue
        details = getattr(module, "DETAILS", None)
        if not (isinstance(details, type) and issubclass(details, Details)):
            gaps.append(f"{kind.value}: DETAILS is not a Details dataclass")
        replies = getattr(module, "REPLIES", None)
        if not isinstance(replies, tuple) or not all(issubclass(r, Reply) for r in replies):
            gaps.append(f"{kind.value}: REPLIES is not a tuple of Reply types")
        if not callable(getattr(module, "watch", None)):
            gaps.append(f"{kind.value}: no watch(context)")
        try:
            drawn = importlib.import_module(f"bot.slack.alerts.kinds.{kind.value}")
        except ModuleNotFoundError:
            gaps.append(f"{kind.value}: no bot/slack/alerts/kinds/{kind.value}.py")
            continue
        if not isinstance(getattr(drawn, "RENDERER", None), Renderer):
            gaps.append(f"{kind.value}: its renderer module has no RENDERER")
    assert gaps == []


def test_reply_names_are_unique_across_kinds() -> None:
    names = Counter(reply.kind for reply in SHARED_REPLIES)
    for kind in IncidentKind:
        names.update(reply.kind for reply in kinds.module(kind).REPLIES)
    assert [name for name, count in names.items() if count > 1] == []
    assert set(kinds.reply_types()) == set(names)


def test_the_tick_runs_one_watch_per_kind_when_everything_is_on(registry: Registry) -> None:
    running = watches(WatchContext(EVERYTHING_ON, registry))
    assert len(running) == len(IncidentKind)


def test_settings_turn_the_optional_kinds_off(registry: Registry) -> None:
    quiet = dataclasses.replace(
        EVERYTHING_ON,
        low_balance_threshold=None,
        digest_time=None,
        handover_times=(),
        watch_callbacks=False,
    )
    running = {type(watch).__name__ for watch in watches(WatchContext(quiet, registry))}
    assert running.isdisjoint({"DepositWatch", "DigestWatch", "HandoverWatch", "CallbacksWatch"})
    assert {"PendingWatch", "SpikeWatch"} <= running
