"""How trouble with IAK's callbacks looks: missing or refused, the likely cause, the fix."""

from __future__ import annotations

from datetime import datetime

from bot.clock import wib_time
from bot.config import IAK_CALLBACK_IPS
from bot.i18n import _
from bot.incidents.kinds.callbacks import CallbackDetails, CallbackProblem, RefusedCallbacks
from bot.incidents.model import Incident, Resolved
from bot.outcomes import Refusal
from bot.registry import Registry
from bot.slack.alerts.common import Renderer, View
from bot.slack.blocks.markup import Mrkdwn, join, link, md
from bot.slack.blocks.text import Block, Message, context, header, message, section, truncate

# Where the callback URL is set, per IAK_ENV.
IAK_CALLBACK_SETTINGS = {
    "development": "https://developer.iak.id/dev-setting",
    "production": "https://developer.iak.id/prod-setting",
}


def callbacks_title(d: CallbackDetails) -> str:
    """What is wrong with IAK's callbacks, in a few words."""
    if d.problem is CallbackProblem.MISSING:
        return _("IAK callbacks missing")
    return _("IAK callbacks refused")


def _refused_line(refused: RefusedCallbacks, d: CallbackDetails) -> Mrkdwn:
    at = wib_time(refused.last_at)
    if refused.reason is Refusal.BAD_SIGN:
        return md(
            _(
                "*{count}* refused for a wrong sign (401), the last at {at}. Likely cause: "
                "IAK_API_KEY is the key of the other environment (IAK_ENV is {env}; IAK "
                "signs each callback with the key of the environment that sends it)."
            ),
            count=refused.count,
            at=at,
            env=d.iak_env,
        )
    if refused.reason is Refusal.NOT_ALLOWED:
        documented = {ip: env for env, ip in IAK_CALLBACK_IPS.items()}
        if refused.address in documented:
            return md(
                _(
                    "*{count}* refused by CALLBACK_ALLOWED_IPS (403), the last from *{address}* "
                    "at {at}. Likely cause: CALLBACK_ALLOWED_IPS leaves out {address}, the "
                    "address IAK documents for {env}: add it."
                ),
                count=refused.count,
                address=refused.address,
                at=at,
                env=documented[refused.address],
            )
        # Never suggest allowing an address nobody knows to be IAK's: these name ref_ids we
        # sent, which anyone who learns a ref_id can do.
        return md(
            _(
                "*{count}* refused by CALLBACK_ALLOWED_IPS (403), the last from *{address}* "
                "at {at}, for ref_ids the bot knows. {address} is not an address IAK "
                "documents ({iak} for {env}): do not allow it unless IAK confirms it is "
                "theirs (or it is a proxy of ours in front of the bot)."
            ),
            count=refused.count,
            address=refused.address or _("an unknown address"),
            at=at,
            iak=d.iak_address or "?",
            env=d.iak_env,
        )
    if refused.reason is Refusal.TOO_LARGE:
        return md(
            _(
                "*{count}* refused as too large (413, over 64 KiB), the last at {at}. Likely "
                "cause: not IAK's callback (IAK's are well under 1 KiB), or a proxy that "
                "adds to the body."
            ),
            count=refused.count,
            at=at,
        )
    return md(
        _(
            "*{count}* refused as unreadable (400), the last at {at}: {detail}. Likely "
            "cause: a body we cannot read (not IAK's callback format, or a proxy that "
            "changes it)."
        ),
        count=refused.count,
        at=at,
        detail=refused.detail or "?",
    )


class CallbacksRenderer(Renderer):
    """IAK's callbacks missing or refused."""

    emoji = ":satellite_antenna:"

    def parent(self, incident: Incident, now: datetime, view: View) -> Message:
        d = incident.details
        assert isinstance(d, CallbackDetails)
        if d.problem is CallbackProblem.MISSING:
            summary = _(
                "{count} outcomes in the last hour were learned by asking IAK, none by its "
                "callback."
            ).format(count=d.finals_without)
        else:
            summary = _("{count} callbacks refused in the last hour, none accepted since.").format(
                count=d.refused_count
            )
        if incident.is_open:
            title = f":satellite_antenna: {callbacks_title(d)}"
            text = f"{callbacks_title(d)}: {summary}"
        else:
            title = ":white_check_mark: " + _("Resolved: IAK's callbacks are accepted again")
            text = _("Resolved: IAK's callbacks are accepted again (it was: {summary})").format(
                summary=summary
            )
        lines: list[Mrkdwn] = []
        if d.problem is CallbackProblem.MISSING:
            settings = IAK_CALLBACK_SETTINGS.get(d.iak_env, IAK_CALLBACK_SETTINGS["production"])
            lines.append(
                md(
                    _(
                        "*{count}* transactions reached a final outcome in the last hour "
                        "through the bot's re-checks or the backend's answers, and *none* "
                        "through IAK's callback."
                    ),
                    count=d.finals_without,
                )
            )
            lines.append(
                md(
                    _(
                        "Likely cause: the callback URL is not set in {settings} ({env}): set it "
                        "to this bot's address followed by `/iak/callback`. Or IAK cannot reach "
                        "the bot (a firewall, or the app asleep)."
                    ),
                    settings=link(settings, _("IAK's developer settings")),
                    env=d.iak_env,
                )
            )
        for refused in d.refused:
            lines.append(_refused_line(refused, d))
        blocks: list[Block] = [header(truncate(title, 150)), section(join(lines))]
        if incident.is_open:
            blocks.append(
                context(
                    _(
                        "Outcomes still arrive through the bot's re-checks, only later. This "
                        "resolves when IAK's next callback is accepted."
                    )
                )
            )
        return message(text, blocks)

    def title(self, incident: Incident, registry: Registry) -> str:
        d = incident.details
        assert isinstance(d, CallbackDetails)
        return callbacks_title(d)

    def resolved(self, incident: Incident, reply: Resolved, lasted: str) -> str:
        return _("Resolved after {lasted}: IAK's callbacks are accepted again.").format(
            lasted=lasted
        )

    def changed_since_open(self, incident: Incident) -> str:
        d = incident.details
        assert isinstance(d, CallbackDetails)
        return _(
            "Since {opened}: {finals} outcomes learned without a callback and {refused} "
            "callbacks refused in the last hour."
        ).format(
            opened=wib_time(incident.opened_at), finals=d.finals_without, refused=d.refused_count
        )


RENDERER = CallbacksRenderer()
