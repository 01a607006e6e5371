"""Subscribers choose their rhythm (a mail per item, a daily or a weekly digest), and a
sign-up through a form carries the languages and rhythm chosen on it until the address is
confirmed.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("rhythm", sa.Text(), nullable=True))
    with op.batch_alter_table("signups") as batch:
        batch.add_column(sa.Column("languages", sa.Text(), nullable=True))
        batch.add_column(sa.Column("rhythm", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("signups") as batch:
        batch.drop_column("rhythm")
        batch.drop_column("languages")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("rhythm")
