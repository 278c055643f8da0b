"""Check a transaction at IAK: the one use case `/iak status`, the Recheck button, the
monitor's re-checks and `iak-bot status` all call.

It asks IAK's check-status on the transaction's line (prepaid or postpaid: the only place
that forks on it), records what IAK said through the store's writer (state only moves
forward), and returns one typed result. It never raises for IAK's sake: a timeout, a refusal
or garbage is an answer with a `failure` or a refused rc, and its outcome is unknown.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.clock import Clock
from bot.iak.client import IakClient, PostpaidCheck, StatusCheck
from bot.outcomes import Line, Outcome, Source
from bot.store.database import Database
from bot.store.states import Observation, Reported
from bot.store.transactions import History

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checked:
    """What one check found: IAK's answer on the transaction's line, and the ref_id's history
    as the store holds it now (None without a store, or when it could not be read)."""

    ref_id: str
    line: Line
    answer: StatusCheck | PostpaidCheck
    history: History | None = None

    @property
    def outcome(self) -> Outcome:
        """The outcome as the store keeps it (a postpaid bill never paid is a failure)."""
        answer = self.answer
        return answer.outcome.stored if isinstance(answer, PostpaidCheck) else answer.outcome

    @property
    def reported(self) -> Reported | None:
        """The transaction IAK described, when it described one."""
        answer = self.answer
        return answer.bill if isinstance(answer, PostpaidCheck) else answer.transaction

    @property
    def answered(self) -> bool:
        """Whether IAK gave a usable answer (even one refusing the check)."""
        return self.answer.failure is None


class TransactionChecks:
    """Checks at IAK, recorded in the store when there is one."""

    def __init__(self, iak: IakClient, store: Database | None, clock: Clock) -> None:
        self.iak = iak
        self.store = store
        self.clock = clock

    async def check(self, ref_id: str, line: Line = Line.PREPAID) -> Checked:
        """For a person: ask IAK about `ref_id` on `line`, record the answer, and read back
        everything the store holds of it. A store that is down costs only the history."""
        checked = await self._ask(ref_id, line)
        if self.store is None:
            return checked
        try:
            await self._record(checked)
            history = await asyncio.to_thread(self.store.transactions.history, ref_id)
        except Exception:
            log.exception("could not record or read the history of %s", ref_id)
            return checked
        return Checked(ref_id, line, checked.answer, history)

    async def recheck(self, ref_id: str, line: Line) -> Checked:
        """For the monitor: ask and record; an answer that cannot be stored raises, so the
        transaction stays due."""
        checked = await self._ask(ref_id, line)
        await self._record(checked)
        return checked

    async def _ask(self, ref_id: str, line: Line) -> Checked:
        answer: StatusCheck | PostpaidCheck
        if line is Line.POSTPAID:
            answer = await self.iak.check_postpaid_status(ref_id)
        else:
            answer = await self.iak.check_status(ref_id)
        return Checked(ref_id, line, answer)

    async def _record(self, checked: Checked) -> None:
        data = checked.reported
        if self.store is None or data is None:
            return
        observation = Observation(
            Source.STATUS_CHECK, data, checked.outcome, self.clock.now(), line=checked.line
        )
        await self.store.writer.enqueue(observation)
