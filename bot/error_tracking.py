"""Unhandled errors to Sentry (SENTRY_DSN), scrubbed by the same redaction as the logs.

Sentry is imported only when a DSN is set. What it would send is cut down first (no local
variables, no personal data, only the integrations named here), then every string left in
an event, breadcrumbs and request included, passes through the logs' `Redactor`: no token,
key, IAK sign or customer number leaves the process in an error report either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from bot.config import Settings
from bot.logs import Redactor, secrets_of
from bot.shapes import Json

# Fields that Sentry itself fills with ids (32 hex digits, like an IAK sign): kept as they
# are, or Sentry could not tell one event or trace from another.
_SENTRY_IDS = frozenset({"event_id", "trace_id", "span_id", "parent_span_id", "sdk", "debug_meta"})

if TYPE_CHECKING:
    from sentry_sdk.types import Event


def start_error_tracking(settings: Settings) -> bool:
    """Report unhandled errors to SENTRY_DSN; False (and nothing imported) without one."""
    if not settings.sentry_dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.fastapi import FastApiIntegration
    from sentry_sdk.integrations.starlette import StarletteIntegration

    clean = redacting(Redactor(secrets_of(settings)))
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.iak_env,
        integrations=[StarletteIntegration(), FastApiIntegration()],
        # Only what is named above and the defaults (logging, threads, the excepthook):
        # the auto-enabled ones would add breadcrumbs of every HTTP call, Slack's
        # response_url (a credential of its own) among them.
        auto_enabling_integrations=False,
        # Locals and request bodies hold settings, keys, signs, Slack's response_url and
        # customer numbers that no pattern can all recognise: never sent.
        include_local_variables=False,
        max_request_body_size="never",
        before_send=lambda event, _hint: cast("Event", clean(event)),
        before_breadcrumb=lambda crumb, _hint: cast("Json", clean(crumb)),
    )
    return True


def redacting(redact: Redactor) -> Callable[[object], object]:
    """What redacts every string of an event or breadcrumb, keys included."""

    def clean(value: object) -> object:
        if isinstance(value, str):
            return redact(value)
        if isinstance(value, dict):
            return {
                clean(key): item if key in _SENTRY_IDS else clean(item)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            return [clean(item) for item in value]
        return value

    return clean
