"""Running `iak-bot` as a user does: a real process with a clean environment."""

from __future__ import annotations

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


def iak_bot(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `iak-bot ARGS` to completion and capture what it printed."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
