"""A PostgreSQL outage under the service: one clear log line, not a traceback per poll.

The store is the machine's PostgreSQL reached through a TCP proxy on loopback; stopping the
proxy (refusing connections, resetting open ones) is the outage, starting it again on the
same port is the recovery.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from syndicator.app import make_app
from syndicator.config import parse_config
from syndicator.errors import StoreError
from syndicator.service import Service
from syndicator.status import ServiceStatus
from syndicator.store import Store
from syndicator.store.outage import StoreOutage, describe_store, outage_reason
from tests.pgproxy import PgProxy
from tests.postgres_support import postgres_database

pytestmark = pytest.mark.postgres


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def relayed_url() -> Iterator[tuple[str, PgProxy]]:
    for url in postgres_database():
        parsed = make_url(url)
        relay = PgProxy((parsed.host or "127.0.0.1", parsed.port or 5432))
        relay.start()
        Store(url).close()                     # the schema, made directly
        try:
            yield parsed.set(host="127.0.0.1", port=relay.port).render_as_string(
                hide_password=False), relay
        finally:
            relay.stop()


def test_an_outage_is_one_line_per_five_minutes_and_names_no_host(
        relayed_url: tuple[str, PgProxy], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    url, relay = relayed_url
    parsed = make_url(url)
    config = parse_config(
        f'storage: "{url}"\nsources:\n'
        '  - {id: wire, type: feed, url: "http://127.0.0.1:9/feed.xml", schedule: {every: 1m}}\n'
        "feeds:\n  - {id: wire, title: Wire, sources: [wire]}\n", base_dir=tmp_path)
    clock = Clock()
    with make_app(config, clock=clock) as app:
        service = Service(app)
        service.poll("wire")                   # a normal (failed fetch) run: the store works
        relay.stop()
        caplog.clear()
        with caplog.at_level(logging.INFO):
            for _ in range(5):
                clock.now += timedelta(seconds=30)
                assert service.poll("wire") is None
            first = [r for r in caplog.records if r.levelno >= logging.WARNING]
            caplog.clear()
            clock.now += timedelta(minutes=5)
            service.poll("wire")
            reminder = [r for r in caplog.records if r.levelno >= logging.WARNING]
            caplog.clear()
            relay.start()                      # the same port: the store is back
            for _ in range(3):
                clock.now += timedelta(seconds=30)
                if service.poll("wire") is not None:
                    break
            recovered = [r.getMessage() for r in caplog.records
                         if r.name == "syndicator.store"]
    assert len(first) == 1, [r.getMessage() for r in first]
    line = first[0].getMessage()
    assert first[0].exc_info is None and "Traceback" not in caplog.text
    assert f"postgresql database {parsed.database!r} is unavailable (connection" in line
    assert len(reminder) == 1 and "still unavailable" in reminder[0].getMessage()
    assert recovered and "available again" in recovered[-1]
    for leak in (str(relay.port), "127.0.0.1", f"{parsed.username}@", "postgres@"):
        assert leak not in line + reminder[0].getMessage() + recovered[-1], leak


def test_store_descriptions_and_reasons() -> None:
    assert describe_store("postgresql+psycopg://news:pw@db.internal:5432/news") == (
        "postgresql database 'news'")
    assert describe_store("sqlite:////var/lib/syndicator/items.db") == (
        "sqlite database 'items.db'")
    try:
        Store("postgresql+psycopg://news:pw@127.0.0.1:9/news")
    except StoreError as exc:
        assert outage_reason(exc) == "connection refused"
    else:  # pragma: no cover
        raise AssertionError("nothing listens on port 9")


def test_one_line_per_outage_whatever_mix_of_reasons_its_failures_give(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    outage = StoreOutage("postgresql+psycopg://news:pw@db.internal:5432/news", clock)
    refused, pooled = StoreError("poll"), StoreError("job workers")
    refused.__cause__ = OSError("connection refused")
    pooled.__cause__ = TimeoutError("couldn't get a connection after 10.00 sec")
    with caplog.at_level(logging.INFO, logger="syndicator.store"):
        for exc in (pooled, refused, pooled, refused):
            clock.now += timedelta(seconds=1)
            outage.failed(exc, "the job workers")
        clock.now += timedelta(seconds=1)
        outage.answered()
    assert [r.getMessage() for r in caplog.records] == [
        "postgresql database 'news' is unavailable (no connection within the pool's timeout); "
        "the job workers and other jobs wait for it; reported again every 5 min while it lasts",
        "postgresql database 'news' is available again (down for 4 s)"]


def test_the_status_pages_report_to_the_process_outage_line(tmp_path: Path) -> None:
    """Under `run`, a status page that meets the store down adds no line of its own."""
    failures: list[tuple[str, str]] = []

    class Reporter:
        def failed(self, exc: StoreError, job: str) -> None:
            failures.append((outage_reason(exc), job))

    config = parse_config(
        'sources:\n  - {id: wire, type: feed, url: "http://127.0.0.1:9/feed.xml"}\n'
        "feeds:\n  - {id: wire, title: Wire, sources: [wire]}\n", base_dir=tmp_path)
    store = Store("postgresql+psycopg://news:pw@127.0.0.1:9/news", migrate=False)
    try:
        status = ServiceStatus(config, store, outage=Reporter())
        with pytest.raises(StoreError):
            status.report()
        assert status.healthy() == (False, {"mode": "serve", "store": "unavailable"})
    finally:
        store.close()
    assert failures == [("connection refused", "the status page")] * 2
