"""The CPU work on an article page (extract, merge with its card, normalise), and the
worker processes that do it for large runs, so that a crawl uses more than one core.

Fetching is I/O and runs in threads; decoding a 100 KB page, parsing it, running the
selectors, sanitising the body and reading the dates is Python work that holds the GIL
(a millisecond or more a page), so in one process a crawl never gets much past one core.
`PageWorkers.read()` is called from the fetch threads with the undecoded body: it sends
`read_body` and the bytes to a worker process of a `processes.Pool` and waits (the waiting
thread releases the GIL), or does the work inline when the pool is off, the batch is small,
or a worker died. Either way the result is the same pure function's: `read_body`.

The workers start on the first large batch and live as long as the App (a build after the
run borrows them for archive pages: publish/parallel.py); a worker that dies switches the App
back to inline reading. Only the page's bytes go out (decoding them there, not here, saves
this process ~0.2 ms a page: it is the busier one); only the Item comes back.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from syndicator.config import ArticleSelectors
from syndicator.decode import markup
from syndicator.errors import ExtractError, WorkerFailed
from syndicator.extract.html import page_markup
from syndicator.extract.selectors import extract_article_markup
from syndicator.model import Article, Body, Item, Page
from syndicator.normalise import (
    NormaliseContext,
    load_libraries,
    merge_card_and_page,
    normalise_article,
)
from syndicator.processes import Pool

log = logging.getLogger(__name__)

# Below this many article pages in one run, starting workers (~0.3 s) costs more than it saves.
MIN_BATCH = 24
MAX_AUTO_PROCESSES = 4
# A page goes to the least busy worker unless that worker already has this many pages sent
# and unanswered: then the fetch thread reads it here. One page being read and two queued
# keep a worker busy across the hand-offs; a page sent beyond that would only wait while
# this process, which fetches and stores and is not saturated by that, has CPU to spare.
# Fewer leaves the worker idle between hand-offs, more leaves pages queued there while this
# process could have read them.
SHARE_AT = 3

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class ArticleWork:
    """What became of one article page: the Item made from card + page (None when it has
    no usable title or URL), or why the page could not be read."""

    item: Item | None = None
    error: str | None = None


def read_article(page: Page, selectors: ArticleSelectors | None, card: Article,
                 ctx: NormaliseContext) -> ArticleWork:
    """Extract the page, merge it with the listing card and normalise. Pure; never raises
    for the page's faults (an ExtractError becomes `error`)."""
    return _read(page_markup(page), page.final_url, selectors, card, ctx)


def read_body(body: Body, selectors: ArticleSelectors | None, card: Article,
              ctx: NormaliseContext) -> ArticleWork:
    """read_article of the body. A UTF-8 body is parsed as it is, never decoded to a str
    (decode.markup): ~0.1-0.25 ms a page less."""
    return _read(markup(body), body.final_url, selectors, card, ctx)


def _read(page: str | bytes, final_url: str, selectors: ArticleSelectors | None,
          card: Article, ctx: NormaliseContext) -> ArticleWork:
    try:
        article = extract_article_markup(page, final_url, selectors)
    except ExtractError as exc:
        return ArticleWork(error=str(exc))
    return ArticleWork(item=normalise_article(merge_card_and_page(card, article), ctx))


def auto_processes(cpus: int | None = None) -> int:
    """Workers for `extract_processes: auto`: one per core beyond the first (which fetches,
    stores and builds), at most MAX_AUTO_PROCESSES; 0 on a single core (work inline)."""
    count = cpus if cpus is not None else (os.cpu_count() or 1)
    return max(0, min(MAX_AUTO_PROCESSES, count - 1))


def prepare_reading() -> None:
    """A page worker's preparation (before it takes pages): the reading libraries."""
    load_libraries()


class PageWorkers:
    """`read_body` in `processes` worker processes (0: always inline)."""

    def __init__(self, processes: int, *, min_batch: int = MIN_BATCH,
                 share_at: int = SHARE_AT) -> None:
        self.pool = Pool(processes, prepare=prepare_reading, purpose="reading of pages")
        self.min_batch = min_batch
        self.share_at = share_at
        self.shared = 0             # pages read here while the workers were busy

    @property
    def processes(self) -> int:
        return self.pool.processes

    @property
    def started(self) -> int:
        """Worker processes started so far (0 until the first large batch)."""
        return self.pool.started

    @property
    def pids(self) -> list[int]:
        """Process ids of the running workers (for monitoring)."""
        return self.pool.pids

    @property
    def ready(self) -> int:
        """Workers that take work now (0 when none was started or they failed)."""
        return self.pool.ready

    def wants(self, pages: int) -> bool:
        """Whether a run with `pages` article pages to read should use the workers; if so,
        they are started now, so that they import while the first pages download."""
        if pages < self.min_batch:
            return False
        return self.pool.start()

    def wait_ready(self, timeout: float) -> bool:
        """Wait until every started worker can take pages (tests, benchmarks); False if
        one is not ready by then or the workers failed."""
        return self.pool.wait_ready(timeout)

    def submit(self, function: Callable[P, R], *args: P.args,
               **kwargs: P.kwargs) -> Future[R] | None:
        """Other CPU work (a build's archive pages) in a running worker: Pool.submit."""
        return self.pool.submit(function, *args, **kwargs)

    def read(self, body: Body, selectors: ArticleSelectors | None, card: Article,
             ctx: NormaliseContext, *, pooled: bool) -> ArticleWork:
        """read_body(...), in a worker process when `pooled` and the workers are well."""
        return self.start_read(body, selectors, card, ctx, pooled=pooled)()

    def start_read(self, body: Body, selectors: ArticleSelectors | None, card: Article,
                   ctx: NormaliseContext, *, pooled: bool) -> Callable[[], ArticleWork]:
        """Start read_body(...) and return what gives its result. Pooled, the page goes
        to a worker and this returns at once, so a fetch thread can go on fetching while
        the page is read. Otherwise, or when every worker has `share_at` pages waiting
        already, the page is read here, now."""
        # Only workers that finished starting: until one has, this thread reads the page
        # (this process would otherwise idle while the worker imports).
        worker = self.pool.idlest() if pooled else None
        if worker is None:
            work = read_body(body, selectors, card, ctx)
            return lambda: work
        if worker.load >= self.share_at:
            self.shared += 1
            work = read_body(body, selectors, card, ctx)
            return lambda: work
        try:
            future = worker.submit(read_body, body, selectors, card, ctx)
        except WorkerFailed:
            work = read_body(body, selectors, card, ctx)
            return lambda: work
        # The body is kept only until its answer came: to read it here if the worker failed.
        kept = [body]

        def forget(done: Future[ArticleWork]) -> None:
            if done.exception() is None:
                kept.clear()

        future.add_done_callback(forget)

        def result() -> ArticleWork:
            try:
                return future.result()
            except WorkerFailed:   # logged once by the pool; this page is read here
                return read_body(kept[0], selectors, card, ctx)

        return result

    def close(self) -> None:
        self.pool.close()
