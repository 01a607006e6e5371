"""Initial schema: items, item_sources, url_state, runs.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Plain column types on purpose: migrations must not change when the Python-side types in
`schema.py` (UTCDateTime, JSONText) do. UTCDateTime is a timestamptz / SQLite DATETIME,
JSONText is text.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "items",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("image", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), nullable=True),
        sa.Column("published", _TS, nullable=False),
        sa.Column("published_precision", sa.Text(), nullable=False),
        sa.Column("updated", _TS, nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("first_seen", _TS, nullable=False),
        sa.Column("last_seen", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_items"),
        sa.UniqueConstraint("url", name="uq_items_url"),
    )
    op.create_index("ix_items_published_id", "items", ["published", "id"])

    op.create_table(
        "item_sources",
        sa.Column("item_id", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("first_seen", _TS, nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_item_sources_item_id_items",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id", "source_id", name="pk_item_sources"),
    )
    op.create_index("ix_item_sources_source_id", "item_sources", ["source_id"])

    op.create_table(
        "url_state",
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("listing_hash", sa.Text(), nullable=True),
        sa.Column("fetched_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("url", name="pk_url_state"),
    )

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("started", _TS, nullable=False),
        sa.Column("finished", _TS, nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("not_modified", sa.Integer(), nullable=False),
        sa.Column("items_seen", sa.Integer(), nullable=False),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.Column("warnings", sa.Text(), nullable=False),
        sa.Column("missing_fields", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index("ix_runs_source_id_started", "runs", ["source_id", "started"])


def downgrade() -> None:
    op.drop_index("ix_runs_source_id_started", table_name="runs")
    op.drop_table("runs")
    op.drop_table("url_state")
    op.drop_index("ix_item_sources_source_id", table_name="item_sources")
    op.drop_table("item_sources")
    op.drop_index("ix_items_published_id", table_name="items")
    op.drop_table("items")
