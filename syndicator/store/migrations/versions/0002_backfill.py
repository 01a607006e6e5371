"""Backfill progress per source.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "backfill_state",
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("next_url", sa.Text(), nullable=True),
        sa.Column("pages_done", sa.Integer(), nullable=False),
        sa.Column("started", _TS, nullable=False),
        sa.Column("updated", _TS, nullable=False),
        sa.Column("finished", _TS, nullable=True),
        sa.PrimaryKeyConstraint("source_id", name="pk_backfill_state"),
    )


def downgrade() -> None:
    op.drop_table("backfill_state")
