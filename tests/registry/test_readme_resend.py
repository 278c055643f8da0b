"""README's "what to do" table states the resend rules as the registry holds them."""

from __future__ import annotations

import re
from pathlib import Path

from bot.registry import Registry, Resend, Table

README = Path(__file__).resolve().parents[2] / "README.md"
_ROW = re.compile(r"^\| `(\w+)` \|.*\| ([^|]*) \|$", re.MULTILINE)
_CODE = re.compile(r"`([^`]+)`")


def readme_table() -> dict[str, set[str]]:
    """Each resend value's codes as README lists them: `17`, `postpaid 17`."""
    rows: dict[str, set[str]] = {}
    for resend, codes in _ROW.findall(README.read_text("utf-8")):
        if resend not in {value.value for value in Resend}:
            continue
        prepaid, _, postpaid = codes.partition("postpaid ")
        rows[resend] = set(_CODE.findall(prepaid)) | {
            f"postpaid {code}" for code in _CODE.findall(postpaid)
        }
    return rows


def test_readme_lists_every_code_under_its_resend_fact(registry: Registry) -> None:
    held = {
        value.value: {
            code.key if code.table is Table.POSTPAID else code.code
            for code in registry
            if code.resend is value
        }
        for value in Resend
    }
    held = {value: codes for value, codes in held.items() if codes}
    assert readme_table() == held
