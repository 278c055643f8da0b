"""Slack's requests as listeners read them, and the answers in or after an ack.

One reader for what a click carries (`Click.of`), one way to answer a slash command in its
ack (`ack_ephemeral`), and one way to post to a request's `response_url` (`post_later`),
with one error policy: an unreachable, expired (30 minutes)
or overused (5 posts) response_url is logged, never raised, since nobody is left to tell.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from slack_bolt.async_app import AsyncAck, AsyncRespond

from bot.background import BackgroundTasks
from bot.logs import request_id
from bot.shapes import JsonView, Work
from bot.slack.blocks.text import Message, failure_note

log = logging.getLogger(__name__)

# Slack's ids are short; anything longer did not come from Slack.
MAX_SLACK_ID = 32


@dataclass(frozen=True)
class Click:
    """A click on one of the bot's buttons or menus (a block_actions payload)."""

    action_id: str
    # a button's value, or the value of the option chosen in a menu
    value: str
    user_id: str
    # where the clicked message is (None on the App Home tab)
    channel_id: str | None

    @classmethod
    def of(cls, body: JsonView) -> Click:
        """Read the first action of a block_actions payload; missing parts are empty."""
        actions = body.get("actions") or [{}]
        action = actions[0] if isinstance(actions[0], dict) else {}
        option = action.get("selected_option") or {}
        value = action.get("value") or (option.get("value") if isinstance(option, dict) else "")
        user = body.get("user") or {}
        channel = body.get("channel") or {}
        container = body.get("container") or {}
        channel_id = channel.get("id") or container.get("channel_id")
        return cls(
            action_id=str(action.get("action_id", "")),
            value=str(value or ""),
            user_id=str(user.get("id", ""))[:MAX_SLACK_ID],
            channel_id=str(channel_id)[:MAX_SLACK_ID] if channel_id else None,
        )


async def ack_ephemeral(ack: AsyncAck, message: Message) -> None:
    """Answer in the ack itself: only the caller sees it, and no round trip is needed."""
    await ack({"response_type": "ephemeral", "text": message["text"], "blocks": message["blocks"]})


async def post_later(
    respond: AsyncRespond,
    message: Message,
    *,
    what: str,
    replace_original: bool = False,
    in_channel: bool = False,
) -> bool:
    """Post an answer to the request's response_url: ephemeral unless `in_channel`, as a new
    message unless `replace_original`. False (and a log line) when it could not be posted."""
    if respond.response_url is None:
        log.info("no response_url to post the %s to", what)
        return False
    try:
        answer = await respond(
            response_type="in_channel" if in_channel else "ephemeral",
            replace_original=replace_original,
            text=message["text"],
            blocks=message["blocks"],
        )
    except Exception as exc:  # an unreachable or malformed response_url
        log.warning("could not post the %s to response_url: %s", what, exc)
        return False
    if answer.status_code != 200:
        log.warning(
            "response_url refused the %s: HTTP %s %s", what, answer.status_code, answer.body[:200]
        )
        return False
    return True


def post_soon(
    background: BackgroundTasks,
    respond: AsyncRespond,
    message: Message,
    *,
    what: str,
    replace_original: bool = False,
    in_channel: bool = False,
) -> None:
    """`post_later` once the ack has gone: a listener never makes Slack wait for it."""
    background.spawn(
        post_later(
            respond, message, what=what, replace_original=replace_original, in_channel=in_channel
        ),
        name=f"post-{what.replace(' ', '-')}",
    )


def answer_later(
    background: BackgroundTasks,
    respond: AsyncRespond,
    work: Work,
    *,
    what: str,
    replace_original: bool = True,
) -> None:
    """Run `work` after the ack; it answers through `respond` itself. Should it fail (a bug,
    the database), the person's "Checking…" message is replaced by a short error card with
    the request's id, rather than left waiting for ever (a click on a message everyone sees
    gets the card as a message of its own: `replace_original=False`)."""

    async def run() -> None:
        try:
            await work
        except Exception:
            error_id = request_id.get() or secrets.token_hex(4)
            log.exception("could not answer with the %s (error id %s)", what, error_id)
            await post_later(
                respond,
                failure_note(error_id),
                what=f"error card ({what})",
                replace_original=replace_original,
            )

    background.spawn(run(), name=what.replace(" ", "-"))
