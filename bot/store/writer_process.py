"""The store's writer process for a SQLite file: `python -m bot.store.writer_process R W`.

It receives the file's path, then batches of observations, over a pipe from its parent
(`bot.store.writer.WriterProcess`), writes each with `bot.store.batch.write_batch`, and
answers with what happened. It loads the driver, the merge rules and nothing else of the
bot, so it starts in a fraction of a second and stays small.

It ignores SIGTERM and SIGINT (the platform signals every process of a dyno): it finishes
the batch in hand and exits when its parent closes the pipe or goes away. It logs nothing
itself: errors go back to the parent, whose log lines are redacted.
"""

from __future__ import annotations

import gc
import signal
import sys
from multiprocessing.connection import Connection

from bot.store.batch import SQLITE, is_outage, write_batch
from bot.store.connect import sqlite_connect


def serve(requests: Connection, answers: Connection) -> None:
    """Write each batch that arrives and answer ("ok", results), ("unavailable", why) or
    ("rejected", why)."""
    path = requests.recv()
    connection = sqlite_connect(path)
    # A batch's multi-row statements each keep a statement journal (to undo that statement
    # alone); in memory, not in a temporary file made and unlinked for every batch. It only
    # ever undoes a statement: the database's own durability is the WAL's, as before.
    connection.execute("PRAGMA temp_store=MEMORY")
    # What start-up built lives as long as the process: keep the collector off it.
    gc.collect()
    gc.freeze()
    answers.send("ready")
    try:
        while True:
            try:
                batch = requests.recv()
            except (EOFError, OSError):
                return  # the parent went away
            if batch is None:
                return
            try:
                answer: tuple[str, object] = ("ok", write_batch(connection, SQLITE, batch))
            except Exception as exc:
                why = f"{exc.__class__.__name__}: {str(exc).strip()[:300]}"
                kind = "unavailable" if is_outage(exc) else "rejected"
                answer = (kind, why)
            try:
                answers.send(answer)
            except OSError:
                return
    finally:
        connection.close()


def main(argv: list[str]) -> int:
    """Entry point: the two pipe descriptors the parent passed."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(Connection(int(argv[0]), writable=False), Connection(int(argv[1]), readable=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
