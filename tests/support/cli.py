"""Running `iak-bot` as a user does: with a clean environment, in a directory of its own.

The commands that run until stopped (`serve`, `socket`, `monitor`) always run as a real
process, and so does any command asked for with `process=True`. The others run in this
process through the same `bot.cli.main` the console script calls, with the environment,
working directory, stdout and stderr (and what the logging module would print there)
swapped in for the call: a new interpreter per command cost about a second of import.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

SECRET_NAMES = ("SLACK", "IAK_", "DATABASE_URL", "INGEST_TOKEN", "OPS_CHANNEL", "PORT")


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any bot setting, plus `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(SECRET_NAMES)}
    # Tests count what reaches the ops channel: the daily digest only where one asks for it.
    env["DIGEST_TIME"] = ""
    env.update(extra)
    return env


# commands that serve until stopped: a test of one wants the real process
PROCESS_COMMANDS = frozenset({"serve", "socket", "monitor"})


def iak_bot(
    *args: str, cwd: Path, env: dict[str, str] | None = None, process: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run `iak-bot ARGS` to completion and capture what it printed and its exit status."""
    environment = env if env is not None else clean_env()
    if process or (args and args[0] in PROCESS_COMMANDS):
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=cwd,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    return _in_this_process(list(args), cwd, environment)


def _in_this_process(
    args: list[str], cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    from bot.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    # what a fresh interpreter prints of a log record nobody configured: the message, on
    # stderr, from WARNING up (logging.lastResort)
    printed = logging.StreamHandler(err)
    printed.setLevel(logging.WARNING)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    root.handlers[:] = [printed]
    root.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(args)
            except SystemExit as exc:  # argparse's usage errors
                status = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(["iak-bot", *args], status, out.getvalue(), err.getvalue())


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
