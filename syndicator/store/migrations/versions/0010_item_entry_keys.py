"""Items remember what their source names them by among the stories on their page.

`items.entry_key`: a feed entry's guid, else the `#fragment` of its link (Item.entry_key).
It tells whose an item stored under a page's plain URL is, when other entries join that
page or another entry turns up alone on it (extract/entries.py). Items stored before have
none (NULL) until their next change; for them the entry of the stored title is the one.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("entry_key", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_column("entry_key")
