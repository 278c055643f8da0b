"""Run every benchmark and write the results as Markdown (benchmarks/RESULTS.md by default).

    .venv/bin/python -m benchmarks.run_all            # everything (about 20 minutes)
    .venv/bin/python -m benchmarks.run_all --quick    # shorter runs, smaller data (a smoke test)

Each benchmark runs as its own process, as it would by hand, and hands its figures back
through a JSON-lines file ($BENCH_FIGURES); its printed report goes into the results too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import ROOT

FULL = [
    (
        "/iak code against a bare Bolt app (issue 2)",
        ["benchmarks.slash_commands", "--seconds", "5", "--rounds", "3"],
    ),
    ("/iak status acks while IAK is slow (issue 3)", ["benchmarks.status_ack"]),
    ("IAK callbacks (issue 4)", ["benchmarks.callbacks", "--seconds", "15"]),
    ("Monitor queries at 1,000,000 rows (issue 4)", ["benchmarks.monitor_queries"]),
    ("Monitor tick and reaction time (issue 5)", ["benchmarks.monitor_tick"]),
    ("/iak find at 1,000,000 rows (issue 26)", ["benchmarks.find"]),
    (
        "Production: start-up, workers, memory, sustained load (issue 7)",
        ["benchmarks.production", "--seconds", "10", "--sustain", "60"],
    ),
    (
        "Callbacks while retention deletes a day of 1,000,000 top-ups (issue 24)",
        ["benchmarks.retention"],
    ),
    ("The monitor at 10,000,000 rows, Postgres (issue 24)", ["benchmarks.monitor_scale"]),
]
QUICK = [
    (
        "/iak code against a bare Bolt app (issue 2)",
        ["benchmarks.slash_commands", "--seconds", "2", "--rounds", "1"],
    ),
    (
        "/iak status acks while IAK is slow (issue 3)",
        ["benchmarks.status_ack", "--iak-delay", "2", "--bursts", "2", "--seconds", "3"],
    ),
    ("IAK callbacks (issue 4)", ["benchmarks.callbacks", "--seconds", "4"]),
    (
        "Monitor queries (issue 4)",
        ["benchmarks.monitor_queries", "--rows", "50000", "--pending", "1000"],
    ),
    (
        "Monitor tick and reaction time (issue 5)",
        [
            "benchmarks.monitor_tick",
            "--rows",
            "50000",
            "--pending",
            "1000",
            "--interval",
            "2",
            "--runs",
            "2",
        ],
    ),
    ("/iak find (issue 26)", ["benchmarks.find", "--rows", "50000", "--writes", "2000"]),
    (
        "Production: start-up, workers, memory, sustained load (issue 7)",
        ["benchmarks.production", "--seconds", "3", "--sustain", "10"],
    ),
    (
        "Callbacks while retention deletes a day (issue 24)",
        ["benchmarks.retention", "--rows", "20000", "--blank-rows", "5000", "--seconds", "3"],
    ),
    (
        "The monitor at scale, Postgres (issue 24)",
        ["benchmarks.monitor_scale", "--rows", "100000"],
    ),
]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}){memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; load generator wrk on the same machine"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs, small data")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        help="leave out the benchmarks whose module is this (benchmarks.find); repeatable",
    )
    args = parser.parse_args()
    plan = [
        (title, argv) for title, argv in (QUICK if args.quick else FULL) if argv[0] not in args.skip
    ]
    figures_file = Path(tempfile.mkstemp(suffix=".jsonl")[1])
    env = {**os.environ, "BENCH_FIGURES": str(figures_file)}
    reports: list[tuple[str, str, float]] = []
    for title, argv in plan:
        print(f"== {title}", flush=True)
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", *argv],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        output = result.stdout + (
            f"\n(exit {result.returncode})\n{result.stderr[-3000:]}" if result.returncode else ""
        )
        print(output, flush=True)
        reports.append((title, output.strip(), time.monotonic() - started))
    figures = [json.loads(line) for line in figures_file.read_text().splitlines() if line.strip()]
    figures_file.unlink()
    Path(args.output).write_text(render(figures, reports, quick=args.quick), encoding="utf-8")
    print(f"wrote {args.output}")


def render(
    figures: list[dict[str, object]], reports: list[tuple[str, str, float]], *, quick: bool
) -> str:
    def verdict(met: object) -> str:
        return {True: "met", False: "**not met**"}.get(met, "")  # type: ignore[call-overload]

    lines = [
        "# Benchmark results",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python -m benchmarks.run_all"
        f"{' --quick' if quick else ''}` on {machine()}.",
        "",
        "Ratios compare with a baseline measured in the same run: a bare Bolt app that only "
        "acks (slash commands), a bare FastAPI route (callbacks), one worker (workers), "
        "`/iak code` alone (status).",
        "",
        "| figure | this run | goal | | baseline ratio |",
        "| --- | --- | --- | --- | --- |",
    ]
    for figure in figures:
        lines.append(
            f"| {figure['figure']} | {figure['value']} | {figure['goal']} | "
            f"{verdict(figure['met'])} | {figure['ratio']} |"
        )
    lines += ["", "## Reports as printed", ""]
    for title, output, seconds in reports:
        lines += [f"### {title} ({seconds:.0f} s)", "", "```", output, "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
