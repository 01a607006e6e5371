"""Push: the delivery outbox, per-target state, first sight of sources, email subscribers.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Text(), nullable=False),
        sa.Column("target_id", sa.Text(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", _TS, nullable=True),
        sa.Column("created", _TS, nullable=False),
        sa.Column("updated", _TS, nullable=False),
        sa.Column("claimed_at", _TS, nullable=True),
        sa.Column("claim", sa.Text(), nullable=True),
        sa.Column("message_ids", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_deliveries_item_id_items",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.UniqueConstraint("item_id", "target_id", "recipient",
                            name="uq_deliveries_item_id_target_id_recipient"),
    )
    op.create_index("ix_deliveries_target_id_state_next_at", "deliveries",
                    ["target_id", "state", "next_at"])

    op.create_table(
        "push_targets",
        sa.Column("target_id", sa.Text(), nullable=False),
        sa.Column("first_seen", _TS, nullable=False),
        sa.Column("chat_id", sa.Text(), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.Column("paused_at", _TS, nullable=True),
        sa.Column("hold_until", _TS, nullable=True),
        sa.PrimaryKeyConstraint("target_id", name="pk_push_targets"),
    )

    op.create_table(
        "push_sources",
        sa.Column("target_id", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("first_seen", _TS, nullable=False),
        sa.PrimaryKeyConstraint("target_id", "source_id", name="pk_push_sources"),
    )

    op.create_table(
        "subscribers",
        sa.Column("target_id", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("created", _TS, nullable=False),
        sa.Column("updated", _TS, nullable=False),
        sa.Column("confirmed_at", _TS, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("target_id", "email", name="pk_subscribers"),
    )


def downgrade() -> None:
    op.drop_table("subscribers")
    op.drop_table("push_sources")
    op.drop_table("push_targets")
    op.drop_index("ix_deliveries_target_id_state_next_at", table_name="deliveries")
    op.drop_table("deliveries")
