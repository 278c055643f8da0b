"""Where an incident's parent message stands, as a column of its own.

Before, an incident opened under a mute carried a `held_parent` flag inside its figures
(`details`), and a thread note was free text. Now `parent_state` says queued, held, posted
or failed, and acknowledgement and recheck notes are typed replies.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

incidents = sa.table(
    "incidents",
    sa.column("id", sa.BigInteger),
    sa.column("parent_ts", sa.String),
    sa.column("parent_state", sa.String),
    sa.column("details", sa.JSON),
)
outbox = sa.table(
    "outbox",
    sa.column("id", sa.BigInteger),
    sa.column("state", sa.String),
    sa.column("payload", sa.JSON),
)
_ACKNOWLEDGED = re.compile(r"^Acknowledged by <@([A-Z0-9]+)>\.$")
_RECHECKED = re.compile(
    r"^Rechecked (\d+) waiting transaction\(s\) at IAK on request of <@([A-Z0-9]+)>; "
    r"IAK answered (\d+)\."
)


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(
            sa.Column("parent_state", sa.String(8), nullable=False, server_default="queued")
        )
    connection = op.get_bind()
    connection.execute(
        sa.update(incidents).where(incidents.c.parent_ts.is_not(None)).values(parent_state="posted")
    )
    for row in connection.execute(sa.select(incidents.c.id, incidents.c.details)).all():
        details = dict(row.details or {})
        if "held_parent" in details:
            held = details.pop("held_parent")
            values = {"details": details, **({"parent_state": "held"} if held else {})}
            connection.execute(
                sa.update(incidents).where(incidents.c.id == row.id).values(**values)
            )
    # Free-text notes still waiting to be delivered become the typed replies they were.
    for row in connection.execute(
        sa.select(outbox.c.id, outbox.c.payload).where(outbox.c.state == "pending")
    ).all():
        payload = row.payload or {}
        if payload.get("type") != "note":
            continue
        text = str(payload.get("text", ""))
        acknowledged = _ACKNOWLEDGED.match(text)
        rechecked = _RECHECKED.match(text)
        if acknowledged:
            new = {"type": "acknowledged", "broadcast": False, "user_id": acknowledged[1]}
        elif rechecked:
            new = {
                "type": "rechecked",
                "broadcast": False,
                "user_id": rechecked[2],
                "asked": int(rechecked[1]),
                "answered": int(rechecked[3]),
            }
        else:
            connection.execute(
                sa.update(outbox).where(outbox.c.id == row.id).values(state="superseded")
            )
            continue
        connection.execute(sa.update(outbox).where(outbox.c.id == row.id).values(payload=new))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("parent_state")
