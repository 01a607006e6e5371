"""Shared build output: the files a build wrote, for every serving process of a cluster.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "published_files",
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("sha256", sa.Text(), nullable=True),
        sa.Column("published", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("path", name="pk_published_files"),
    )
    op.create_index("ix_published_files_version_path", "published_files",
                    ["version", "path"])
    state = op.create_table(
        "published_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("database_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_published_state"),
    )
    op.bulk_insert(state, [{"id": 1, "version": 0, "database_id": uuid.uuid4().hex}])


def downgrade() -> None:
    op.drop_table("published_state")
    op.drop_index("ix_published_files_version_path", table_name="published_files")
    op.drop_table("published_files")
