"""Page worker processes: the same items as reading pages in the main process, and a
dying worker never loses a page."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicator.app import App, extract_processes, make_app
from syndicator.config import ArticleSelectors, Config
from syndicator.errors import WorkerFailed
from syndicator.fetch import Fetcher
from syndicator.model import Article, Body, Page
from syndicator.normalise import NormaliseContext
from syndicator.pipeline import run_source
from syndicator.workers import ArticleWork, PageWorkers, auto_processes, read_body
from tests.conftest import Site

CTX = NormaliseContext(source_id="office-en", language="en", timezone="Europe/Minsk",
                       date_format=None, now=datetime(2025, 11, 20, 12, 0, tzinfo=UTC))


def _crawl(config: Config, base: Path, workers: PageWorkers) -> dict[str, dict[str, object]]:
    config = config.model_copy(update={"base_dir": base})
    base.mkdir()
    app = make_app(config)
    app.workers.close()
    app.workers = workers
    if workers.processes:
        # Up before the run: pages that come while workers start are read here instead.
        assert workers.wants(workers.min_batch) and workers.wait_ready(30)
    with app:
        for source in config.sources:
            result = run_source(app, source)
            assert result.ok, result.errors
        assert workers.started == workers.processes
        if workers.processes:
            sent = sum(w.sent for w in workers.pool.workers)
            assert sent >= (20 if workers.share_at > 100 else 1)
        items = app.store.latest([s.id for s in config.sources], limit=1000)
    # first_seen/last_seen are the run's time; everything else must be the same.
    return {item.url: {k: v for k, v in asdict(item).items() if k not in {"first_seen",
                                                                          "last_seen"}}
            for item in items}


def test_workers_store_exactly_what_the_main_process_stores(office_site: Site,
                                                            tmp_path: Path) -> None:
    inline = _crawl(office_site.config, tmp_path / "inline", PageWorkers(0))
    # Every page to the workers, then pages shared between them and this process.
    pooled = _crawl(office_site.config, tmp_path / "pooled",
                    PageWorkers(2, min_batch=1, share_at=1_000_000))
    shared = PageWorkers(1, min_batch=1, share_at=1)
    mixed = _crawl(office_site.config, tmp_path / "mixed", shared)
    assert len(inline) >= 20
    assert pooled == inline
    assert mixed == inline


def test_a_busy_worker_leaves_the_page_to_this_process(office_site: Site) -> None:
    selectors = office_site.config.sources[0].article
    with office_site.app() as app:
        page = _page(office_site, app)
    card = Article(url=page.url)
    expected = read_body(page, selectors, card, CTX)
    workers = PageWorkers(1, min_batch=1, share_at=2)
    try:
        assert workers.wants(1) and workers.wait_ready(30)
        (worker,) = workers.pool.workers
        busy = [workers.submit(time.sleep, 0.5) for _ in range(2)]
        assert worker.load == 2
        assert workers.read(page, selectors, card, CTX, pooled=True) == expected
        assert (workers.shared, worker.sent) == (1, 2)      # read here, not queued
        for future in busy:
            assert future is not None and future.result(timeout=30) is None
        assert workers.read(page, selectors, card, CTX, pooled=True) == expected
        assert (workers.shared, worker.sent) == (1, 3)      # idle again: the worker reads
    finally:
        workers.close()


def _page(site: Site, app: App) -> Body:
    source = site.config.sources[0]
    listing = app.fetcher.get(source.url, site.config.fetch_for(source))
    assert isinstance(listing, Page)
    from syndicator.extract import extract_listing

    assert source.list is not None
    card = extract_listing(listing, source.list).articles[0]
    page = app.fetcher.get_body(card.url, site.config.fetch_for(source))
    assert isinstance(page, Body)
    return page


def test_a_killed_worker_is_replaced_by_inline_reading(office_site: Site,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    selectors = office_site.config.sources[0].article
    with office_site.app() as app:
        page = _page(office_site, app)
    card = Article(url=page.url)
    expected = read_body(page, selectors, card, CTX)
    assert expected.item is not None and expected.error is None
    workers = PageWorkers(1, min_batch=1)
    try:
        assert workers.wants(1)
        assert workers.wait_ready(30)
        assert workers.read(page, selectors, card, CTX, pooled=True) == expected
        (pid,) = workers.pids
        os.kill(pid, signal.SIGKILL)
        with caplog.at_level(logging.WARNING, logger="syndicator.processes"):
            assert workers.read(page, selectors, card, CTX, pooled=True) == expected
        assert f"worker process {pid} failed" in caplog.text
        assert "doing the reading of pages in this process" in caplog.text
        # From now on pages are read here, and no new batch starts workers again.
        assert not workers.wants(100)
        assert workers.read(page, selectors, card, CTX, pooled=True) == expected
    finally:
        workers.close()


def test_an_extraction_error_crosses_the_process_boundary(office_site: Site) -> None:
    # Config validation refuses bad selectors; model_construct lets one through, as a
    # selector that lexbor refuses at run time would.
    selectors = ArticleSelectors.model_construct(title="h1[", content="article")
    with office_site.app() as app:
        page = _page(office_site, app)
    card = Article(url=page.url)
    workers = PageWorkers(1, min_batch=1)
    try:
        assert workers.wants(1)
        assert workers.wait_ready(30)
        found = workers.read(page, selectors, card, CTX, pooled=True)
    finally:
        workers.close()
    assert found.item is None
    assert found.error is not None and "invalid CSS selector" in found.error
    assert found == read_body(page, selectors, card, CTX)


def test_workers_end_with_the_app(office_site: Site) -> None:
    app = make_app(office_site.config)
    app.workers.close()
    app.workers = PageWorkers(2, min_batch=1)
    assert app.workers.wants(5)
    processes = [w.child.process for w in app.workers.pool.workers]
    assert all(p.poll() is None for p in processes)
    app.close()
    assert all(p.poll() is not None for p in processes)
    assert app.workers.started == 0


def test_small_batches_and_single_cores_stay_inline() -> None:
    workers = PageWorkers(2)
    assert not workers.wants(3)
    assert workers.started == 0
    assert auto_processes(1) == 0
    assert auto_processes(2) == 1
    assert auto_processes(64) == 4


def test_extract_processes_setting(office_site: Site) -> None:
    config = office_site.config.model_copy(update={"extract_processes": 0})
    assert extract_processes(config) == 0
    with make_app(config, fetcher=Fetcher()) as app:
        assert not app.workers.wants(1000)
    auto = office_site.config.model_copy(update={"extract_processes": "auto"})
    assert extract_processes(auto) == auto_processes()


@pytest.mark.parametrize("value", ["-1", "many", "100"])
def test_a_bad_extract_processes_is_named(value: str) -> None:
    from syndicator.config import parse_config
    from syndicator.errors import ConfigError

    with pytest.raises(ConfigError, match=r"config.yaml:1:\d+: extract_processes"):
        parse_config(f"extract_processes: {value}\n", file="config.yaml")


def test_article_pages_download_while_later_listing_pages_are_walked(office_site: Site) -> None:
    """The second listing page is held until an article of the first has been asked for:
    a run that walked every listing page before fetching articles would wait the whole
    timeout and then show the listing request first."""
    server = office_site.server
    article_asked = threading.Event()
    order: list[str] = []

    def hook(handler: object, path: str) -> bool:
        if path.startswith("/en/news/page/2"):
            article_asked.wait(timeout=10)
            order.append("listing 2")
        elif path.startswith("/en/") and path.endswith(".html"):      # an article page
            order.append("article")
            article_asked.set()
        return False

    server.hook = hook
    source = office_site.config.source("office-en")
    with office_site.app() as app:
        result = run_source(app, source, max_pages=2)
    assert result.ok, result.errors
    assert result.pages > 2
    assert "listing 2" in order
    assert order.index("article") < order.index("listing 2")


def test_a_worker_waits_for_its_parent_to_end_it(office_site: Site) -> None:
    """SIGTERM and SIGINT sent to the whole group (a supervisor, Ctrl-C) leave the workers
    to the parent, which ends them when it has finished its run."""
    selectors = office_site.config.sources[0].article
    with office_site.app() as app:
        page = _page(office_site, app)
    card = Article(url=page.url)
    workers = PageWorkers(1, min_batch=1)
    assert workers.wants(1)
    assert workers.wait_ready(30)
    expected = read_body(page, selectors, card, CTX)
    assert workers.read(page, selectors, card, CTX, pooled=True) == expected   # it is up
    (pid,) = workers.pids
    process = workers.pool.workers[0].child.process
    os.kill(pid, signal.SIGTERM)
    os.kill(pid, signal.SIGINT)
    assert workers.read(page, selectors, card, CTX, pooled=True) == expected
    assert process.poll() is None
    workers.close()
    assert process.poll() == 0


def test_many_pages_in_flight_from_many_threads_do_not_deadlock() -> None:
    """Fetch threads hand pages over without waiting for the answers; with both sockets
    full (pages to the worker, answers back) the receiver must still drain the answers."""
    body = "<p>" + "Слова і словы, words and words. " * 4000 + "</p>"
    pages = [Body(url=f"https://example.org/news/{n}.html",
                  final_url=f"https://example.org/news/{n}.html", status=200,
                  raw=(f"<html><head><title>Story {n}</title></head><body><article>"
                       f"<h1>Story {n}</h1>{body}</article></body></html>").encode(),
                  content_type="text/html; charset=utf-8") for n in range(60)]
    selectors = ArticleSelectors(title="h1", content="article")
    workers = PageWorkers(1, min_batch=1)
    results: dict[int, object] = {}

    def hand_over(part: list[int]) -> None:
        pending = [(n, workers.start_read(pages[n], selectors, Article(url=pages[n].url), CTX,
                                          pooled=True)) for n in part]
        for n, result in pending:
            results[n] = result()

    try:
        assert workers.wants(len(pages))
        assert workers.wait_ready(30)
        threads = [threading.Thread(target=hand_over, args=(list(range(k, 60, 4)),))
                   for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads), "deadlocked"
    finally:
        workers.close()
    assert len(results) == 60
    for n, work in results.items():
        assert isinstance(work, ArticleWork) and work.item is not None
        assert work.item.title == f"Story {n}"


def test_pages_are_read_here_while_the_workers_start(office_site: Site) -> None:
    """A worker that has not said READY gets no pages: they are read in this process, so
    nothing waits for its imports."""
    selectors = office_site.config.sources[0].article
    with office_site.app() as app:
        page = _page(office_site, app)
    card = Article(url=page.url)
    workers = PageWorkers(1, min_batch=1)
    try:
        assert workers.wants(1) and workers.wait_ready(30)
        (worker,) = workers.pool.workers
        worker.ready.clear()            # as if it were still importing
        assert workers.read(page, selectors, card, CTX, pooled=True) == read_body(
            page, selectors, card, CTX)
        assert worker.sent == 0
        worker.ready.set()
        assert workers.read(page, selectors, card, CTX, pooled=True).item is not None
        assert worker.sent == 1
    finally:
        workers.close()


def test_other_work_runs_in_a_worker_and_its_errors_come_back() -> None:
    """Other CPU work (a build's archive pages) can use a worker that is already up: any
    module-level function, sent by reference."""
    workers = PageWorkers(1, min_batch=1)
    try:
        assert workers.submit(os.getpid) is None and workers.ready == 0   # caller works
        assert workers.wants(1) and workers.wait_ready(30)
        assert workers.ready == 1
        (pid,) = workers.pids
        future = workers.submit(os.getpid)
        assert future is not None and future.result(timeout=30) == pid != os.getpid()
        joined = workers.submit(os.path.join, "a", "b")
        assert joined is not None and joined.result(timeout=30) == os.path.join("a", "b")
        failing = workers.submit(json.loads, "{not json")
        assert failing is not None
        with pytest.raises(ValueError, match="Expecting property name"):
            failing.result(timeout=30)
        unpicklable = workers.submit(_raise_unpicklable)
        assert unpicklable is not None
        with pytest.raises(RuntimeError, match="_Unpicklable: lock held"):
            unpicklable.result(timeout=30)
        # The worker goes on reading pages after all that.
        body = Body(url="https://example.org/a.html", final_url="https://example.org/a.html",
                    status=200, raw=b"<html><body><article><h1>Title</h1><p>Text.</p>"
                                    b"</article></body></html>",
                    content_type="text/html; charset=utf-8")
        selectors = ArticleSelectors(title="h1", content="article")
        work = workers.read(body, selectors, Article(url=body.url), CTX, pooled=True)
        assert work.item is not None and work.item.title == "Title"
        assert workers.pool.workers[0].sent == 5
    finally:
        workers.close()


class _Unpicklable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = threading.Lock()


def _raise_unpicklable() -> None:
    raise _Unpicklable("lock held")


def test_work_given_to_a_dead_worker_fails_cleanly() -> None:
    workers = PageWorkers(1, min_batch=1)
    try:
        assert workers.wants(1) and workers.wait_ready(30)
        (pid,) = workers.pids
        future = workers.submit(time.sleep, 30)
        assert future is not None
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(WorkerFailed):
            future.result(timeout=30)
        assert workers.submit(os.getpid) is None           # broken: caller works
    finally:
        workers.close()
