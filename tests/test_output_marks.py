"""Shared build files on the machine's PostgreSQL when builds overlap: a late build never
replaces what a build from a newer mark shared, and builds of different feeds at once keep
each other's lines in the site-wide files (store/outputs.py, publish/shared.py, site.py);
and the bounds on what a share holds."""

from __future__ import annotations

import json
import os
import threading
import tracemalloc
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from syndicator.errors import PublishError
from syndicator.publish import build_feeds, shared
from syndicator.publish.shared import apply_shared, folder_lock
from syndicator.store import Store, outputs
from tests.test_output_share import NOW, add_items, config_for, pg_url, until

__all__ = ["pg_url"]     # the fixture, imported for the tests here


@pytest.mark.postgres
def test_a_share_never_replaces_a_path_shared_from_a_newer_mark(pg_url: str) -> None:
    store = Store(pg_url)
    try:
        assert store.share_outputs([("a.rss", b"new"), ("b.rss", b"B")], now=NOW, mark=50) == 1
        # An older render: neither its bytes nor its removals replace the newer rows.
        assert store.share_outputs([("a.rss", b"old")], removed=["b.rss"], now=NOW,
                                   mark=40) is None
        assert store.share_outputs([("a.rss", b"old")], keep=lambda path: False, now=NOW,
                                   mark=40) is None
        assert [(r.path, r.data) for r in store.published_since(0)] == [
            ("a.rss", b"new"), ("b.rss", b"B")]
        assert [(r.path, r.data) for r in store.published_newer(["a.rss", "c.rss"], 40)] \
            == [("a.rss", b"new")]
        assert store.published_newer(["a.rss"], 50) == []
        # The same mark or a newer one replaces them; a path new to the store is shared
        # whatever its mark.
        assert store.share_outputs([("a.rss", b"same mark"), ("c.rss", b"C")], now=NOW,
                                   mark=50) == 2
        assert store.share_outputs([("c.rss", b"C2")], removed=["b.rss"], now=NOW,
                                   mark=60) == 3
        assert [(r.path, r.version, r.data) for r in store.published_since(1, "b.rss")] == [
            ("a.rss", 2, b"same mark"), ("b.rss", 3, None), ("c.rss", 3, b"C2")]
    finally:
        store.close()


class PausedStore(Store):
    """A build that stops before its share until released: a worker paused past the job
    sweeper's stall window, whose job another instance has built since."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.marks: list[int] = []
        self.reached = threading.Event()
        self.release = threading.Event()

    def build_mark(self) -> int:
        mark = super().build_mark()
        self.marks.append(mark)
        return mark

    def share_outputs(self, files: Iterable[tuple[str, bytes]], **kwargs: Any) -> int | None:
        self.reached.set()
        assert self.release.wait(120)
        return super().share_outputs(files, **kwargs)


@pytest.mark.postgres
def test_a_late_build_leaves_the_newer_build_shared_and_takes_it_back(
        pg_url: str, tmp_path: Path) -> None:
    store = Store(pg_url)
    paused = PausedStore(pg_url)
    late, newer = tmp_path / "late", tmp_path / "newer"
    outcome: list[object] = []
    try:
        add_items(store, 1)
        build_feeds(config_for(pg_url, newer), store, NOW)

        def build_late() -> None:
            try:
                outcome.append(build_feeds(config_for(pg_url, late), paused, NOW, only=["news"]))
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=build_late, daemon=True)
        thread.start()
        assert paused.reached.wait(120)          # rendered from item 1 only, not shared yet
        add_items(store, 2)
        # The newer build reads from a later mark (once no transaction older than the late
        # build's mark is still open on the server).
        until(lambda: store.build_mark() > paused.marks[0], timeout=120)
        assert build_feeds(config_for(pg_url, newer), store, NOW,
                           only=["news"]).shared_version is not None
        assert b"Title 2" not in (late / "news.rss").read_bytes()
        paused.release.set()
        thread.join(120)
        result = outcome[0]
        assert not isinstance(result, BaseException), result
        shared = {row.path: row.data for row in store.published_since(0)}
        assert b"Title 2" in shared["news.rss"]
        for name in ("news.rss", "news.atom", "news.json", ".state/summaries.json",
                     ".state/archive-news.json", "index.html"):
            assert shared[name] == (newer / name).read_bytes(), name
            # The late build's own folder took the newer files back over its own.
            assert (late / name).read_bytes() == (newer / name).read_bytes(), name
    finally:
        paused.release.set()
        paused.close()
        store.close()


class MeetingStore(Store):
    """Builds that have all rendered before any of them shares: each rendered the site-wide
    files from its own view of the other feeds."""

    def __init__(self, url: str, barrier: threading.Barrier) -> None:
        super().__init__(url)
        self.barrier = barrier

    def share_outputs(self, files: Iterable[tuple[str, bytes]], **kwargs: Any) -> int | None:
        self.barrier.wait(120)
        return super().share_outputs(files, **kwargs)


@pytest.mark.postgres
def test_builds_of_different_feeds_at_once_keep_both_lines_everywhere(
        pg_url: str, tmp_path: Path) -> None:
    extra = '  - {id: more, title: "More", sources: [more]}'
    store = Store(pg_url)
    barrier = threading.Barrier(2)
    stores = [MeetingStore(pg_url, barrier) for _ in range(2)]
    one, two, third = tmp_path / "one", tmp_path / "two", tmp_path / "third"
    outcome: list[object] = []
    try:
        add_items(store, 1)
        add_items(store, 2, source="more")
        build_feeds(config_for(pg_url, one, extra=extra), store, NOW)
        build_feeds(config_for(pg_url, two, extra=extra), store, NOW, only=["more"])
        add_items(store, 3)
        add_items(store, 4, source="more")

        def build(folder: Path, feed: str, builder: Store) -> None:
            try:
                outcome.append(build_feeds(config_for(pg_url, folder, extra=extra), builder,
                                           NOW, only=[feed]))
            except BaseException as exc:
                outcome.append(exc)
                barrier.abort()

        threads = [threading.Thread(target=build, args=(folder, feed, builder), daemon=True)
                   for folder, feed, builder in ((one, "news", stores[0]),
                                                 (two, "more", stores[1]))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
        assert len(outcome) == 2 and not [r for r in outcome if isinstance(r, BaseException)], \
            outcome
        for folder in (one, two, third):
            with folder_lock(folder):
                apply_shared(folder, store)
            summaries = json.loads((folder / ".state" / "summaries.json").read_text())
            assert {fid: entry["items"] for fid, entry in summaries.items()} \
                == {"news": 2, "more": 2}, folder
            index = (folder / "index.html").read_text()
            assert index.count("2 items") == 2 and "1 item<" not in index, folder
            for name in ("index.html", "feeds.opml", ".state/summaries.json"):
                assert (folder / name).read_bytes() == (one / name).read_bytes(), name
    finally:
        for builder in stores:
            builder.close()
        store.close()


# -- bounds: a shared file's size, what a share holds in memory --------------------------

@pytest.mark.postgres
def test_a_file_over_the_shared_size_limit_is_refused_by_name(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared, "MAX_SHARED_BYTES", 1000)
    config = config_for(pg_url, tmp_path / "built")
    root = config.output_path
    root.mkdir(parents=True)
    (root / "news.rss").write_bytes(bytes(1000))
    (root / "news.atom").write_bytes(bytes(1001))
    store = Store(pg_url)
    try:
        with pytest.raises(PublishError) as caught:
            shared.share_build(config, store, [root / "news.rss", root / "news.atom"], [], NOW,
                               prune=False)
        assert str(root / "news.atom") in str(caught.value) and "1000 bytes" in str(caught.value)
        assert store.published_since(0) == []
        (root / "news.atom").write_bytes(bytes(1000))      # at the limit: shared
        assert shared.share_build(config, store, [root / "news.rss", root / "news.atom"], [],
                                  NOW, prune=False) == 1
    finally:
        store.close()


@pytest.mark.postgres
def test_a_share_holds_a_batch_of_files_in_memory_not_the_build(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outputs, "BATCH_BYTES", 1 << 20)
    config = config_for(pg_url, tmp_path / "built")
    paths = []
    for number in range(1, 25):          # 24 MiB in all, a MiB each
        path = config.output_path / "archive" / "news" / f"{number}.rss"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(1 << 20))
        paths.append(path)
    store = Store(pg_url)
    try:
        store.published_head()           # the connection pool's first connection made
        tracemalloc.start()
        try:
            assert shared.share_build(config, store, paths, [], NOW, prune=False) == 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 8 << 20, peak
        assert len(store.published_since(0, data=False)) == 24
    finally:
        store.close()


@pytest.mark.postgres
def test_a_follower_rewrites_a_file_of_the_same_size_but_other_bytes(
        pg_url: str, tmp_path: Path) -> None:
    store = Store(pg_url)
    folder = tmp_path / "folder"
    try:
        store.share_outputs([("news.rss", b"shared"), ("news.atom", b"kept")], now=NOW)
        folder.mkdir()
        (folder / "news.rss").write_bytes(b"SHARED")      # same size, other bytes
        (folder / "news.atom").write_bytes(b"kept")
        inode = (folder / "news.atom").stat().st_ino
        with folder_lock(folder):
            apply_shared(folder, store)
        assert (folder / "news.rss").read_bytes() == b"shared"
        assert (folder / "news.atom").stat().st_ino == inode     # the same bytes: left alone
    finally:
        store.close()
