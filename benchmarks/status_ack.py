"""`/iak status` ack latency while IAK takes 5 s per answer, and `/iak code` meanwhile.

The bot runs as a real `iak-bot serve` process (uvicorn, one worker). The fake IAK (every
answer delayed) and the response_url sink (the fake Slack) run in a child process of this
one, so their threads never compete with the latency measurement for the GIL; acks are
timed on raw sockets, all requests of a burst written before any answer is read.

1. `/iak code 17` alone, driven by wrk: the usual throughput.
2. Bursts of 20 concurrent `/iak status` commands: ack latency p50/p99/max, and whether
   every command gets its card at response_url: the live status, or, for the checks that
   the bot's cap on requests to IAK (`CallLimits.max_in_flight`) cannot serve before the
   deadline, "busy: try again" (never an error, never "Checking…" left up).
3. The same bursts while wrk drives `/iak code 17`: its throughput with slow checks in flight.

Goal (issue 3): every ack under 100 ms, every command answered with a card, `/iak code` at
its usual speed.
Measured, not asserted.
"""

from __future__ import annotations

import argparse
import multiprocessing
import selectors
import socket
import statistics
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from urllib.parse import urlparse

from benchmarks.common import (
    SIGNING_SECRET,
    LoadResult,
    bench_env,
    free_port,
    iak_bot,
    record,
    serve,
    wrk,
)
from benchmarks.slash_commands import signed_command
from tests.support.slack_requests import SlackSender, sign

IAK_USERNAME = "081200000000"
IAK_API_KEY = "bench-iak-key"
ACK_GOAL_MS = 100.0
LIVE, BUSY, TIMEOUT = "live status", "busy", "timeout"


def run_fakes(conn: Connection, delay: float, ref_ids: list[str]) -> None:
    """Child process: the slow fake IAK and the response_url sink, until told to stop."""
    from tests.support.fakes.iak import FakeIak, transaction
    from tests.support.fakes.slack import RESPONSE_URL_METHOD, FakeSlack

    with FakeIak(IAK_USERNAME, IAK_API_KEY) as fake_iak, FakeSlack() as fake_slack:
        fake_iak.delay = delay
        for ref_id in ref_ids:
            fake_iak.add(transaction(ref_id))
        conn.send((fake_iak.url, fake_slack.base_url, fake_slack.api_url))
        while conn.recv() == "cards":
            # CLOCK_MONOTONIC is system-wide on Linux: these times compare with the parent's.
            conn.send(
                {
                    call.path.rsplit("/", 1)[1]: (call.at, card_kind(str(call.args)))
                    for call in fake_slack.calls_to(RESPONSE_URL_METHOD)
                }
            )


@dataclass
class Burst:
    """What a run of status bursts measured."""

    ack_ms: list[float] = field(default_factory=list)
    failed_acks: int = 0
    sent_at: dict[str, float] = field(default_factory=dict)


def slash_request(sender: SlackSender, host: str, text: str, key: str) -> bytes:
    """The raw HTTP request of a signed `/iak <text>`, as Slack would send it."""
    # One person per request: one person's checks at IAK share a 10 s cooldown.
    body = sender.command_body(text, user_id=f"U0{key}", response_key=key).encode()
    stamp = str(int(time.time()))
    signature = sign(SIGNING_SECRET, stamp, body.decode())
    head = (
        f"POST /slack/events HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Slack-Request-Timestamp: {stamp}\r\nX-Slack-Signature: {signature}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def one_burst(
    address: tuple[str, int], requests: dict[str, bytes], expect: bytes, result: Burst
) -> None:
    """Write every request, then time each answer (which must contain `expect`)."""
    selector = selectors.DefaultSelector()
    sockets: dict[socket.socket, str] = {}
    for ref_id in requests:
        sock = socket.create_connection(address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sockets[sock] = ref_id
    started: dict[socket.socket, float] = {}
    for sock, ref_id in sockets.items():
        started[sock] = time.monotonic()
        sock.sendall(requests[ref_id])
        result.sent_at[ref_id] = started[sock]
        selector.register(sock, selectors.EVENT_READ)
    received = dict.fromkeys(sockets, b"")
    open_ = set(sockets)
    deadline = time.monotonic() + 10
    while open_ and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            chunk = sock.recv(65536)
            received[sock] += chunk
            if chunk:
                continue
            # Connection: close, so the end of the stream is the end of the answer.
            elapsed = (time.monotonic() - started[sock]) * 1000
            answer = received[sock]
            if answer.startswith(b"HTTP/1.1 200") and expect in answer:
                result.ack_ms.append(elapsed)
            else:
                result.failed_acks += 1
            selector.unregister(sock)
            sock.close()
            open_.discard(sock)
    result.failed_acks += len(open_)
    for sock in open_:
        sock.close()


def bursts(
    address: tuple[str, int],
    sender: SlackSender,
    keys: list[list[str]],
    every: float,
    *,
    status: bool = True,
) -> Burst:
    """One burst per list of keys, one every `every` seconds.

    `/iak status <key>` (acked with "Checking…"), or with `status=False` the control:
    `/iak code 17`, answered in the ack itself.
    """
    result = Burst()
    host = f"{address[0]}:{address[1]}"
    expect = b"Checking" if status else b"INSUFFICIENT DEPOSIT"
    for burst in keys:
        began = time.monotonic()
        requests = {
            key: slash_request(sender, host, f"status {key}" if status else "code 17", key)
            for key in burst
        }
        one_burst(address, requests, expect, result)
        time.sleep(max(0.0, every - (time.monotonic() - began)))
    return result


def card_kind(text: str) -> str:
    """What a card at response_url told the person: the live status, "the bot is busy, try
    again" (past its cap on requests to IAK), or something else (an error)."""
    if "Success" in text:
        return LIVE
    if "Too many checks at IAK at once" in text:
        return BUSY
    if "IAK did not answer in time" in text:
        return TIMEOUT  # a slot came free, but too late for IAK's 5 s within the deadline
    return "other"


def wait_for_cards(conn: Connection, burst: Burst, timeout: float) -> dict[str, tuple[float, str]]:
    """Seconds from each command to its card at response_url, and the card's kind."""
    deadline = time.monotonic() + timeout
    while True:
        conn.send("cards")
        cards: dict[str, tuple[float, str]] = conn.recv()
        mine = {ref_id: cards[ref_id] for ref_id in burst.sent_at if ref_id in cards}
        if len(mine) == len(burst.sent_at) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return {ref_id: (at - burst.sent_at[ref_id], kind) for ref_id, (at, kind) in mine.items()}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def report_acks(
    title: str, burst: Burst, delivered: dict[str, tuple[float, str]] | None = None
) -> None:
    acks, total = burst.ack_ms, len(burst.sent_at)
    print(title)
    if acks:
        under = sum(1 for ms in acks if ms < ACK_GOAL_MS)
        print(
            f"  acks {len(acks)}/{total}   p50 {percentile(acks, 0.5):6.2f} ms   "
            f"p99 {percentile(acks, 0.99):6.2f} ms   max {max(acks):6.2f} ms   "
            f"under {ACK_GOAL_MS:.0f} ms: {under}/{total}"
        )
    if burst.failed_acks:
        print(f"  failed acks: {burst.failed_acks}")
    if delivered is None:
        return
    waits = [seconds for seconds, kind in delivered.values() if kind == LIVE]
    kinds = [kind for _, kind in delivered.values()]
    other = len(kinds) - kinds.count(LIVE) - kinds.count(BUSY) - kinds.count(TIMEOUT)
    print(
        f"  cards delivered {len(delivered)}/{total}: live status {kinds.count(LIVE)}, "
        f"busy (try again) {kinds.count(BUSY)}, timed out (treat as pending) "
        f"{kinds.count(TIMEOUT)}, other {other}"
        + (
            f", {statistics.median(waits):.2f} s (p50) to {max(waits):.2f} s (max) after the "
            "command"
            if waits
            else ""
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iak-delay", type=float, default=5.0, help="seconds per IAK answer")
    parser.add_argument("--concurrency", type=int, default=20, help="commands per burst")
    parser.add_argument("--bursts", type=int, default=5)
    parser.add_argument("--every", type=float, default=1.25, help="seconds between bursts")
    parser.add_argument("--seconds", type=float, default=8, help="wrk duration per run")
    parser.add_argument("--wrk-threads", type=int, default=2)
    args = parser.parse_args()

    plan = {
        label: [
            [f"{label}-{round_}-{i}" for i in range(args.concurrency)]
            for round_ in range(args.bursts)
        ]
        for label in ("quiet", "loaded", "code-quiet", "code-loaded")
    }
    every_ref_id = [ref_id for rounds in plan.values() for burst in rounds for ref_id in burst]
    parent, child = multiprocessing.get_context("spawn").Pipe()
    fakes = multiprocessing.get_context("spawn").Process(
        target=run_fakes, args=(child, args.iak_delay, every_ref_id), daemon=True
    )
    fakes.start()
    iak_url, slack_base, slack_api = parent.recv()

    port = free_port()
    env = bench_env(
        PORT=str(port),
        SLACK_API_URL=slack_api,
        IAK_USERNAME=IAK_USERNAME,
        IAK_API_KEY=IAK_API_KEY,
        IAK_BASE_URL=iak_url,
    )
    code_body, code_headers = signed_command("code 17")
    with serve(iak_bot("serve"), env, port) as bot:
        events = bot.url + "/slack/events"
        parsed = urlparse(bot.url)
        address = (parsed.hostname or "127.0.0.1", parsed.port or port)
        sender = SlackSender(bot.url, SIGNING_SECRET, slack_base + "/response")

        def code_load(seconds: float) -> LoadResult:
            return wrk(
                events,
                body=code_body,
                headers=code_headers,
                connections=args.concurrency,
                seconds=seconds,
                threads=args.wrk_threads,
            )

        code_load(2)  # warm-up
        alone = code_load(args.seconds)

        quiet = bursts(address, sender, plan["quiet"], args.every)
        quiet_cards = wait_for_cards(parent, quiet, args.iak_delay + 15)
        code_quiet = bursts(address, sender, plan["code-quiet"], args.every, status=False)

        # wrk runs in a thread (it is its own process); the bursts start once it is going
        # and their checks stay in flight at IAK for the rest of the wrk run.
        loaded_code: list[LoadResult] = []
        runner = threading.Thread(
            target=lambda: loaded_code.append(code_load(args.seconds)), daemon=True
        )
        runner.start()
        time.sleep(0.5)
        loaded = bursts(address, sender, plan["loaded"], args.every)
        runner.join()
        loaded_cards = wait_for_cards(parent, loaded, args.iak_delay + 15)

        # Control: the same bursts of /iak code 17 under the same wrk load, to tell what the
        # saturated server costs any burst from what the status path costs.
        runner = threading.Thread(target=lambda: code_load(args.seconds), daemon=True)
        runner.start()
        time.sleep(0.5)
        code_loaded = bursts(address, sender, plan["code-loaded"], args.every, status=False)
        runner.join()
        sender.close()
    parent.send("stop")
    fakes.join(10)

    total = args.bursts * args.concurrency
    print(
        f"/iak status with IAK answering in {args.iak_delay:g} s: {args.bursts} bursts of "
        f"{args.concurrency} concurrent commands, one burst every {args.every:g} s "
        f"({total} commands per run)"
    )
    report_acks("status acks, nothing else running:", quiet, quiet_cards)
    report_acks(
        f"status acks while wrk drives /iak code 17 at {args.concurrency} connections:",
        loaded,
        loaded_cards,
    )
    report_acks("control, the same bursts of /iak code 17, nothing else running:", code_quiet)
    report_acks("control, the same bursts of /iak code 17 under the same wrk load:", code_loaded)
    print(
        f"/iak code 17 driven by wrk ({args.wrk_threads} threads) at {args.concurrency} "
        f"connections, {args.seconds:g} s"
    )
    print(alone.line("  alone"))
    if loaded_code:
        print(loaded_code[0].line("  with status checks in flight"))
        ratio = loaded_code[0].requests_per_second / alone.requests_per_second
        print(f"  throughput with status checks in flight: {ratio:.2f} of alone")
    every_ack = bool(quiet.ack_ms) and max(quiet.ack_ms) < ACK_GOAL_MS and not quiet.failed_acks
    if quiet.ack_ms:
        record(
            f"/iak status ack while IAK takes {args.iak_delay:g} s, {args.concurrency} concurrent",
            f"p50 {percentile(quiet.ack_ms, 0.5):.0f} ms, p99 {percentile(quiet.ack_ms, 0.99):.0f} "
            f"ms, max {max(quiet.ack_ms):.0f} ms",
            f"every ack < {ACK_GOAL_MS:.0f} ms",
            every_ack,
        )
    cards = [kind for _, kind in [*quiet_cards.values(), *loaded_cards.values()]]
    every_card = len(cards) == 2 * total and set(cards) <= {LIVE, BUSY, TIMEOUT}
    record(
        "/iak status: every command answered with a card (live status; past the cap on "
        "requests to IAK, busy or timed out: try again)",
        f"{len(cards)} of {2 * total}: {cards.count(LIVE)} live, {cards.count(BUSY)} busy, "
        f"{cards.count(TIMEOUT)} timed out",
        "all, none an error",
        every_card,
    )
    if loaded_code:
        ratio = loaded_code[0].requests_per_second / alone.requests_per_second
        record(
            "/iak code throughput while status checks wait on IAK",
            f"{loaded_code[0].requests_per_second:.0f} req/s "
            f"(alone {alone.requests_per_second:.0f})",
            "its usual speed",
            ratio >= 0.8,
            f"{ratio:.2f}",
        )
    print(
        f"goal: every ack under {ACK_GOAL_MS:.0f} ms (nothing else running): "
        f"{'met' if every_ack else 'NOT met'}; every command answered with a card: "
        f"{'met' if every_card else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
