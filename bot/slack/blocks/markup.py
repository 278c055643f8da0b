"""Slack's mrkdwn, written so that text from outside can only ever show as text.

Slack acts on `<…>` in every mrkdwn text object and in a message's `text` fallback, which
notifications parse too: `<!channel>` pings the channel, `<@U…>` a person, `<#C…>` names a
channel, `<https://x|y>` is a link. A ref_id, an rc, IAK's message, a product's name, what
someone typed: any of them may hold one. So a plain `str` is always text: the builders in
`bot.slack.blocks.text` escape it. Markup is a `Mrkdwn`, which only this module makes: `md`
fills a template with escaped values, and `mention`, `link` and `date` write the controls
the bot means.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

ELLIPSIS = "…"
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
_GROUP_ID = re.compile(r"S[A-Z0-9]{2,20}")
_URL = re.compile(r"https?://[^\s<>|]+")
_DATE_TOKENS = re.compile(r"[{}a-z_ ,:.\-]+")
# A `>` that starts a line is a quote the template asks for; anywhere else it is text.
_QUOTE = re.compile(r"^&gt;", re.MULTILINE)


class Mrkdwn(str):
    """Slack mrkdwn that is safe to send as it is: every value in it was escaped, and every
    `<…>` in it was written by the bot. Made only by this module.

    Anything built from one with `str`'s own tools (`+`, an f-string, `"".join`, a slice) is
    a plain `str` again, which the builders escape whole: the markup then shows as text
    (`&lt;@U…&gt;`), never the reverse. Compose with `md` and `join` instead.
    """

    __slots__ = ()


def escape(text: str) -> str:
    """`& < >` as Slack's escapes: the text shows as typed and can start no control."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def as_mrkdwn(text: str) -> Mrkdwn:
    """Markup as it is; any other `str` escaped, to show as typed."""
    return text if isinstance(text, Mrkdwn) else Mrkdwn(escape(text))


def md(template: str, *values: object, **named: object) -> Mrkdwn:
    """The template's `{}` (or `{name}`, for a translated template) filled with `values`,
    each escaped unless it is `Mrkdwn` already (numbers go in as numbers, so `{:,}` works).

    The template is the bot's own formatting (`*bold*`, `_italic_`, `` `code` ``, emoji, a
    `>` quote at the start of a line). A `<`, `>` or `&` anywhere else in it is escaped as
    well, so a template built from outside text is still safe, and markup enters only
    through `mention`, `link` and `date`. Write the template as a literal: its `{` and `}`
    are format fields. Named fields (`{count}`) take keyword values, so that a translated
    template may move them.
    """
    safe = _QUOTE.sub(">", escape(template))
    return Mrkdwn(
        safe.format(
            *(_value(value) for value in values),
            **{name: _value(value) for name, value in named.items()},
        )
    )


def _value(value: object) -> object:
    # A number cannot hold markup, and kept as one it can still take a format (`{:,}`).
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return as_mrkdwn(value if isinstance(value, str) else str(value))


def join(parts: Iterable[str], separator: str = "\n") -> Mrkdwn:
    """`parts` joined by `separator` (a template): markup kept, any other part escaped."""
    return Mrkdwn(md(separator).join(as_mrkdwn(part) for part in parts))


def is_user_id(text: str) -> bool:
    """Whether `text` is a Slack user id (`U0LEAD`, `W0ENTERPRISE1`): one `mention` pings."""
    return _USER_ID.fullmatch(text) is not None


def mention(user_id: str) -> Mrkdwn:
    """`<@U0LEAD>`: a mention that pings the person (their name, in every client).

    Only a Slack user id becomes one; anything else shows as text, since a mention is the
    markup that pings and ids come back from the database, not only from Slack.
    """
    if is_user_id(user_id):
        return Mrkdwn(f"<@{user_id}>")
    return as_mrkdwn(user_id)


def group_mention(group_id: str) -> Mrkdwn:
    """`<!subteam^S0ONCALL>`: a mention that pings everyone in a Slack user group.

    Only a user group id becomes one; anything else shows as text.
    """
    if _GROUP_ID.fullmatch(group_id):
        return Mrkdwn(f"<!subteam^{group_id}>")
    return as_mrkdwn(group_id)


def mentions(ids: Iterable[str]) -> Mrkdwn:
    """User groups (`S…`) and users (`U…`) as mentions that ping them, space-separated."""
    return join(
        (group_mention(one) if _GROUP_ID.fullmatch(one) else mention(one) for one in ids), " "
    )


def permalink(channel: str, ts: str) -> str:
    """A link to a message (its thread opens from it)."""
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


def link(url: str, title: str) -> Mrkdwn:
    """`<https://…|title>`: a link the bot means (IAK's pages, a permalink), its title shown
    as text. A URL that is not plain http(s) gives the title alone, not a link."""
    if not _URL.fullmatch(url):
        return as_mrkdwn(title)
    return Mrkdwn(f"<{escape(url)}|{escape(title)}>")


def date(moment: datetime, tokens: str, fallback: str) -> Mrkdwn:
    """`<!date^…>`: `moment` in each reader's own time zone, written with Slack's `tokens`
    (`{date_short_pretty} {time}`); `fallback` where a client cannot (and in a terminal)."""
    if not _DATE_TOKENS.fullmatch(tokens):
        raise ValueError(f"not Slack date tokens: {tokens!r}")
    return Mrkdwn(f"<!date^{int(moment.timestamp())}^{tokens}|{escape(fallback)}>")


def cut(text: Mrkdwn, limit: int) -> Mrkdwn:
    """Markup cut to at most `limit` characters, ending with an ellipsis when cut, never
    inside an escape or a control: half of `&amp;` or of `<@U…>` would show as debris."""
    if len(text) <= limit:
        return text
    end = max(limit - 1, 0)
    control = text.rfind("<", 0, end)
    if control != -1 and text.find(">", control) >= end:
        end = control
    entity = text.rfind("&", 0, end)
    if entity != -1 and text.find(";", entity) >= end:
        end = entity
    return Mrkdwn(text[:end].rstrip() + ELLIPSIS)
