"""The shared build output on the machine's PostgreSQL: what a build shares (store/outputs.py,
publish/shared.py) and how a follower writes it into its own folder (outputsync.py), in
this process. The same between real processes: tests/test_output_sync.py."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicator.config import Config, parse_config
from syndicator.outputsync import FolderOnly, OutputSync
from syndicator.publish import build_feeds
from syndicator.publish.shared import apply_shared, belongs_to, built_for, folder_lock, read_marker
from syndicator.store import Store
from syndicator.store.outage import StoreOutage
from syndicator.web.cache import FeedCache
from tests.postgres_support import postgres_database
from tests.test_store import make_item, make_run

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)

CONFIG = """
site: {{title: "Shared", base_url: "http://feeds.example/"}}
storage: "{url}"
output_dir: "{output}"
sources:
  - {{id: news, type: feed, url: "http://127.0.0.1:9/feed.xml", language: en}}
  - {{id: more, type: feed, url: "http://127.0.0.1:9/more.xml", language: en}}
feeds:
  - {{id: news, title: "News", sources: [news], limit: 3}}
{extra}
"""


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from postgres_database()


def config_for(url: str, output: Path, *, extra: str = "") -> Config:
    return parse_config(CONFIG.format(url=url, output=output, extra=extra))


def add_items(store: Store, *numbers: int, source: str = "news") -> None:
    items = [make_item(n, source=source) for n in numbers]
    store.save_run(make_run(source), items, [])


def until(condition: object, timeout: float = 30.0) -> float:
    """Wait until `condition()` is true; returns the seconds it took."""
    start = time.monotonic()
    while not condition():     # type: ignore[operator]
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.02)
    return time.monotonic() - start


# -- the store ------------------------------------------------------------------------------

@pytest.mark.postgres
def test_a_share_takes_a_version_only_for_bytes_that_changed(pg_url: str) -> None:
    store = Store(pg_url)
    try:
        assert store.shares_outputs
        database, version = store.published_head()
        assert version == 0 and len(database) == 32
        first = store.share_outputs([("a.rss", b"A1"), ("archive/a/1.rss", b"P1")], now=NOW)
        assert first == 1
        assert store.share_outputs([("a.rss", b"A1")], now=NOW) is None     # the same bytes
        second = store.share_outputs([("a.rss", b"A2"), ("archive/a/1.rss", b"P1")],
                                     removed=["gone.rss"], now=NOW)
        assert second == 2
        rows = store.published_since(0)
        assert [(r.path, r.version, r.data) for r in rows] == [
            ("archive/a/1.rss", 1, b"P1"), ("a.rss", 2, b"A2")]
        # A tombstone: a removed file, and a path a full build's configuration drops.
        third = store.share_outputs([("b.rss", b"B")], removed=["archive/a/1.rss"],
                                    keep=lambda path: path != "a.rss", now=NOW)
        assert third == 3
        assert [(r.path, r.version, r.data) for r in store.published_since(*(2, "a.rss"))] \
            == [("a.rss", 3, None), ("archive/a/1.rss", 3, None), ("b.rss", 3, b"B")]
        assert store.published_head() == (database, 3)
        # Paths only; and a byte budget that cuts a page (at least one row each time).
        assert [r.data for r in store.published_since(0, data=False)] == [None] * 3
        store.share_outputs([(f"big/{n}", bytes(100)) for n in range(5)], now=NOW)
        page = store.published_since(3, "b.rss", max_bytes=250)
        assert [r.path for r in page] == ["big/0", "big/1", "big/2"]
        assert [r.path for r in store.published_since(4, "big/4", max_bytes=1)] == []
        assert len(store.published_since(4, "big/0", max_bytes=1)) == 1
    finally:
        store.close()


@pytest.mark.postgres
def test_a_listener_hears_a_share_when_it_commits(pg_url: str) -> None:
    store = Store(pg_url)
    listener = store.output_listener()
    try:
        assert listener.wait(0.2) is False
        store.share_outputs([("a.rss", b"A")], now=NOW)
        assert listener.wait(30) is True
        assert listener.wait(0.2) is False     # one wake-up per share
        store.share_outputs([("a.rss", b"A")], now=NOW)     # nothing new: no notification
        assert listener.wait(0.5) is False
    finally:
        listener.close()
        store.close()


def test_sqlite_shares_nothing(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        assert not store.shares_outputs
        assert store.share_outputs([("a.rss", b"A")], now=NOW) is None
        config = config_for(f"sqlite:///{tmp_path / 'store.db'}", tmp_path / "feeds")
        add_items(store, 1)
        result = build_feeds(config, store, NOW)
        assert result.shared_version is None and result.written
        assert not (tmp_path / "feeds" / ".state" / "shared.lock").exists()
    finally:
        store.close()


def test_a_full_build_keeps_the_paths_of_configured_feeds_only(tmp_path: Path) -> None:
    keep = belongs_to(config_for("sqlite://", tmp_path))
    kept = ["news.rss", "news.atom", "news.json", "index.html", "feeds.opml",
            "archive/news/1.rss", ".state/archive-news.json", ".state/summaries.json"]
    dropped = ["old.rss", "news.txt", "archive/old/1.rss", "archive/news", ".state/x.json",
               ".state/archive-old.json", "other/news.rss", "archive/news/x.rss",
               "./news.rss", "archive//news/1.rss", "archive/news/./1.rss"]
    assert [path for path in kept + dropped if keep(path)] == kept


def test_only_the_shapes_builds_write_are_paths_a_build_writes() -> None:
    assert [built_for(p) for p in ("news.rss", "archive/b-2/7.json", ".state/archive-x.json",
                                   "index.html", ".state/summaries.json")] \
        == ["news", "b-2", "x", "", ""]
    for path in (".state/shared.lock", ".state/shared.json", "./.state/shared.lock",
                 ".state/./shared.lock", ".state//shared.json", "evil.html", "index.html/x",
                 "../news.rss", "/news.rss", "archive/../news.rss", "a\\b.rss", "",
                 "archive/news/1.rss/", "News.rss", ".state/archive-../x.json"):
        assert built_for(path) is None, path


@pytest.mark.postgres
def test_a_row_that_cannot_be_applied_is_skipped_and_the_rest_are_written(
        pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = Store(pg_url)
    folder = tmp_path / "folder"
    (folder / "blocked.rss").mkdir(parents=True)     # a folder where a file goes: OS error
    try:
        store.share_outputs([("index.html/x", b"bad"), ("./.state/shared.lock", b"bad"),
                             (".state//shared.json", b"bad"), ("evil.html", b"bad"),
                             ("blocked.rss", b"bad"), ("news.rss", b"good")], now=NOW)
        with folder_lock(folder):
            _, marker, written = apply_shared(folder, store)
        assert written == ["news.rss"] and (folder / "news.rss").read_bytes() == b"good"
        assert marker == (1, "news.rss") and read_marker(folder)[1] == marker
        assert not (folder / "evil.html").exists()
        assert (folder / ".state" / "shared.lock").read_bytes() == b""
        assert json.loads((folder / ".state" / "shared.json").read_text())["version"] == 1
        skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
        assert len(skipped) == 5
        # The marker moved past them: the next round logs nothing and writes nothing.
        caplog.clear()
        store.share_outputs([("news.rss", b"better")], now=NOW)
        with folder_lock(folder):
            assert apply_shared(folder, store)[2] == ["news.rss"]
        assert not [r for r in caplog.records if "skipped" in r.getMessage()]
    finally:
        store.close()


@pytest.mark.postgres
def test_a_share_reads_every_file_before_it_takes_the_version_lock(
        pg_url: str, tmp_path: Path) -> None:
    """Another share holds the version row: a build whose last file cannot be read fails at
    once (its files are read and written before it asks for the version)."""
    from sqlalchemy import create_engine, text

    from syndicator.errors import PublishError
    from syndicator.publish.shared import share_build

    config = config_for(pg_url, tmp_path / "built")
    root = config.output_path
    root.mkdir(parents=True)
    paths = []
    for number in range(1, 202):     # more than one batch of files (BATCH_FILES = 200)
        path = root / "archive" / "news" / f"{number}.rss"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"page %d" % number)
        paths.append(path)
    unreadable = root / "news.rss"
    unreadable.mkdir()               # a folder: reading it is an OS error
    store = Store(pg_url)
    holder = create_engine(pg_url)
    outcome: list[BaseException | int | None] = []
    try:
        with holder.connect() as conn:
            conn.execute(text("SELECT version FROM published_state WHERE id = 1 FOR UPDATE"))

            def share() -> None:
                try:
                    outcome.append(share_build(config, store, [*paths, unreadable], [], NOW,
                                               prune=False))
                except BaseException as exc:
                    outcome.append(exc)

            thread = threading.Thread(target=share, daemon=True)
            thread.start()
            until(lambda: bool(outcome), timeout=60)
            conn.rollback()
        assert isinstance(outcome[0], PublishError) and "news.rss" in str(outcome[0])
        assert store.published_head()[1] == 0 and store.published_since(0) == []
        # Readable, the same files share under one version once the lock is free.
        unreadable.rmdir()
        unreadable.write_bytes(b"feed")
        assert share_build(config, store, [*paths, unreadable], [], NOW, prune=False) == 1
        assert len(store.published_since(0, data=False)) == 202
    finally:
        holder.dispose()
        store.close()


# -- a build shares, a follower writes ---------------------------------------------------

@pytest.mark.postgres
def test_a_build_shares_its_files_and_followers_write_and_serve_them(
        pg_url: str, tmp_path: Path) -> None:
    builder = config_for(pg_url, tmp_path / "built")
    store = Store(pg_url)
    caches = [FeedCache(tmp_path / name) for name in ("one", "two")]
    syncs = [OutputSync(cache.output_dir, store, cache, StoreOutage(pg_url, lambda: NOW))
             for cache in caches]
    try:
        add_items(store, 1, 2)
        first = build_feeds(builder, store, NOW)
        assert first.shared_version == 1
        shared = {row.path for row in store.published_since(0)}
        assert {"news.rss", "news.atom", "news.json", "index.html", "feeds.opml",
                ".state/summaries.json"} <= shared
        for sync in syncs:
            sync.start()
        for cache in caches:
            until(lambda cache=cache: cache.get("/news.rss") is not None)
            assert cache.get("/news.rss").body == (tmp_path / "built" / "news.rss").read_bytes()
        add_items(store, 3)
        second = build_feeds(builder, store, NOW, only=["news"])
        assert second.shared_version == 2
        for cache in caches:
            until(lambda cache=cache: b"Title 3" in cache.get("/news.rss").body)
            folder = cache.output_dir
            assert (folder / "news.rss").read_bytes() == cache.get("/news.rss").body
            marker = json.loads((folder / ".state" / "shared.json").read_text())
            assert marker["version"] == 2
    finally:
        for sync in syncs:
            sync.stop()
        store.close()


class Deaf:
    """A listener that hears nothing: every notification is missed."""

    def wait(self, timeout: float) -> bool:
        time.sleep(timeout)
        return False

    def close(self) -> None:
        """Nothing to close."""


class DeafStore(Store):
    def output_listener(self) -> Deaf:    # type: ignore[override]
        return Deaf()


@pytest.mark.postgres
def test_the_fallback_catches_up_without_notifications(pg_url: str, tmp_path: Path) -> None:
    builder = config_for(pg_url, tmp_path / "built")
    store = DeafStore(pg_url)
    cache = FeedCache(tmp_path / "deaf")
    sync = OutputSync(cache.output_dir, store, cache, StoreOutage(pg_url, lambda: NOW),
                      fallback=1.0)
    try:
        sync.start()
        until(lambda: sync.rounds >= 1)
        add_items(store, 1)
        build_feeds(builder, store, NOW)
        until(lambda: cache.get("/news.rss") is not None
              and b"Title 1" in cache.get("/news.rss").body, timeout=30)
    finally:
        sync.stop()
        store.close()


@pytest.mark.postgres
def test_followers_sharing_a_folder_write_each_file_once_and_both_serve_it(
        pg_url: str, tmp_path: Path) -> None:
    """`serve`'s workers: one folder, one marker; the second reads what the first wrote."""
    builder = config_for(pg_url, tmp_path / "built")
    store = Store(pg_url)
    folder = tmp_path / "served"
    caches = [FeedCache(folder), FeedCache(folder)]
    syncs = [OutputSync(folder, store, cache, StoreOutage(pg_url, lambda: NOW))
             for cache in caches]
    try:
        add_items(store, 1)
        build_feeds(builder, store, NOW)
        # Rounds called here, one after the other (no threads): the first writes the
        # files, the second reloads them from the folder.
        assert "news.rss" in syncs[0].round()
        inode = (folder / "news.rss").stat().st_ino     # a rewrite is a new file (rename)
        assert "news.rss" in syncs[1].round()
        for cache in caches:
            assert cache.get("/news.rss").body == (folder / "news.rss").read_bytes()
        add_items(store, 2)
        build_feeds(builder, store, NOW)
        assert "news.rss" in syncs[1].round()
        assert (folder / "news.rss").stat().st_ino != inode
        assert (folder / "news.rss").stat().st_mtime == NOW.timestamp()    # the build's time
        assert "news.rss" in syncs[0].round()
        for cache in caches:
            assert b"Title 2" in cache.get("/news.rss").body
        assert syncs[0].round() == syncs[1].round() == []
    finally:
        for sync in syncs:
            sync.stop()
        store.close()


@pytest.mark.postgres
def test_a_follower_never_writes_over_a_build_in_its_folder(
        pg_url: str, tmp_path: Path) -> None:
    """A round waits for the folder's lock, which a build holds while it writes and
    shares: what it then reads is that build's version, never an older one."""
    store = Store(pg_url)
    folder = tmp_path / "both"
    config = config_for(pg_url, folder)
    cache = FeedCache(folder)
    sync = OutputSync(folder, store, cache, StoreOutage(pg_url, lambda: NOW))
    try:
        add_items(store, 1)
        build_feeds(config_for(pg_url, tmp_path / "elsewhere"), store, NOW)
        sync.start()
        until(lambda: cache.get("/news.rss") is not None)
        add_items(store, 2)
        with folder_lock(folder):
            started = threading.Event()
            done: list[list[str]] = []

            def round_() -> None:
                started.set()
                done.append(sync.round())

            thread = threading.Thread(target=round_)
            thread.start()
            started.wait()
            time.sleep(0.3)
            assert not done        # the round waits for the lock
        thread.join(30)
        assert done
        build_feeds(config, store, NOW)
        until(lambda: b"Title 2" in cache.get("/news.rss").body)
        sync.round()
        assert b"Title 2" in (folder / "news.rss").read_bytes()
    finally:
        sync.stop()
        store.close()


@pytest.mark.postgres
def test_a_dropped_feed_stays_until_prune_removed_then_goes_everywhere(
        pg_url: str, tmp_path: Path) -> None:
    """An instance on an older configuration (without "more") builds in full: the newer
    feed's shared files stay; `build --prune-removed` removes them from every folder."""
    extra = '  - {id: more, title: "More", sources: [more]}'
    store = Store(pg_url)
    cache = FeedCache(tmp_path / "served")
    sync = OutputSync(cache.output_dir, store, cache, StoreOutage(pg_url, lambda: NOW))
    try:
        add_items(store, 1)
        add_items(store, 2, source="more")
        build_feeds(config_for(pg_url, tmp_path / "built", extra=extra), store, NOW)
        sync.start()
        until(lambda: cache.get("/more.rss") is not None)
        shared = {r.path for r in store.published_since(0, data=False)}
        assert {"more.rss", "more.atom", ".state/archive-more.json"} <= shared
        add_items(store, 3)
        old = config_for(pg_url, tmp_path / "old")          # "more" not configured
        version = build_feeds(old, store, NOW).shared_version
        assert version is not None
        until(lambda: read_marker(cache.output_dir)[1][0] >= version)
        assert {r.path for r in store.published_since(0) if r.data is not None} >= shared
        assert (cache.output_dir / "more.rss").exists() and cache.get("/more.rss") is not None
        assert (cache.output_dir / ".state" / "archive-more.json").exists()
        build_feeds(old, store, NOW, prune_removed=True)    # the explicit removal
        until(lambda: cache.get("/more.rss") is None)
        assert not (cache.output_dir / "more.rss").exists()
        assert not (cache.output_dir / ".state" / "archive-more.json").exists()
        assert cache.get("/news.rss") is not None
    finally:
        sync.stop()
        store.close()


@pytest.mark.postgres
def test_a_process_serving_nothing_follows_into_its_folder(pg_url: str, tmp_path: Path) -> None:
    """`worker`: no cache, but its next build reads the archive state and the summaries
    the cluster's builds left, so they are written into its folder too."""
    store = Store(pg_url)
    folder = tmp_path / "worker"
    sync = OutputSync(folder, store, FolderOnly(), StoreOutage(pg_url, lambda: NOW))
    try:
        add_items(store, 1)
        build_feeds(config_for(pg_url, tmp_path / "built"), store, NOW)
        assert "news.rss" in sync.round()
        assert (folder / ".state" / "summaries.json").read_bytes() == \
            (tmp_path / "built" / ".state" / "summaries.json").read_bytes()
    finally:
        store.close()


@pytest.mark.postgres
def test_a_build_starts_from_what_the_cluster_built(pg_url: str, tmp_path: Path) -> None:
    """Before it builds, a build writes into its folder what other instances shared since
    (archive state, summaries, the other feeds' files) under the folder's lock."""
    extra = '  - {id: more, title: "More", sources: [more]}'
    store = Store(pg_url)
    try:
        add_items(store, 1)
        add_items(store, 2, source="more")
        one, two = tmp_path / "one", tmp_path / "two"
        build_feeds(config_for(pg_url, one, extra=extra), store, NOW)
        add_items(store, 3)
        build_feeds(config_for(pg_url, one, extra=extra), store, NOW, only=["news"])
        build_feeds(config_for(pg_url, two, extra=extra), store, NOW, only=["more"])
        for name in ("news.rss", ".state/summaries.json"):
            assert (two / name).read_bytes() == (one / name).read_bytes()
        assert json.loads((two / ".state" / "shared.json").read_text())["version"] == 2
    finally:
        store.close()


@pytest.mark.postgres
def test_the_hourly_prune_deletes_tombstones_older_than_the_days_kept(
        pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from syndicator.app import make_app
    from syndicator.service import TOMBSTONE_DAYS, Service

    config = parse_config(f'storage: "{pg_url}"\nsources: []\nfeeds: []\n', base_dir=tmp_path)
    with make_app(config) as app:
        store = app.store
        now = app.clock()
        long_ago = now - timedelta(days=TOMBSTONE_DAYS + 10)
        store.share_outputs([("old.rss", b"O"), ("kept.rss", b"K"), ("recent.rss", b"R")],
                            now=long_ago)
        store.share_outputs([], removed=["old.rss"], now=now - timedelta(days=TOMBSTONE_DAYS + 1))
        store.share_outputs([], removed=["recent.rss"], now=now - timedelta(days=1))
        caplog.set_level("INFO")
        Service(app).prune()
        # The old tombstone went; a file however old stays, and so does a recent tombstone.
        assert [(row.path, row.data) for row in store.published_since(0)] == [
            ("kept.rss", b"K"), ("recent.rss", None)]
        assert [r.getMessage() for r in caplog.records if "tombstone" in r.getMessage()] == [
            f"shared builds: 1 tombstone(s) of removed files older than {TOMBSTONE_DAYS} "
            "days deleted"]
        # A folder following from the start gets what is shared, the removed files never.
        folder = tmp_path / "fresh"
        with folder_lock(folder):
            assert apply_shared(folder, store)[2] == ["kept.rss", "recent.rss"]
        assert sorted(path.name for path in folder.iterdir()) == [".state", "kept.rss"]
