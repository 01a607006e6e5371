"""Throwaway databases on the machine's PostgreSQL, for the tests and the benchmarks.

`throwaway_database` creates a database of its own and drops it after (even with sessions
still open in it); it needs nothing but SQLAlchemy, so that `bench` can use it too.
`postgres_database` is the tests' way in: it skips when the server is unreachable, unless
SYNDICATOR_REQUIRE_POSTGRES is set (CI sets it, so that the PostgreSQL tests cannot skip there
silently), in which case it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from sqlalchemy import create_engine, make_url, text

from syndicator.store import safe_url

# An existing database to connect to for CREATE/DROP DATABASE; overridable for other setups.
PG_ADMIN_URL = os.environ.get("SYNDICATOR_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def throwaway_database(admin_url: str = PG_ADMIN_URL, *,
                       prefix: str = "syndicator_test") -> Iterator[str]:
    """A new, empty database on `admin_url`'s server (dropped after, forcibly): its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@cache
def postgres_problem() -> str | None:
    """Why the PostgreSQL server cannot be used, or None when it can."""
    engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()
    return None


def require_postgres() -> None:
    """Skip the test when PostgreSQL is unreachable; fail it instead when
    SYNDICATOR_REQUIRE_POSTGRES is set."""
    problem = postgres_problem()
    if problem is None:
        return
    # Imported here, so that the benchmarks, which use only throwaway_database, need no pytest.
    import pytest

    if os.environ.get("SYNDICATOR_REQUIRE_POSTGRES"):
        pytest.fail(f"SYNDICATOR_REQUIRE_POSTGRES is set but PostgreSQL is unreachable "
                    f"({safe_url(PG_ADMIN_URL)}): {problem}")
    pytest.skip(f"PostgreSQL unreachable ({safe_url(PG_ADMIN_URL)}: {problem}); "
                "set SYNDICATOR_REQUIRE_POSTGRES=1 to make this a failure")


def postgres_database() -> Iterator[str]:
    """A throwaway database's URL for one test (a generator, for fixtures to yield from)."""
    require_postgres()
    with throwaway_database() as url:
        yield url
