"""Translation links: what each page claims as its other-language versions, and the groups
(stories) that claims confirmed from both sides make.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "translation_claims",
        sa.Column("item_id", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE",
                                name="fk_translation_claims_item_id_items"),
        sa.PrimaryKeyConstraint("item_id", "url", name="pk_translation_claims"),
    )
    op.create_index("ix_translation_claims_url", "translation_claims", ["url"])
    op.create_table(
        "translation_groups",
        sa.Column("item_id", sa.Text(), nullable=False),
        sa.Column("group_id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE",
                                name="fk_translation_groups_item_id_items"),
        sa.PrimaryKeyConstraint("item_id", name="pk_translation_groups"),
    )
    op.create_index("ix_translation_groups_group_id", "translation_groups", ["group_id"])


def downgrade() -> None:
    op.drop_index("ix_translation_groups_group_id", table_name="translation_groups")
    op.drop_table("translation_groups")
    op.drop_index("ix_translation_claims_url", table_name="translation_claims")
    op.drop_table("translation_claims")
