"""`/iak code` throughput and latency against a bare Bolt app that only acks (the floor).

The floor serves Bolt behind a FastAPI route, as the bot once did; the bot now serves
Slack's route ahead of FastAPI (bot.web.FastPath), so a ratio above 1 means the bot's own
work per command costs less than the FastAPI layers it skips.

Both servers run as real processes started the same way (uvicorn, one worker) and are
driven by wrk with signed requests over loopback at a fixed concurrency.
Goal (issue 2): at least 0.8 of the floor's throughput and p99 under 50 ms at 20 concurrent.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from benchmarks.common import (
    ROOT,
    SIGNING_SECRET,
    LoadResult,
    baseline_app,
    bench_env,
    free_port,
    iak_bot,
    median_round,
    record,
    serve,
    wrk,
)


def signed_command(text: str) -> tuple[bytes, dict[str, str]]:
    """A `/iak` slash-command body and Slack's headers, signed now (valid for 5 minutes)."""
    body = urlencode(
        {
            "team_id": "T0BENCH",
            "channel_id": "C0BENCH",
            "user_id": "U0BENCH",
            "command": "/iak",
            "text": text,
            "response_url": "http://127.0.0.1:9/response",
            "trigger_id": "1.2.3",
            "api_app_id": "A0BENCH",
        }
    )
    stamp = str(int(time.time()))
    signature = (
        "v0="
        + hmac.new(
            SIGNING_SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256
        ).hexdigest()
    )
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }
    return body.encode(), headers


@dataclass
class SlashResult:
    """The round whose ratio is the median of all rounds, and every round's ratio."""

    bot: LoadResult
    floor: LoadResult
    ratios: list[float]

    @property
    def ratio(self) -> float:
        return self.bot.requests_per_second / self.floor.requests_per_second


def measure(connections: int = 20, seconds: float = 5, rounds: int = 3) -> SlashResult:
    """Serve the floor and the bot side by side and load them in turn, `rounds` times: a
    neighbour's load on a shared machine then weighs on both halves of a round alike, where
    one run of each, a minute apart, gave ratios from 0.68 to 0.96 for the same code."""
    body, headers = signed_command("code 17")
    floor_port, bot_port = free_port(), free_port()
    floor_argv = baseline_app("benchmarks.floor_bolt:create_app", floor_port)

    def load(url: str, length: float) -> LoadResult:
        events = url + "/slack/events"
        return wrk(events, body=body, headers=headers, connections=connections, seconds=length)

    with (
        serve(floor_argv, bench_env(PYTHONPATH=str(ROOT)), floor_port) as floor,
        serve(iak_bot("serve"), bench_env(PORT=str(bot_port)), bot_port) as bot,
    ):
        load(floor.url, 2)  # warm up
        load(bot.url, 2)
        pairs = [(load(bot.url, seconds), load(floor.url, seconds)) for _ in range(rounds)]
    bot_result, floor_result, ratios = median_round(pairs, lambda run: run.requests_per_second)
    return SlashResult(bot_result, floor_result, ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5, help="each run's length")
    parser.add_argument("--rounds", type=int, default=3, help="floor and bot runs, in turn")
    args = parser.parse_args()
    result = measure(args.connections, args.seconds, args.rounds)
    print(
        f"/iak code 17 at {args.connections} concurrent connections, {args.rounds} rounds of "
        f"{args.seconds:.0f} s each, the bot and the floor in turn (the median round below)"
    )
    print(result.floor.line("bare Bolt app (floor)"))
    print(result.bot.line("iak-bot"))
    verdict = "met" if result.ratio >= 0.8 and result.bot.p99_ms < 50 else "NOT met"
    record(
        f"/iak code throughput, {args.connections} concurrent",
        f"{result.bot.requests_per_second:.0f} req/s "
        f"(floor {result.floor.requests_per_second:.0f})",
        ">= 0.8 of a bare Bolt app",
        result.ratio >= 0.8,
        f"{result.ratio:.2f} (median of {len(result.ratios)} rounds)",
    )
    record(
        f"/iak code p99, {args.connections} concurrent",
        f"{result.bot.p99_ms:.1f} ms (p50 {result.bot.p50_ms:.1f})",
        "< 50 ms",
        result.bot.p99_ms < 50,
    )
    print("ratio per round: " + ", ".join(f"{ratio:.2f}" for ratio in result.ratios))
    print(
        f"throughput ratio {result.ratio:.2f} of floor (goal >= 0.80), "
        f"p99 {result.bot.p99_ms:.1f} ms (goal < 50): {verdict}"
    )


if __name__ == "__main__":
    main()
