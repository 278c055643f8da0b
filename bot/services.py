"""What listeners and routes are given to work with (built once, in `bot.app`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.background import BackgroundTasks
from bot.clock import Clock
from bot.config import Settings
from bot.iak.client import IakClient
from bot.incidents.repository import IncidentRepository
from bot.metrics import Metrics
from bot.price_lists import PriceLists
from bot.registry import Registry
from bot.slack.cooldown import Cooldown
from bot.slack.workspace import Workspace
from bot.store.database import Database


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
    # None when IAK_USERNAME / IAK_API_KEY are unset: /iak status then says what to set.
    iak: IakClient | None = None
    # IAK's price lists, cached in the database; None without IAK credentials, as `iak`.
    price_lists: PriceLists | None = None
    # this process's counters and histograms, shown by GET /metrics
    metrics: Metrics = field(default_factory=Metrics)
