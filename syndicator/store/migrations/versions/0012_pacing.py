"""Shared pacing: the `pacing` table, the rate state every instance on one PostgreSQL
database shares (store/rates.py): per host, Telegram bot and chat, the last starts given out.

UNLOGGED on PostgreSQL: a reservation is a write per request, and a logged one waits for the
WAL to reach the disk at every commit (about 3 ms a request here against 1 ms). What an
unlogged table loses (its rows after a crash of the server; standbys do not have it) is
starts already past.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    unlogged = ["UNLOGGED"] if op.get_bind().dialect.name == "postgresql" else []
    op.create_table(
        "pacing",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("starts", postgresql.ARRAY(sa.Float(precision=53))
                  .with_variant(sa.Text(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_pacing")),
        prefixes=unlogged,
    )


def downgrade() -> None:
    op.drop_table("pacing")
