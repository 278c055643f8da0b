"""Timings for tests that talk to the fake IAK."""

from __future__ import annotations

from bot.iak.client import CallLimits

# Slack's contract: past it the user sees operation_timeout.
SLACK_ACK_DEADLINE = 3.0
# Short enough that a hang costs the suite a third of a second, long enough for loopback
# answers.
SHORT = CallLimits(connect_timeout=0.3, deadline=0.3, backoff=0.01)
