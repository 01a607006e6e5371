"""Indexes for incremental feed builds: items by last sighting.

An incremental build (publish/archive.py) asks which items of a feed's sources were stored or
seen since its previous build: `items.last_seen` moves whenever a run saves or sees an item.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_items_last_seen", "items", ["last_seen"])


def downgrade() -> None:
    op.drop_index("ix_items_last_seen", table_name="items")
