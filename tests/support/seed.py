"""IAK's response-code tables as published, from verbatim copies kept in tests/.

- `iak_response_codes_seed.txt`: the seed, IAK's live response-code page (HTTP, prepaid
  and game tables).
- `iak_prepaid_response_codes_reference.md`, `iak_postpaid_response_codes_reference.md`:
  `prepaid/response-code.md` and `postpaid/response-code.md` of IAK's reference
  documentation (iak-id/iak-api-reference-docs @ 940d4d4, "Add RC 118 Prepaid and
  Postpaid"), unmodified.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# the tables themselves stay beside the tests that read them
HERE = Path(__file__).resolve().parent.parent
SEED = HERE / "iak_response_codes_seed.txt"
PREPAID_REFERENCE = HERE / "iak_prepaid_response_codes_reference.md"
POSTPAID_REFERENCE = HERE / "iak_postpaid_response_codes_reference.md"


@dataclass(frozen=True)
class SeedRow:
    """One row of one of IAK's tables, its cells with whitespace normalised."""

    table: str
    code: str
    description: str
    status: str
    solution: str


def seed_rows() -> list[SeedRow]:
    """Every row of the seed's tables, in order, with whitespace normalised."""
    rows: list[SeedRow] = []
    table = ""
    for line in SEED.read_text("utf-8").splitlines():
        if line.startswith("| Status Code"):
            table = "http"
        elif line.startswith("| Response code"):
            table = "prepaid" if table == "http" else "game"
        elif line.startswith("| ") and table:
            rows.append(SeedRow(table, *_cells(line.strip().strip("|"))))
    return rows


def reference_rows(path: Path, table: str) -> list[SeedRow]:
    """The rows of the first code table in one of IAK's reference pages, in order.

    The reference pages write tables without outer pipes (` 00 | SUCCESS | Success | …`)
    and the prepaid page has a second, game table after it, which this stops before.
    """
    rows: list[SeedRow] = []
    for line in path.read_text("utf-8").splitlines():
        cells = _cells(line)
        if len(cells) == 4 and cells[0].isdigit():
            rows.append(SeedRow(table, *cells))
        elif rows and line.startswith("#"):
            break
    return rows


def _cells(line: str) -> list[str]:
    return [" ".join(cell.split()) for cell in line.split("|")]
