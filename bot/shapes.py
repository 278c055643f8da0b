"""Shapes other programs define, named once: the only place `Any` stands for data.

- `Json`: a JSON object as Slack, IAK, the OpenAPI generator or a JSON column hands it over
  (its schema is theirs; the code that reads one checks what it needs).
- `JsonView`: the same, only read.
- `DbRow`: a row SQLAlchemy returns (its columns are the statement's).
- `Work`: a coroutine the bot runs as a task, whatever it yields.

Block Kit blocks are `bot.slack.blocks.text.Block`.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any

Json = dict[str, Any]
JsonView = Mapping[str, Any]
Work = Coroutine[Any, Any, Any]

if TYPE_CHECKING:
    # Only for type checking: the SQLite writer process imports this module and must not
    # load SQLAlchemy (tests/store/test_writer_process.py); every use is an annotation.
    from sqlalchemy import Row

    DbRow = Row[*tuple[Any, ...]]
else:
    DbRow = tuple
