"""What the incidents' statement classes share: one engine, and its write transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine


class Statements:
    """Statements over one engine. Methods that take a `Connection` run inside the caller's
    transaction; the others open their own. All synchronous: callers on the event loop run
    them in a thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One write transaction (SQLite takes its write lock up front)."""
        with self.engine.connect().execution_options(write=True) as connection, connection.begin():
            yield connection
