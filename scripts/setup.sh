#!/usr/bin/env bash
# Create .venv and install the pinned dependencies and the bot (editable) into it.
# Usage: scripts/setup.sh [--dev]   (--dev adds the test and lint tools)
# Re-running is cheap: it reinstalls only when a requirements file or pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
# The installer, put into .venv with pip (see below).
UV_VERSION=0.13.9
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
  # uv installs the pinned wheels from its cache in seconds where pip took over half a
  # minute. It byte-compiles them at install, as pip did: where PYTHONDONTWRITEBYTECODE is
  # set, nothing else would, and every process would compile its libraries again.
  if [ ! -x .venv/bin/uv ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  fi
  # requirements.txt ends with "." (the bot, for Heroku); here the bot goes in editable instead.
  pins=.venv/requirements.pinned.txt
  grep -v '^\.$' requirements.txt > "$pins"
  args=(-r "$pins")
  [ "${1:-}" = "--dev" ] && args+=(-r requirements-dev.txt)
  uv=(.venv/bin/uv pip install --quiet --compile-bytecode --python .venv/bin/python)
  "${uv[@]}" "${args[@]}"
  "${uv[@]}" --no-deps -e .
  touch "$stamp"
fi
