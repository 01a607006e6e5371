"""Shared build files remember the build mark they were rendered from.

A build's share replaces a shared path only when the stored copy was rendered from the same
or an older mark (store/outputs.py): a build that was paused and swept, or a full build
outside the feed's job lock, never replaces a newer rendering when it commits late. Rows
shared before this revision get mark 0: the next build of their feed replaces them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("published_files") as batch:
        batch.add_column(sa.Column("mark", sa.BigInteger(), nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("published_files") as batch:
        batch.drop_column("mark")
