#!/usr/bin/env bash
# Re-pin dependencies after editing requirements*.in. requirements.txt is what Heroku's
# Python buildpack installs: every pinned dependency, then the bot itself (the "." line).
set -euo pipefail
cd "$(dirname "$0")/.."
uv() { if command -v uv >/dev/null; then command uv "$@"; else python3 -m uv "$@"; fi; }
pins=$(mktemp --suffix=.txt)
trap 'rm -f "$pins"' EXIT
uv pip compile requirements.in -o "$pins" --python-version 3.11 --quiet --no-header
uv pip compile requirements-dev.in -c "$pins" -o requirements-dev.txt --python-version 3.11 \
  --quiet --no-header
{
  echo "# Pinned runtime dependencies (from requirements.in, by scripts/lock.sh), then the bot"
  echo "# itself: Heroku's Python buildpack installs this file and gets the iak-bot command."
  cat "$pins"
  echo "."
} > requirements.txt
