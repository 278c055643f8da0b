"""Timings for tests that talk to the fake IAK."""

from __future__ import annotations

from collections.abc import Callable

from bot.iak.client import CallLimits, IakClient

# Slack's contract: past it the user sees operation_timeout.
SLACK_ACK_DEADLINE = 3.0
# Short enough that a hang costs the suite a third of a second, long enough for loopback
# answers.
SHORT = CallLimits(connect_timeout=0.3, deadline=0.3, backoff=0.01)
# The client tests' limits: retries that happen, at loopback speed.
FAST = CallLimits(connect_timeout=1.0, deadline=2.0, max_retries=2, backoff=0.01)

# tests/iak/conftest.py's `make_client`: an IakClient pointed at the fake IAK.
ClientFactory = Callable[..., IakClient]
