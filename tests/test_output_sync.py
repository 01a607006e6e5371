"""Freshness across instances, with real processes on the machine's PostgreSQL: `syndicator
serve` processes with output folders of their own serve a build made anywhere else within
2 s of it, catch up after their listening connection is killed, and a fresh one with an
empty folder serves everything once started."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from serve_support import stop_process, wait_until_answered
from sqlalchemy import create_engine, make_url, text

from bench.freshness import config_text
from syndicator.config import Config, parse_config
from syndicator.publish import build_feeds
from syndicator.store import Store
from syndicator.store.outputs import LISTENER_NAME
from tests.net_support import free_port
from tests.pgproxy import PgProxy
from tests.postgres_support import postgres_database
from tests.test_store import make_item, make_run

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

FRESH_S = 2.0        # a build is served everywhere within this (the promise)
PATIENCE_S = 60.0    # how long a test waits for anything at all on a loaded machine


@dataclass
class Instance:
    process: subprocess.Popen[bytes]
    port: int
    folder: Path
    log: Path

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=10, trust_env=False)

    def serves(self, path: str, needle: bytes) -> bool:
        try:
            answer = self.get(path)
        except httpx.TransportError:
            return False
        return answer.status_code == 200 and needle in answer.content


def write_config(folder: Path, url: str, port: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(config_text(url, folder / "feeds", port or free_port(), limit=5))
    return path


@contextmanager
def serving(tmp_path: Path, name: str, url: str) -> Iterator[Instance]:
    folder = tmp_path / name
    port = free_port()
    config = write_config(folder, url, port)
    log = folder / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "syndicator", "--config", str(config), "serve"],
            cwd=folder, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_answered(process, f"http://127.0.0.1:{port}/healthz", log,
                            timeout=PATIENCE_S)
        yield Instance(process, port, folder / "feeds", log)
    finally:
        stop_process(process)


def listeners(url: str) -> list[int]:
    """The pids of the backends listening for builds on this test's database."""
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return [int(pid) for (pid,) in conn.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :db AND "
                "application_name = :name"), {"db": parsed.database, "name": LISTENER_NAME})]
    finally:
        admin.dispose()


def terminate(pids: list[int], url: str) -> None:
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for pid in pids:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()


def wait_for(condition: object, timeout: float = PATIENCE_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():     # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.05)


def served_after(instances: list[Instance], needle: bytes) -> list[float]:
    """Poll every instance at once until each serves `needle` in its feed; the seconds each
    took, from this call (made right after the build returned)."""
    start = time.monotonic()
    delays: list[float | None] = [None] * len(instances)

    def poll(n: int) -> None:
        while time.monotonic() - start < PATIENCE_S:
            if instances[n].serves("/news.rss", needle):
                delays[n] = time.monotonic() - start
                return
            time.sleep(0.02)

    threads = [threading.Thread(target=poll, args=(n,)) for n in range(len(instances))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(delay is not None for delay in delays), delays
    return [delay for delay in delays if delay is not None]


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from postgres_database()


T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def add_item(store: Store, n: int) -> None:
    store.save_run(make_run("news", started=T0 + timedelta(minutes=n)),
                   [make_item(n, source="news")], [])


@contextmanager
def cluster(tmp_path: Path, url: str, *names: str) -> Iterator[tuple[Config, Store,
                                                                     list[Instance]]]:
    """A builder's config and store with one item built, and a serving instance of each
    name, started with an empty folder: each has caught up with that build and listens."""
    builder = parse_config(write_config(tmp_path / "builder", url).read_text())
    store = Store(url)
    with ExitStack() as stack:
        stack.callback(store.close)
        add_item(store, 1)
        build_feeds(builder, store, T0)
        instances = [stack.enter_context(serving(tmp_path, name, url)) for name in names]
        for instance in instances:
            wait_for(lambda i=instance: i.serves("/news.rss", b"Title 1"))
        wait_for(lambda: len(listeners(url)) == len(instances))
        yield builder, store, instances


def test_every_instance_serves_a_build_made_elsewhere_within_two_seconds(
        pg_url: str, tmp_path: Path) -> None:
    with cluster(tmp_path, pg_url, "one", "two") as (builder, store, (one, two)):
        assert not (tmp_path / "one" / "feeds" / "news.rss").samefile(
            tmp_path / "two" / "feeds" / "news.rss")
        # Builds made here (a third process as far as the servers know), one item each.
        delays = []
        for n in (2, 3, 4):
            add_item(store, n)
            result = build_feeds(builder, store, T0 + timedelta(minutes=n), only=["news"])
            assert result.shared_version is not None
            delays += served_after([one, two], f"Title {n}".encode())
        print(f"build returned -> served, {len(delays)} samples: "
              f"{', '.join(f'{d * 1000:.0f} ms' for d in delays)}")
        assert max(delays) <= FRESH_S, delays
        # A build by `syndicator build` in a process of its own is served alike.
        add_item(store, 5)
        subprocess.run([sys.executable, "-m", "syndicator", "--config",
                        str(tmp_path / "builder" / "config.yaml"), "build"],
                       check=True, capture_output=True, cwd=tmp_path / "builder")
        assert max(served_after([one, two], b"Title 5")) <= FRESH_S
        # The same bytes, validators and modification time (the build's) everywhere.
        answers = [instance.get("/news.rss") for instance in (one, two)]
        assert answers[0].headers["etag"] == answers[1].headers["etag"]
        assert answers[0].headers["last-modified"] == answers[1].headers["last-modified"]
        for instance in (one, two):
            assert instance.get("/news.rss").content == \
                (tmp_path / "builder" / "feeds" / "news.rss").read_bytes()
            assert instance.get("/index.html").content == \
                (tmp_path / "builder" / "feeds" / "index.html").read_bytes()


def test_a_killed_listener_is_caught_up_and_a_fresh_instance_serves_everything(
        pg_url: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        builder, store, (one,) = stack.enter_context(cluster(tmp_path, pg_url, "one"))
        # The listening connection dies; the build's notification goes nowhere.
        terminate(listeners(pg_url), pg_url)
        add_item(store, 2)
        build_feeds(builder, store, T0 + timedelta(minutes=2), only=["news"])
        delay = served_after([one], b"Title 2")[0]
        print(f"listener killed: build served after {delay * 1000:.0f} ms")
        wait_for(lambda: len(listeners(pg_url)) == 1)      # listening again
        add_item(store, 3)
        build_feeds(builder, store, T0 + timedelta(minutes=3), only=["news"])
        assert served_after([one], b"Title 3")[0] <= FRESH_S
        # A fresh instance, empty folder: everything the cluster built, at once.
        fresh = stack.enter_context(serving(tmp_path, "fresh", pg_url))
        wait_for(lambda: fresh.serves("/news.rss", b"Title 3"))
        for path in ("/news.rss", "/news.atom", "/news.json", "/index.html", "/feeds.opml"):
            assert fresh.get(path).content == one.get(path).content
        assert "Traceback" not in one.log.read_text()


def test_a_database_outage_keeps_the_last_feeds_served_and_is_caught_up_after(
        pg_url: str, tmp_path: Path) -> None:
    """The serving process reaches PostgreSQL through a proxy that is cut: it goes on
    serving what it has, logs the outage once, and serves what was built meanwhile once
    the database is back."""
    builder = parse_config(write_config(tmp_path / "builder", pg_url).read_text())
    store = Store(pg_url)
    with ExitStack() as stack:
        stack.callback(store.close)
        proxy = stack.enter_context(PgProxy(("127.0.0.1", 5432)))
        through = make_url(pg_url).set(host="127.0.0.1", port=proxy.port)
        add_item(store, 1)
        build_feeds(builder, store, T0)
        one = stack.enter_context(
            serving(tmp_path, "one", through.render_as_string(hide_password=False)))
        wait_for(lambda: one.serves("/news.rss", b"Title 1"))
        wait_for(lambda: len(listeners(pg_url)) == 1)
        proxy.stop()
        add_item(store, 2)
        build_feeds(builder, store, T0 + timedelta(minutes=2), only=["news"])
        wait_for(lambda: "is unavailable" in one.log.read_text())
        time.sleep(3)            # several rounds and retries while it lasts
        answer = one.get("/news.rss")
        assert answer.status_code == 200 and b"Title 1" in answer.content
        assert b"Title 2" not in answer.content
        proxy.start()
        wait_for(lambda: one.serves("/news.rss", b"Title 2"))
        wait_for(lambda: "is available again" in one.log.read_text())
    log = one.log.read_text()
    assert log.count("is unavailable") == 1, log
    assert "Traceback" not in log, log
