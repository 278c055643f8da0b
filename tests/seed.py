"""IAK's response-code table as published (a verbatim copy of the seed, kept in tests/)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SEED = Path(__file__).with_name("iak_response_codes_seed.txt")


@dataclass(frozen=True)
class SeedRow:
    """One row of one of the seed's three tables."""

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
            cells = [" ".join(cell.split()) for cell in line.strip().strip("|").split(" | ")]
            rows.append(SeedRow(table, *cells))
    return rows
