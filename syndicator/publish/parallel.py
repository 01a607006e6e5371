"""A large archive pass (a full build) shared with worker processes, so that every core renders.

    pages, sorted by last join key:  [ this process ──▶            ◀── worker process(es) ]

Rendering is pure Python under one GIL, so threads cannot use a second core; processes can.
Each side takes the next run of pages from its end of the sorted list (guided: a quarter or
so of what is left, smaller towards the middle, so both finish at about the same time even
when another program takes one core for a while), reads those pages' items from the store
itself, renders them (pagerender.render_pages) and writes the files without fsync. A worker
returns each page's digest and the files it wrote; this process makes every file durable at
once (PageWriter.finish: one syncfs covers all processes' writes on the file system) before
the archive state records the pages, exactly as for its own pages. A worker that dies or
cannot start costs nothing but time: its pages are rendered here.

Before the pages, while this process plans the pass from a long history (SPLIT_MIN_LINKS
links or more), a worker reads the second part of it, the items from an id on, into join keys
(read_keys, parallel_worker.keys_task); this process reads the first part and merges the two.

The workers are a processes.Pool running the tasks of parallel_worker.py: the running page
workers of the App when it has any (a crawl's final build, the service's rebuilds: they cost
no start), else a pool of the pass's own, started before the pass is planned (`Prestarted`)
so that the workers import (~0.4 s of CPU, on the other core) while this process reads the
history. Hence only for passes of at least PARALLEL_MIN_PAGES pages (a service's incremental
builds render a few), and only for stores another process can open (`Reopenable`: not an
in-memory database).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    NamedTuple,
    ParamSpec,
    Protocol,
    TypeVar,
    cast,
    runtime_checkable,
)

from syndicator.errors import PublishError
from syndicator.processes import Pool
from syndicator.publish.pagewriter import PageWriter
from syndicator.publish.parallel_worker import (
    Done,
    Keys,
    KeysTask,
    LinkReader,
    Page,
    Setup,
    Task,
    keys_task,
    prepare,
    render_task,
)

if TYPE_CHECKING:   # types only
    from syndicator.config import Config, FeedConfig
    from syndicator.model import Item
    from syndicator.publish.pagerender import ItemReader, Key, PageJob

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# A pass of fewer pages is rendered in this process alone (~0.1 s of CPU per 30 pages, so a
# worker pays for its start from about here).
PARALLEL_MIN_PAGES = 300
# The smallest run of pages one side takes: each run boundary renders the items of the pages
# that straddle it on both sides.
MIN_RUN = 24
# Worker processes at most (each holds its own interpreter, ~60-90 MB).
MAX_WORKERS = 3
# A pass this large is shared with running workers that are lent (Lender): they cost no
# start, only the reading of their pages' items; two runs of pages, one a side.
LENT_MIN_PAGES = 2 * MIN_RUN

# A history of at least this many links (a full build's plan) is read in two parts: this
# process reads the first share, a worker process the rest (read_keys).
SPLIT_MIN_LINKS = 20_000
# This process's share: it starts at once, while a prestarted worker still imports (~0.4 s),
# and it merges the two parts after.
OWN_SHARE = 0.55


class Rendered(NamedTuple):
    """What a parallel pass did: the pages' digests, the files the workers wrote and left
    unchanged, and the peak memory of each worker process of the pass's own (its share of
    the pass's memory, beside this process's; a lent worker's is the lender's to report)."""

    pages: list[Page]
    written: list[Path]
    unchanged: list[Path]
    worker_peaks_mb: list[float]


@runtime_checkable
class Reopenable(Protocol):
    """A store another process can open: `reopener()` is a picklable factory of a reader of
    its items, or None."""

    def reopener(self) -> Callable[[], ItemReader] | None: ...

    def link_counts(self) -> dict[str, int]: ...


def workers() -> int:
    """Worker processes worth starting: one per core beyond this process's."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(0, min(cores - 1, MAX_WORKERS))


@runtime_checkable
class Splittable(Protocol):
    """A store whose history can be read in two parts (Store has it)."""

    def link_split(self, source_ids: Sequence[str], share: float) -> str | None: ...


class Lender(Protocol):
    """Worker processes that are already running (the App's page workers, syndicator/
    workers.py; a processes.Pool): a pass can use them instead of starting its own."""

    @property
    def ready(self) -> int: ...

    def submit(self, function: Callable[P, R], *args: P.args,
               **kwargs: P.kwargs) -> Future[R] | None: ...


def worth_it(pages: int, store: object, lender: Lender | None = None) -> bool:
    if not (isinstance(store, Reopenable) and store.reopener() is not None):
        return False
    if lender is not None and lender.ready > 0:
        return pages >= LENT_MIN_PAGES
    return pages >= PARALLEL_MIN_PAGES and workers() > 0


class Prestarted:
    """The pass's own worker processes, started before the pass is planned when it will
    likely be large: they import while this process reads the history. Closed after it."""

    def __init__(self) -> None:
        self.pool = Pool(workers(), prepare=prepare, purpose="archive pages")

    def start(self, feeds: Sequence[tuple[Sequence[str], int]], store: object) -> None:
        """Start the workers if planning `feeds` ((sources, page size) each) from their
        whole history may give a parallel pass: an upper bound from the sources' link
        counts (filters ignored)."""
        if not (self.pool.processes > 0 and isinstance(store, Reopenable)
                and store.reopener() is not None):
            return
        links = store.link_counts()
        pages = sum(sum(links.get(s, 0) for s in sources) // size for sources, size in feeds)
        if pages >= PARALLEL_MIN_PAGES:
            self.pool.start()

    @property
    def started(self) -> bool:
        return self.pool.started > 0 and not self.pool.broken

    def close(self) -> None:
        self.pool.close()


def _lent(lender: Lender | None) -> Lender | None:
    """The lender if it has workers ready, else None (the pass uses its own)."""
    return lender if lender is not None and lender.ready > 0 else None


class PendingKeys:
    """The second part of a history (ids from `first_id` on) being read by a worker."""

    def __init__(self, first_id: str, future: Future[Keys]) -> None:
        self.first_id = first_id
        self._future = future

    def result(self) -> dict[str, list[Key]] | None:
        """The keys by feed id, each list sorted, or None when the worker failed: the
        caller then reads that part itself."""
        try:
            return self._future.result().keys
        except Exception as exc:
            log.warning("worker process failed on the history (%s); reading it here", exc)
            return None


def read_keys(feeds: list[FeedConfig], sources: list[str], text: bool, store: object,
              prestarted: Prestarted, lender: Lender | None) -> PendingKeys | None:
    """Start reading the second part of the feeds' history in a worker: a lent one, else
    one started for the pass. None when the history is short, the store cannot be split or
    opened elsewhere, or no worker is there: this process reads it all."""
    if not (isinstance(store, Reopenable) and isinstance(store, Splittable)):
        return None
    factory = store.reopener()
    pool: Lender | Pool | None = _lent(lender) or (prestarted.pool if prestarted.started
                                                   else None)
    if factory is None or pool is None:
        return None
    counts = store.link_counts()
    if sum(counts.get(source, 0) for source in sources) < SPLIT_MIN_LINKS:
        return None
    first_id = store.link_split(sources, OWN_SHARE)
    if first_id is None:
        return None
    task = KeysTask(factory=cast("Callable[[], LinkReader]", factory), feeds=feeds,
                    sources=sources, text=text, first_id=first_id)
    future = pool.submit(keys_task, task)
    return PendingKeys(first_id, future) if future is not None else None


class _Runs:
    """The sorted jobs, taken in runs from the front (this process) and the back (workers)."""

    def __init__(self, jobs: Sequence[PageJob], parties: int) -> None:
        self._jobs = jobs
        self._front, self._back = 0, len(jobs)
        self._parties = parties
        self._lock = threading.Lock()

    def _size(self) -> int:
        return max(MIN_RUN, (self._back - self._front) // (2 * self._parties))

    def front(self) -> list[PageJob]:
        with self._lock:
            end = min(self._back, self._front + self._size())
            run, self._front = list(self._jobs[self._front:end]), end
            return run

    def back(self) -> list[PageJob]:
        with self._lock:
            start = max(self._front, self._back - self._size())
            run, self._back = list(self._jobs[start:self._back]), start
            return run


class _Helper(threading.Thread):
    """A thread of this process that sends runs from the back to a worker process until
    none is left. A run that fails there goes to `failed` (rendered here later), except on
    a PublishError, which fails the build as it would here."""

    def __init__(self, pool: Lender | Pool, setup: Setup, runs: _Runs) -> None:
        super().__init__(name="archive-helper", daemon=True)
        self._pool = pool
        self._setup = setup
        self._runs = runs
        self.done: list[Page] = []
        self.written: list[Path] = []
        self.unchanged: list[Path] = []
        self.failed: list[list[PageJob]] = []
        self.error: PublishError | None = None

    def run(self) -> None:
        run: list[PageJob] = []
        try:
            while run := self._runs.back():
                future = self._pool.submit(render_task, self._setup, Task(run))
                if future is None:        # no worker (any more): this process renders it
                    self.failed.append(run)
                    return
                answer: Done = future.result()
                self.done += answer.pages
                self.written += answer.written
                self.unchanged += answer.unchanged
                run = []
        except PublishError as exc:
            self.error = exc
        except Exception as exc:   # the worker died, or the run failed there
            log.warning("worker process failed on archive pages (%s); rendering the rest "
                        "here", exc)
            if run:
                self.failed.append(run)


def render(config: Config, output: Path, jobs: Sequence[PageJob], store: ItemReader,
           writer: PageWriter, now: datetime, known: Mapping[str, Item],
           prestarted: Prestarted, lender: Lender | None = None
           ) -> Rendered:
    """pagerender.render_pages over `jobs` (sorted), shared with worker processes: the
    lender's running ones when it has any ready, else the pass's own. Returns the pages'
    digests and the files the workers wrote and left unchanged (this process's own are in
    `writer`); nothing written by a worker is durable yet."""
    from syndicator.publish.pagerender import render_pages

    assert isinstance(store, Reopenable)
    factory = store.reopener()
    assert factory is not None
    setup = Setup(factory=factory, config=config, output=output, now=now)
    lent = _lent(lender)
    pool: Lender | Pool
    if lent is not None:
        pool, count = lent, min(lent.ready, MAX_WORKERS)
    else:
        pool = prestarted.pool
        count = pool.started if pool.start() else 0
    runs = _Runs(jobs, count + 1)
    helpers = [_Helper(pool, setup, runs) for _ in range(count)]
    for helper in helpers:
        helper.start()
    done: list[Page] = []
    try:
        while run := runs.front():
            done += render_pages(config, output, run, store, writer, now, known)
    finally:
        for helper in helpers:
            helper.join()
    written: list[Path] = []
    unchanged: list[Path] = []
    for helper in helpers:
        if helper.error is not None:
            raise helper.error
        for run in helper.failed:
            done += render_pages(config, output, run, store, writer, now, known)
        done += helper.done
        written += helper.written
        unchanged += helper.unchanged
    return Rendered(done, written, unchanged,
                    prestarted.pool.peaks_mb() if lent is None else [])
