"""One owner per table: every statement that writes a table lives with that table's owner.
The store owns the transactions and what hangs off them, and every prune; the incidents'
repository (with its outbox and lease bases) owns the incidents' tables. A watch that
needs a transaction's column changed asks the store."""

from __future__ import annotations

import re
from pathlib import Path

BOT = Path(__file__).resolve().parents[1] / "bot"

STORE = "bot/store/"
INCIDENTS = ("bot/incidents/repository.py", "bot/incidents/outbox.py", "bot/incidents/lease.py")
RETENTION = "bot/store/retention.py"

# table -> the modules (or packages, ending in "/") that may write it
OWNERS: dict[str, tuple[str, ...]] = {
    "transactions": (STORE,),
    "transaction_events": (STORE,),
    "transaction_keys": (STORE,),
    "callback_refusals": (STORE,),
    "price_lists": (STORE,),
    "retention": (STORE,),
    "incidents": (*INCIDENTS, RETENTION),
    "mutes": (*INCIDENTS, RETENTION),
    "outbox": (*INCIDENTS, RETENTION),
    "leases": (*INCIDENTS,),
}

_WRITES = re.compile(
    r"\b(?:insert|update|delete)\((?P<core>\w+)\)"
    r"|\b(?P<method>\w+)\.(?:insert|update|delete)\(\)"
    r"|\b(?:INSERT INTO|UPDATE|DELETE FROM)\s+(?P<sql>\w+)"
)


def _writes() -> list[tuple[str, str, int]]:
    """(table, module path, line) for every write statement in bot/ outside migrations."""
    found = []
    for path in sorted(BOT.rglob("*.py")):
        module = path.relative_to(BOT.parent).as_posix()
        if module.startswith("bot/store/migrations/"):
            continue  # a migration writes whatever its step needs
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in _WRITES.finditer(line):
                table = match["core"] or match["method"] or match["sql"]
                if table in OWNERS:
                    found.append((table, module, number))
    return found


def _owns(owner: str, module: str) -> bool:
    return module.startswith(owner) if owner.endswith("/") else module == owner


def test_every_table_is_written_only_by_its_owner() -> None:
    trespass = [
        f"{module}:{line} writes {table}"
        for table, module, line in _writes()
        if not any(_owns(owner, module) for owner in OWNERS[table])
    ]
    assert trespass == []


def test_the_scan_sees_the_owners_writes() -> None:
    """The check above would pass on a scan that found nothing: it must find these."""
    seen = {(table, module) for table, module, _ in _writes()}
    assert ("transactions", "bot/store/transactions.py") in seen  # the monitor's columns
    assert ("callback_refusals", "bot/store/callbacks.py") in seen
    assert ("incidents", "bot/incidents/repository.py") in seen
    assert ("outbox", "bot/store/retention.py") in seen
    assert {table for table, _ in seen} == set(OWNERS)
