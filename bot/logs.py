"""Logging: one line per event (text or JSON), with the request id, and nothing secret.

Every line passes through `Redactor` after formatting, so a secret cannot leak through a
message, an exception or a library's log call: the configured tokens and keys are replaced
by name, IAK signs (32 hex digits) and long digit runs (customer numbers, PLN tokens) are
masked, and the row values Postgres quotes in an error's DETAIL are hidden.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from bot.config import Settings
from bot.controls import without_controls
from bot.masking import visible_ends

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# md5 hex: an IAK sign (it is a password equivalent for that ref_id)
_SIGN = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{32}(?![0-9a-fA-F])")
# phone numbers (08…, 62…, +62…) and PLN meter numbers: 10+ digits in a run; PLN tokens
# as printed: five groups of four digits (dates and times never look like either)
_LONG_DIGITS = re.compile(r"(?<![\d.])\+?\d{10,}(?![\d.])|(?<!\d)\d{4}(?:[- ]\d{4}){4}(?!\d)")

# Postgres names a row's values in an error's DETAIL ("Failing row contains (…)", "Key
# (ref_id)=(…) already exists"): the columns stay, the values go, whatever they are.
_ROW_VALUES = re.compile(
    r"(Failing row contains )\(.*\)"
    r"|(Key \(.*?\)=)\(.*?\)(?= (?:already exists|is not present|is still referenced|conflicts))"
)


class Redactor:
    """Removes secrets and customer numbers from a finished log line."""

    def __init__(self, secrets: dict[str, str]) -> None:
        # longest first, so a secret containing another is replaced whole
        self._secrets = sorted(
            ((value, name) for name, value in secrets.items() if value and len(value) >= 6),
            key=lambda item: -len(item[0]),
        )

    def __call__(self, line: str) -> str:
        for value, name in self._secrets:
            if value in line:
                line = line.replace(value, f"[{name}]")
        line = _SIGN.sub("[sign]", line)
        line = _ROW_VALUES.sub(_hide_values, line)
        return _LONG_DIGITS.sub(_mask_digits, line)


def _hide_values(match: re.Match[str]) -> str:
    return (match.group(1) or match.group(2)) + "(…)"


def _mask_digits(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = [c for c in text if c.isdigit()]
    if len(digits) < 10:
        return text
    first, last = visible_ends(len(digits))
    return "".join(digits[:first]) + "***" + "".join(digits[-last:])


def secrets_of(settings: Settings) -> dict[str, str]:
    """The setting values that must never be logged, by variable name."""
    found = {
        "SLACK_BOT_TOKEN": settings.slack_bot_token or "",
        "SLACK_SIGNING_SECRET": settings.slack_signing_secret or "",
        "SLACK_APP_TOKEN": settings.slack_app_token or "",
        "IAK_API_KEY": settings.iak_api_key or "",
        "INGEST_TOKEN": settings.ingest_token or "",
        "METRICS_TOKEN": settings.metrics_token or "",
    }
    password = urlsplit(settings.database_url).password
    if password:
        found["DATABASE_PASSWORD"] = unquote(password)
    return found


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        return True


class RedactingFormatter(logging.Formatter):
    """Text lines: time, level, logger, request id, message; then redacted."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        # A traceback stays one event: its lines are joined so it cannot be read as many;
        # a CR or an escape sequence from outside could still fake or hide one: removed.
        return without_controls(self.redact(super().format(record)).replace("\n", " | "))


class JsonFormatter(logging.Formatter):
    """One JSON object per line, redacted."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", None),
            "message": self.redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(settings: Settings) -> None:
    """Configure the root logger from LOG_LEVEL and LOG_FORMAT, for every library too."""
    redact = Redactor(secrets_of(settings))
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RequestIdFilter())
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter(redact))
    else:
        handler.setFormatter(RedactingFormatter(redact))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # uvicorn's loggers come through the root handler (uvicorn is told not to configure them);
    # its access log is off: bot.web logs each request once, with its id and duration.
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
