#!/usr/bin/env bash
# Set up .venv and run the bot: scripts/run.sh [iak-bot command ...]  (default: serve)
# Before serve, socket or monitor it migrates the database, as Heroku's release phase does.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ $# -eq 0 ]; then set -- serve; fi
case "$1" in
  serve|socket|monitor) .venv/bin/iak-bot migrate ;;
esac
exec .venv/bin/iak-bot "$@"
