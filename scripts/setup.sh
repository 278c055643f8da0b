#!/usr/bin/env bash
# Create .venv and install the pinned dependencies and the bot (editable) into it.
# Usage: scripts/setup.sh [--dev]   (--dev adds the test and lint tools)
# Re-running is cheap: it reinstalls only when a requirements file or pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "iak-bot needs Python 3.11 or newer; set PYTHON=/path/to/python3.11 (found: $("$python" --version 2>&1))" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi

wanted=(requirements.txt pyproject.toml)
stamp=.venv/.installed-runtime
if [ "${1:-}" = "--dev" ]; then
  wanted+=(requirements-dev.txt)
  stamp=.venv/.installed-dev
fi

stale=false
[ -f "$stamp" ] || stale=true
for file in "${wanted[@]}"; do
  [ "$file" -nt "$stamp" ] && stale=true
done

if $stale; then
  # requirements.txt ends with "." (the bot, for Heroku); here the bot goes in editable instead.
  pins=.venv/requirements.pinned.txt
  grep -v '^\.$' requirements.txt > "$pins"
  args=(-r "$pins")
  [ "${1:-}" = "--dev" ] && args+=(-r requirements-dev.txt)
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "${args[@]}"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
  touch "$stamp"
fi
