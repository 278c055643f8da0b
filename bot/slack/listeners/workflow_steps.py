"""The Workflow Builder step `check_iak_transaction` (Bolt's `app.function`).

Slack sends a `function_executed` event; Bolt acknowledges it when the listener returns,
so the listener only reads the inputs and leaves the check at IAK (up to 10 s) to the
background. The step ends with `functions.completeSuccess` (or `completeError` for a bad
input), sent with the token Slack gave for this execution (Bolt's `complete` and `fail`).

What the step writes is for the workflow's channel or ticket, so it is in BOT_LANGUAGE,
like the bot's channel messages.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.complete.async_complete import AsyncComplete
from slack_bolt.context.fail.async_fail import AsyncFail

from bot.checks import TransactionChecks
from bot.i18n import _, language
from bot.services import Services
from bot.shapes import Json
from bot.slack.workflow_step import (
    CALLBACK_ID,
    BadInput,
    NotARefId,
    StepInput,
    not_a_ref_id_outputs,
    not_configured_outputs,
    outputs,
    read_inputs,
)

log = logging.getLogger(__name__)


class CheckStep:
    """Runs the step: a bad input fails it, anything else completes it."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def execute(self, inputs: Json, complete: AsyncComplete, fail: AsyncFail) -> None:
        """Bolt listener for `function_executed`: the work goes on after the ack."""
        with language(self.services.settings.bot_language):
            step = read_inputs(inputs)
        self.services.background.spawn(self._finish(step, complete, fail), name="workflow-step")

    async def _finish(
        self, step: StepInput | NotARefId | BadInput, complete: AsyncComplete, fail: AsyncFail
    ) -> None:
        with language(self.services.settings.bot_language):
            if isinstance(step, BadInput):
                log.info("workflow step %s failed on its inputs: %s", CALLBACK_ID, step.reason)
                await _send(fail(step.reason), what="completeError")
                return
            if isinstance(step, NotARefId):
                await _send(complete(not_a_ref_id_outputs(step)), what="completeSuccess")
                return
            try:
                result = await self._outputs(step)
            except Exception:
                # a bug, not IAK (checks never raise for IAK's sake): fail rather than leave
                # the workflow waiting for ever
                error_id = secrets.token_hex(4)
                log.exception("workflow step on %s failed (error id %s)", step.ref_id, error_id)
                reason = _("The bot could not check it (error id {error_id}): see its logs.")
                await _send(fail(reason.format(error_id=error_id)), what="completeError")
                return
            await _send(complete(result), what="completeSuccess")

    async def _outputs(self, step: StepInput) -> dict[str, str]:
        services = self.services
        if services.iak is None:
            return not_configured_outputs(step)
        checks = TransactionChecks(services.iak, services.database, services.clock)
        checked = await checks.check(step.ref_id, step.line)
        return outputs(checked, services.registry, mask=services.settings.mask_customer_id)


async def _send(end: Awaitable[object], *, what: str) -> None:
    """Tell Slack how the step ended; a Slack that cannot be told is logged (the workflow
    shows the step as still running until Slack times it out)."""
    try:
        await end
    except Exception as exc:
        log.warning("could not send functions.%s to Slack: %s", what, exc)


def register(app: AsyncApp, services: Services) -> None:
    """Wire the step. It answers whichever workflow runs it: what it shows is masked as in a
    channel message (see bot.slack.workflow_step)."""
    app.function(CALLBACK_ID)(CheckStep(services).execute)
