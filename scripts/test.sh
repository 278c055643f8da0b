#!/usr/bin/env bash
# Set up .venv with the test tools and run the test suite: scripts/test.sh [pytest args ...]
# Set TEST_DATABASE_URL=postgresql://... to run the store's tests on Postgres too.
# The suite runs on every core (pytest-xdist); TEST_WORKERS=0 runs it in this one process.
# loadgroup: tests marked with one xdist_group run on one worker (a module whose last
# test checks what the others did); every other test is spread as usual.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-auto}" --dist loadgroup "$@"
