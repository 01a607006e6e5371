"""The sign-up queue: confirmation mails leave through the push job, not the request.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "signups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("target_id", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", _TS, nullable=True),
        sa.Column("created", _TS, nullable=False),
        sa.Column("updated", _TS, nullable=False),
        sa.Column("claimed_at", _TS, nullable=True),
        sa.Column("claim", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_signups"),
    )
    op.create_index("ix_signups_target_id_state_next_at", "signups",
                    ["target_id", "state", "next_at"])
    op.create_index("ix_signups_target_id_email", "signups", ["target_id", "email"])


def downgrade() -> None:
    op.drop_index("ix_signups_target_id_email", table_name="signups")
    op.drop_index("ix_signups_target_id_state_next_at", table_name="signups")
    op.drop_table("signups")
