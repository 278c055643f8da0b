#!/usr/bin/env bash
# Set up .venv with the test tools and run the test suite: scripts/test.sh [pytest args ...]
# Set TEST_DATABASE_URL=postgresql://... to run the store's tests on Postgres too.
# The suite runs in two pytest-xdist workers per core: most of its time is spent waiting
# (servers starting, ticks, timeouts), and on 2 cores 4 workers took 3:43 where 2 took 4:36
# and 6 took 4:12. TEST_WORKERS=N sets how many; TEST_WORKERS=0 runs it in this one process.
# loadgroup: tests marked with one xdist_group run on one worker (a module whose last
# test checks what the others did); every other test is spread as usual.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
workers=${TEST_WORKERS:-$(($(nproc) * 2))}
exec .venv/bin/python -m pytest -n "$workers" --dist loadgroup "$@"
