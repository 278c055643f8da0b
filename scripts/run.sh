#!/usr/bin/env bash
# Set up .venv and run the bot: scripts/run.sh [iak-bot command ...]  (default: serve)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ $# -eq 0 ]; then set -- serve; fi
exec .venv/bin/iak-bot "$@"
