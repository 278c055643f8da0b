#!/usr/bin/env bash
# Extract every marked text into bot/locale/messages.pot, merge it into each language's .po
# (a new text arrives untranslated, and tests/test_i18n.py fails until it is translated),
# then compile the .mo files the bot reads: they are committed, so deploys need no build step.
set -euo pipefail
cd "$(dirname "$0")/.."
pybabel() { .venv/bin/python -m babel.messages.frontend "$@"; }
pybabel extract -F babel.cfg --no-location --sort-output --project=iak-bot -c TRANSLATORS: \
  -o bot/locale/messages.pot . 2>/dev/null
for lang in en id; do
  pybabel update -D messages -i bot/locale/messages.pot -d bot/locale -l "$lang" --init-missing \
    --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date
done
pybabel compile -D messages -d bot/locale --statistics
