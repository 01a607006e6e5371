"""A build that borrows the App's running page workers for its archive pages (a crawl's
final build, `syndicator demo`, the service's rebuilds) writes the same bytes as a build in
one process, really renders pages there, and renders them here when the worker goes away."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from syndicator.publish import build_feeds, parallel
from syndicator.store import Store
from syndicator.workers import PageWorkers
from tests.test_archive import NOW
from tests.test_archive_parallel import _config, _files, _seed


def _build(tmp_path: Path, name: str,
           workers: PageWorkers | None = None) -> tuple[dict[str, bytes], int]:
    store = Store(f"sqlite:///{tmp_path / name}.db")
    try:
        _seed(store)
        result = build_feeds(_config(tmp_path / name), store, NOW, workers=workers)
        return _files(tmp_path / name), len(result.written)
    finally:
        store.close()


@pytest.fixture
def workers() -> Iterator[PageWorkers]:
    pool = PageWorkers(1, min_batch=1)
    assert pool.wants(1) and pool.wait_ready(30)
    yield pool
    pool.close()


def _reference_then_small_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                 ) -> tuple[dict[str, bytes], int]:
    """The build in this process alone; then passes small enough to be shared."""
    monkeypatch.setattr(parallel, "PARALLEL_MIN_PAGES", 10**9)
    reference = _build(tmp_path, "alone")
    monkeypatch.setattr(parallel, "MIN_RUN", 2)
    monkeypatch.setattr(parallel, "LENT_MIN_PAGES", 4)
    return reference


def _counting(monkeypatch: pytest.MonkeyPatch, workers: PageWorkers) -> list[str]:
    """The tasks the build gives the lent workers, by function name, as they happen."""
    calls: list[str] = []
    real_submit = workers.submit

    def counting_submit(function: Callable[..., object], *args: object) -> object:
        calls.append(function.__name__)
        return real_submit(function, *args)

    monkeypatch.setattr(workers, "submit", counting_submit)
    return calls


def _own_pools_started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many worker processes each pass's own pool started, recorded as it closes."""
    started: list[int] = []
    real_close = parallel.Prestarted.close

    def recording_close(self: parallel.Prestarted) -> None:
        started.append(self.pool.started)
        real_close(self)

    monkeypatch.setattr(parallel.Prestarted, "close", recording_close)
    return started


def test_a_lent_page_worker_renders_archive_pages_with_the_same_bytes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: PageWorkers) -> None:
    alone, alone_written = _reference_then_small_passes(tmp_path, monkeypatch)
    own = _own_pools_started(monkeypatch)
    calls = _counting(monkeypatch, workers)
    lent, lent_written = _build(tmp_path, "lent", workers)
    assert calls and set(calls) == {"render_task"}
    assert own and not any(own)       # no pass started processes of its own
    assert lent == alone              # archive pages, current documents and .state files
    assert lent_written == alone_written
    assert any(name.startswith("archive/") for name in lent)


def test_a_lent_page_worker_reads_part_of_a_long_history_with_the_same_outcome(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: PageWorkers) -> None:
    alone, alone_written = _reference_then_small_passes(tmp_path, monkeypatch)
    monkeypatch.setattr(parallel, "SPLIT_MIN_LINKS", 1)
    calls = _counting(monkeypatch, workers)
    lent, lent_written = _build(tmp_path, "lent", workers)
    assert calls[0] == "keys_task"
    assert set(calls[1:]) == {"render_task"}
    assert lent == alone
    assert lent_written == alone_written


@pytest.mark.parametrize("split", [False, True], ids=["pages", "history"])
def test_pages_go_back_to_this_process_when_the_lent_worker_dies(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: PageWorkers,
        split: bool) -> None:
    alone, _ = _reference_then_small_passes(tmp_path, monkeypatch)
    if split:       # it dies on its part of the history, the first thing it is lent for
        monkeypatch.setattr(parallel, "SPLIT_MIN_LINKS", 1)
    real_submit = workers.submit

    def dying_submit(function: Callable[..., object], *args: object) -> object:
        future = real_submit(time.sleep, 30)      # busy, then killed with the run pending
        (pid,) = workers.pids
        os.kill(pid, signal.SIGKILL)
        return future

    monkeypatch.setattr(workers, "submit", dying_submit)
    dead, _ = _build(tmp_path, "dead", workers)
    assert dead == alone
    assert workers.ready == 0         # the pool is broken now: pages are read here


def test_a_small_pass_or_no_ready_worker_keeps_the_work_here(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    idle = PageWorkers(1, min_batch=1)        # never started
    monkeypatch.setattr(parallel, "PARALLEL_MIN_PAGES", 10**9)
    assert not parallel.worth_it(1000, object(), idle)
    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert not parallel.worth_it(10**6, store, idle)
        assert parallel.worth_it(parallel.LENT_MIN_PAGES, store, _Ready())
        assert not parallel.worth_it(parallel.LENT_MIN_PAGES - 1, store, _Ready())
    finally:
        store.close()


class _Ready:
    ready = 1

    def submit(self, function: Callable[..., object], *args: object) -> None:
        return None
