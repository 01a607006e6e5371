"""Runs remember the transaction that wrote them (PostgreSQL), for build marks.

Several writers commit at once on PostgreSQL, so run ids (handed out at insert) no longer
follow commit order; a build mark there is a transaction horizon, and what changed after it
is the runs written by a transaction at or above it (store/builds.py). Runs written before
this revision keep NULL: builds re-plan from the whole history once after the upgrade, as
their archive states (publish/archivestate.py, version 3) are from before it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("xid", sa.BigInteger(), nullable=True))
        batch.create_index("ix_runs_xid", ["xid"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_xid")
        batch.drop_column("xid")
