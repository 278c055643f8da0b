"""`iak-bot` in the terminal speaks BOT_LANGUAGE, like the ops channel."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import clean_env, iak_bot

# scenario tests: the bot runs whole, over loopback or as processes
pytestmark = pytest.mark.slow


def test_the_terminal_card_is_in_bot_language(tmp_path: Path) -> None:
    result = iak_bot("code", "17", cwd=tmp_path, env=clean_env(BOT_LANGUAGE="id"))
    assert result.returncode == 0, result.stderr
    printed = " ".join(result.stdout.split())
    assert printed.startswith("17 · INSUFFICIENT DEPOSIT")
    assert "Yang harus dilakukan: Isi ulang deposit (tim kita)" in printed
    assert "Solusi dari IAK" in printed
    # IAK's own words stay as IAK wrote them
    assert "Your current deposit is lower than the product_price you want to buy." in printed


def test_the_terminals_own_messages_are_in_bot_language(tmp_path: Path) -> None:
    result = iak_bot("status", "not a ref id", cwd=tmp_path, env=clean_env(BOT_LANGUAGE="id"))
    assert result.returncode != 0
    assert "ref_id terdiri dari 1-100 karakter cetak tanpa spasi" in result.stderr


def test_an_unknown_bot_language_stops_the_command_with_a_clear_message(tmp_path: Path) -> None:
    result = iak_bot("code", "17", cwd=tmp_path, env=clean_env(BOT_LANGUAGE="fr"))
    assert result.returncode == 2
    assert "BOT_LANGUAGE" in result.stderr and "'en' or 'id'" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
