"""PostgreSQL sessions that cannot stall the cluster: the dispatcher claims only the keys it
is given (rows of removed sources never crowd out live ones), and every connection carries
the server settings of store/database.py's ALIVE, so the server ends a session left idle
inside a transaction and frees its locks; the store's pool is sized for the process's
jobs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from syndicator.config import parse_config
from syndicator.model import RunResult
from syndicator.service import open_app
from syndicator.store import Store, database
from syndicator.store.schedule import CLAIM_LIMIT
from tests.postgres_support import postgres_database
from tests.test_archive import make_item

pytestmark = pytest.mark.postgres

WAIT = 30.0
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


@pytest.fixture
def pg_url() -> Iterator[str]:
    for url in postgres_database():
        Store(url).close()
        yield url


def test_rows_of_removed_sources_never_take_a_live_sources_slot(pg_url: str) -> None:
    store = Store(pg_url)
    try:
        gone = {f"source:gone{n}": NOW - timedelta(hours=1) for n in range(CLAIM_LIMIT + 1)}
        store.plan_due({**gone, "source:live": NOW})
        queued: list[list[str]] = []
        claimed = store.claim_due(["source:live"], NOW, lambda key: NOW + timedelta(hours=1),
                                  queued.append)
        assert (claimed, queued) == (["source:live"], [["source:live"]])
        assert store.due_times(["source:live", "source:gone0"]) == {
            "source:live": NOW + timedelta(hours=1), "source:gone0": NOW - timedelta(hours=1)}
    finally:
        store.close()


def test_every_connection_carries_the_session_settings(pg_url: str) -> None:
    from syndicator.jobs.queue import CONNECTION
    from syndicator.store.outputs import LISTENER_CONNECTION

    assert CONNECTION["options"] == LISTENER_CONNECTION["options"] == database.ALIVE["options"]
    store = Store(pg_url)
    try:
        with store.engine.connect() as conn:
            settings = {name: conn.execute(text(f"SHOW {name}")).scalar()
                        for name in database.SESSION}
        assert settings == {"idle_in_transaction_session_timeout": "1min",
                            "tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5",
                            "tcp_keepalives_count": "3"}
    finally:
        store.close()


def test_a_session_left_idle_in_a_transaction_is_ended_and_the_store_writes_on(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An instance that froze inside a transaction (its row locks held) loses the session
    after the idle timeout; the lock is free and the store's next write succeeds."""
    monkeypatch.setitem(database.ALIVE, "options",
                        "-c idle_in_transaction_session_timeout=1s")
    store = Store(pg_url)
    other = Store(pg_url)
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        store.plan_due({"source:a": NOW})
        frozen = store.engine.connect()
        frozen.begin()
        pid = frozen.execute(text("SELECT pg_backend_pid()")).scalar()
        frozen.execute(text("SELECT * FROM job_schedule FOR UPDATE")).all()
        deadline = time.monotonic() + WAIT
        with admin.connect() as watch:
            while watch.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                                {"pid": pid}).scalar():
                assert time.monotonic() < deadline, "the idle transaction was not ended"
                time.sleep(0.2)
        with pytest.raises(DBAPIError):
            frozen.execute(text("SELECT 1"))
        frozen.close()
        # The row it locked is free, and the store's own pool writes on.
        assert other.claim_due(["source:a"], NOW, lambda key: NOW + timedelta(hours=1),
                               lambda keys: None) == ["source:a"]
        store.plan_due({"source:b": NOW})
        assert store.due_times(["source:a", "source:b"]) == {
            "source:a": NOW + timedelta(hours=1), "source:b": NOW}
    finally:
        admin.dispose()
        other.close()
        store.close()


def test_a_slow_reader_of_the_feed_links_is_no_idle_transaction(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build works on the feed links while it reads them: however long that takes, the
    session holds no transaction the server would end under it."""
    monkeypatch.setitem(database.ALIVE, "options",
                        "-c idle_in_transaction_session_timeout=1s")
    store = Store(pg_url)
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        items = [make_item(n) for n in range(3)]
        store.save_run(RunResult(source_id="news", started=NOW, finished=NOW, ok=True),
                       items, ())
        links = store.feed_links(["news"], batch=1)
        first = next(links)
        with admin.connect() as watch:
            states = watch.execute(text(
                "SELECT state FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()")).scalars().all()
        assert states and "idle in transaction" not in states
        time.sleep(2)     # past the idle timeout
        assert len([first, *links]) == 3
        store.save_run(RunResult(source_id="news", started=NOW, finished=NOW, ok=True),
                       [make_item(3)], ())
        assert len(list(store.feed_links(["news"]))) == 4
    finally:
        admin.dispose()
        store.close()


@pytest.mark.parametrize(("concurrency", "http", "kept", "more"), [
    ("3", False, 3 + 3, 0),         # a worker: one per job, 3 for its own threads
    ("2", True, 2 + 3 + 4, 8),      # a run: and the HTTP side's
    ("null", False, 4 + 3, 0),      # unset: the cluster's default of 4 jobs
])
def test_the_store_pool_follows_jobs_concurrency(pg_url: str, tmp_path: Path, concurrency: str,
                                                 http: bool, kept: int, more: int) -> None:
    config = parse_config(f'storage: "{pg_url}"\njobs: {{concurrency: {concurrency}}}\n',
                          file="config.yaml", base_dir=tmp_path)
    app, answered = open_app(config, http=http)
    try:
        assert answered
        pool = app.store.engine.pool
        assert isinstance(pool, QueuePool) and pool.size() == kept
        # Every job (and HTTP read) at once gets a connection: `more` beyond the kept ones.
        held = [app.store.engine.connect() for _ in range(kept + more)]
        try:
            assert pool.checkedout() == kept + more and pool.overflow() == more
        finally:
            for conn in held:
                conn.close()
    finally:
        app.close()
