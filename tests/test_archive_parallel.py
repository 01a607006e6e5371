"""A full build shared with a worker process (publish/parallel.py) writes the same bytes, the
same archive state and reports the same files as a build in one process; a worker that
cannot start only costs time; and a pass's cache of rendered items stays small."""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from syndicator import processes
from syndicator.config import Config, FeedConfig
from syndicator.model import Item
from syndicator.publish import build_feeds, feeds, parallel
from syndicator.publish.links import EntryLink
from syndicator.store import Store
from syndicator.store.reader import SqliteItems
from tests.test_archive import NOW, T0, make_config, make_item, save


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _config(output: Path) -> Config:
    # Overlapping feeds, as in the benchmark: both sources, and one source with a filter.
    base = make_config(output, limit=10, sources=("news", "other"))
    return Config(site=base.site, output_dir=base.output_dir, sources=base.sources,
                  websub=base.websub, feeds=(
                      *base.feeds,
                      FeedConfig(id="odd", title="Odd", sources=("news",), limit=7,
                                 include=(r"[13579]$",))))


def _seed(store: Store) -> None:
    for batch in range(4):
        at = T0 + timedelta(days=batch)
        save(store, [make_item(n) for n in range(batch * 60, batch * 60 + 60)], at)
        save(store, [make_item(1000 + n, id=f"o-{n}", url=f"https://news.example.org/o/{n}",
                               source_id="other")
                     for n in range(batch * 20, batch * 20 + 20)], at, source="other")
        # Some stories are listed by both sources, the second an hour later: their key in
        # the feed of both is the earlier link.
        save(store, [make_item(n, source_id="other") for n in range(batch * 60, batch * 60 + 5)],
             at + timedelta(hours=1), source="other")


def _build(tmp_path: Path, name: str) -> tuple[dict[str, bytes], int]:
    store = Store(f"sqlite:///{tmp_path / name}.db")
    try:
        _seed(store)
        config = _config(tmp_path / name)
        result = build_feeds(config, store, NOW)
        return _files(tmp_path / name), len(result.written)
    finally:
        store.close()


def test_a_build_shared_with_a_worker_writes_the_same_bytes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_MIN_PAGES", 10**9)
    alone, alone_written = _build(tmp_path, "alone")
    monkeypatch.setattr(parallel, "PARALLEL_MIN_PAGES", 1)
    monkeypatch.setattr(parallel, "MIN_RUN", 2)
    monkeypatch.setattr(parallel, "workers", lambda: 1)
    sent = _tasks_sent(monkeypatch)
    shared, shared_written = _build(tmp_path, "shared")
    assert sent and sent[0] > 0       # the worker rendered runs of pages
    assert shared == alone            # archive pages, current documents and .state files
    assert shared_written == alone_written
    assert any(name.startswith("archive/") for name in shared)


def _tasks_sent(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The tasks each pass's own pool was given, recorded as it closes."""
    sent: list[int] = []
    real_close = parallel.Prestarted.close

    def recording_close(self: parallel.Prestarted) -> None:
        sent.append(sum(worker.sent for worker in self.pool.workers))
        real_close(self)

    monkeypatch.setattr(parallel.Prestarted, "close", recording_close)
    return sent


def _exit_at_once() -> None:
    """A worker's preparation that ends the worker process."""
    os._exit(3)


def _split(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Share the pass with one worker and read every history in two parts; returns what the
    worker's part came back as (keys by feed id, or None where it failed)."""
    monkeypatch.setattr(parallel, "PARALLEL_MIN_PAGES", 1)
    monkeypatch.setattr(parallel, "MIN_RUN", 2)
    monkeypatch.setattr(parallel, "SPLIT_MIN_LINKS", 1)
    monkeypatch.setattr(parallel, "workers", lambda: 1)
    answers: list[object] = []
    real_result = parallel.PendingKeys.result

    def recording_result(self: parallel.PendingKeys) -> object:
        found = real_result(self)
        answers.append(found)
        return found

    monkeypatch.setattr(parallel.PendingKeys, "result", recording_result)
    return answers


def test_a_history_read_in_two_parts_plans_the_same_pages(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_MIN_PAGES", 10**9)
    alone, alone_written = _build(tmp_path, "alone")
    answers = _split(monkeypatch)
    split, split_written = _build(tmp_path, "split")
    assert len(answers) == 1 and isinstance(answers[0], dict)
    # The worker's part held keys of every feed (the filtered one too).
    assert set(answers[0]) == {"news", "odd"} and all(answers[0].values())
    assert split == alone
    assert split_written == alone_written


def test_a_worker_failing_on_the_history_leaves_it_to_this_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_MIN_PAGES", 10**9)
    alone, _ = _build(tmp_path, "alone")
    answers = _split(monkeypatch)
    # The worker opens a database that is not there: it fails on the history and on
    # every run of pages, and this process does all of it.
    missing = str(tmp_path / "missing" / "x.db")
    monkeypatch.setattr(Store, "reopener", lambda self: functools.partial(SqliteItems, missing))
    failed, _ = _build(tmp_path, "failed")
    assert answers == [None]
    assert failed == alone


def test_a_worker_that_dies_before_its_part_of_the_history_leaves_it_here(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_MIN_PAGES", 10**9)
    alone, _ = _build(tmp_path, "alone")
    answers = _split(monkeypatch)

    monkeypatch.setattr(parallel, "prepare", _exit_at_once)
    dead, _ = _build(tmp_path, "dead")
    assert answers in ([None], [])    # [] when it was gone before the part was sent
    assert dead == alone


def test_a_worker_that_cannot_start_leaves_the_work_to_this_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_MIN_PAGES", 10**9)
    alone, _ = _build(tmp_path, "alone")
    monkeypatch.setattr(parallel, "PARALLEL_MIN_PAGES", 1)
    monkeypatch.setattr(parallel, "workers", lambda: 1)
    monkeypatch.setattr(processes.sys, "executable", str(tmp_path / "no-such-python"))
    with caplog.at_level(logging.WARNING, logger="syndicator.processes"):
        shared, _ = _build(tmp_path, "broken")
    assert "cannot start worker processes" in caplog.text
    assert shared == alone


def test_an_in_memory_store_is_never_shared() -> None:
    store = Store("sqlite://")
    try:
        assert store.reopener() is None
        assert not parallel.worth_it(10**6, store)
    finally:
        store.close()


def test_rendered_items_leave_the_cache_after_their_last_page(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The cache never needs more than a few pages' items: one build of 240 + 80 items in
    # pages of 10 and 7 renders each item once although it is on pages of several feeds.
    monkeypatch.setattr(parallel, "PARALLEL_MIN_PAGES", 10**9)
    renders: list[str] = []
    real = feeds.render_item

    def counting(item: Item, links: Sequence[EntryLink] | None = None) -> feeds.Rendered:
        renders.append(item.id)
        return real(item, links)

    feeds.ENTRIES.clear()
    monkeypatch.setattr(feeds, "render_item", counting)
    _build(tmp_path, "counted")
    assert renders and len(renders) == len(set(renders))


@pytest.mark.postgres
def test_a_history_read_in_two_parts_on_postgresql(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The worker opens the database with a Store of its own (no sqlite3 reader there). Each
    # build has a database of its own, seeded alike: on one database the second build would
    # start from the archive state the first shared (publish/shared.py), reading no history.
    from tests.postgres_support import postgres_database

    answers: list[object] = []
    for name, split in (("alone", False), ("split", True)):
        for url in postgres_database():
            store = Store(url)
            try:
                _seed(store)
                monkeypatch.setattr(parallel, "PARALLEL_MIN_PAGES", 10**9)
                if split:
                    answers = _split(monkeypatch)
                build_feeds(_config(tmp_path / name), store, NOW)
            finally:
                store.close()
    assert len(answers) == 1 and isinstance(answers[0], dict) and answers[0]
    assert _without_marks(_files(tmp_path / "split")) == \
        _without_marks(_files(tmp_path / "alone"))


def _without_marks(files: dict[str, bytes]) -> dict[str, object]:
    """The files, the archive states and feed summaries without their build marks: on
    PostgreSQL a mark is a transaction horizon (Store.build_mark), which differs from one
    database to another."""
    found: dict[str, object] = dict(files)
    for path, data in files.items():
        if path.startswith(".state/archive-"):
            state = json.loads(data)
            state.pop("mark")
            found[path] = state
        elif path == ".state/summaries.json":
            found[path] = {fid: {key: value for key, value in summary.items() if key != "mark"}
                           for fid, summary in json.loads(data).items()}
    return found
