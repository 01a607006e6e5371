"""Alembic environment: migrates the connection `Store` hands over in `config.attributes`.

`Store` runs the migrations programmatically, on the connection and inside the transaction
it opened (so a concurrent opener waits instead of racing). Without such a connection, e.g.
`alembic -x` from a shell, `sqlalchemy.url` of the Alembic config is used.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from syndicator.store.schema import described_here, metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_name=described_here,
        # SQLite cannot ALTER most things; batch mode recreates tables in later migrations.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection in config.attributes and no sqlalchemy.url set")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    _run_online()
