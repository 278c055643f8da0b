"""`/iak code` throughput and latency against a bare Bolt app that only acks (the floor).

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
    bot: LoadResult
    floor: LoadResult

    @property
    def ratio(self) -> float:
        return self.bot.requests_per_second / self.floor.requests_per_second


def measure(connections: int = 20, seconds: float = 10) -> SlashResult:
    """Run the floor and the bot one after the other under the same load."""
    body, headers = signed_command("code 17")
    port = free_port()
    floor_argv = baseline_app("benchmarks.floor_bolt:create_app", port)

    def load(url: str) -> LoadResult:
        events = url + "/slack/events"
        wrk(events, body=body, headers=headers, connections=connections, seconds=2)  # warm up
        return wrk(events, body=body, headers=headers, connections=connections, seconds=seconds)

    with serve(floor_argv, bench_env(PYTHONPATH=str(ROOT)), port) as floor:
        floor_result = load(floor.url)
    port = free_port()
    with serve(iak_bot("serve"), bench_env(PORT=str(port)), port) as bot:
        bot_result = load(bot.url)
    return SlashResult(bot_result, floor_result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    result = measure(args.connections, args.seconds)
    print(f"/iak code 17 at {args.connections} concurrent connections, {args.seconds:.0f} s each")
    print(result.floor.line("bare Bolt app (floor)"))
    print(result.bot.line("iak-bot"))
    verdict = "met" if result.ratio >= 0.8 and result.bot.p99_ms < 50 else "NOT met"
    record(
        f"/iak code throughput, {args.connections} concurrent",
        f"{result.bot.requests_per_second:.0f} req/s "
        f"(floor {result.floor.requests_per_second:.0f})",
        ">= 0.8 of a bare Bolt app",
        result.ratio >= 0.8,
        f"{result.ratio:.2f}",
    )
    record(
        f"/iak code p99, {args.connections} concurrent",
        f"{result.bot.p99_ms:.1f} ms (p50 {result.bot.p50_ms:.1f})",
        "< 50 ms",
        result.bot.p99_ms < 50,
    )
    print(
        f"throughput ratio {result.ratio:.2f} of floor (goal >= 0.80), "
        f"p99 {result.bot.p99_ms:.1f} ms (goal < 50): {verdict}"
    )


if __name__ == "__main__":
    main()
