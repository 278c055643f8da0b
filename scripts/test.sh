#!/usr/bin/env bash
# Set up .venv with the test tools and run the test suite: scripts/test.sh [pytest args ...]
# Set TEST_DATABASE_URL=postgresql://... to run the store's tests on Postgres too.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
exec .venv/bin/python -m pytest "$@"
