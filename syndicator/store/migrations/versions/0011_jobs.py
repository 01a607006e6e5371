"""The job engine's tables: when each scheduled job is due next (`job_schedule`, on every
database) and, on PostgreSQL only, procrastinate's schema (its tables, types, functions and
triggers, as procrastinate 3.10.0 ships them in `procrastinate/sql/schema.sql`, copied to
`migrations/procrastinate-3.10.0.sql`). On SQLite nothing of procrastinate is created: the
in-process engine needs none of it.

procrastinate is pinned to 3.10 (pyproject.toml). Moving to a later release is a new
migration that applies that release's `sql/migrations/*.sql` files after this one, so that
`migrations first` stays one upgrade step.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

PROCRASTINATE_SCHEMA = Path(__file__).parent.parent / "procrastinate-3.10.0.sql"


def upgrade() -> None:
    op.create_table(
        "job_schedule",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_job_schedule")),
    )
    op.create_index("ix_job_schedule_next_due_at", "job_schedule", ["next_due_at"])
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        _execute_raw(conn, PROCRASTINATE_SCHEMA.read_text(encoding="utf-8"))


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        _execute_raw(conn, """
            DO $$
            DECLARE name text;
            BEGIN
                FOR name IN SELECT tablename FROM pg_tables
                            WHERE schemaname = current_schema()
                              AND tablename LIKE 'procrastinate\\_%' LOOP
                    EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', name);
                END LOOP;
                FOR name IN SELECT p.oid::regprocedure::text FROM pg_proc p
                            JOIN pg_namespace n ON n.oid = p.pronamespace
                            WHERE n.nspname = current_schema()
                              AND p.proname LIKE 'procrastinate\\_%' LOOP
                    EXECUTE 'DROP FUNCTION IF EXISTS ' || name || ' CASCADE';
                END LOOP;
                FOR name IN SELECT t.typname FROM pg_type t
                            JOIN pg_namespace n ON n.oid = t.typnamespace
                            WHERE n.nspname = current_schema() AND t.typtype IN ('e', 'c')
                              AND t.typname LIKE 'procrastinate\\_%' LOOP
                    EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', name);
                END LOOP;
            END $$""")
    op.drop_index("ix_job_schedule_next_due_at", table_name="job_schedule")
    op.drop_table("job_schedule")


def _execute_raw(conn: sa.Connection, sql: str) -> None:
    """Run SQL through the driver's own execute, without parameters: procrastinate's SQL
    has literal % signs (RAISE formats) that a parameterised execute reads as placeholders."""
    conn.connection.driver_connection.execute(sql)  # type: ignore[union-attr]
