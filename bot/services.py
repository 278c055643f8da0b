"""What listeners and routes are given to work with (built once, in `bot.app`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from bot.background import BackgroundTasks
from bot.clock import Clock
from bot.config import Settings
from bot.cooldown import Cooldown
from bot.iak.client import IakClient
from bot.incidents.repository import IncidentRepository
from bot.metrics import Metrics
from bot.price_lists import PriceLists
from bot.registry import Registry
from bot.store.database import Database


class Workspace(Protocol):
    """The bot's own Slack workspace (`bot.slack.workspace.Workspace`)."""

    async def team_id(self) -> str | None:
        """auth.test's team id; None while Slack does not say."""

    async def has_member(self, user_id: str) -> bool:
        """Whether users.info puts the person in that workspace."""


@dataclass
class Services:
    """The bot's shared parts, built from Settings by `bot.app.build_bot`."""

    settings: Settings
    registry: Registry
    background: BackgroundTasks
    database: Database
    clock: Clock
    incidents: IncidentRepository
    # the bot's own Slack workspace (auth.test): requests from others get no data
    workspace: Workspace
    # one live check at IAK per person per CHECK_COOLDOWN: /iak status, /iak balance and
    # the Recheck button share it, so that one person cannot hold every slot at IAK
    check_cooldown: Cooldown
    # one `/iak find` per person per CHECK_COOLDOWN too (a search reveals what a number
    # bought), counted apart from the checks so that a found transaction's Check works at once
    find_cooldown: Cooldown
    # None when IAK_USERNAME / IAK_API_KEY are unset: /iak status then says what to set.
    iak: IakClient | None = None
    # IAK's price lists, cached in the database; None without IAK credentials, as `iak`.
    price_lists: PriceLists | None = None
    # this process's counters and histograms, shown by GET /metrics
    metrics: Metrics = field(default_factory=Metrics)
