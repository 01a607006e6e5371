"""A large archive pass (a full build) shared with worker processes, so that every core renders.

    pages, sorted by last join key:  [ this process ──▶            ◀── worker process(es) ]

Rendering is pure Python under one GIL, so threads cannot use a second core; processes can.
Each side takes the next run of pages from its end of the sorted list (guided: a quarter or
so of what is left, smaller towards the middle, so both finish at about the same time even
when another program takes one core for a while), reads those pages' items from the store
itself, renders them (pagerender.render_pages) and writes the files without fsync. The worker
returns each page's digest and the files it wrote; this process makes every file durable at
once (PageWriter.finish: one syncfs covers all processes' writes on the file system) before
the archive state records the pages, exactly as for its own pages. A worker that dies or
cannot start costs nothing but time: its pages are rendered here.

Before the pages, while this process plans the pass from a long history (SPLIT_MIN_LINKS
links or more), a worker reads the second part of it, the items from an id on, into join keys
(read_keys, keys_task); this process reads the first part and merges the two.

A worker is a fresh interpreter (`python -c`, with this process's sys.path) talking pickle
over its stdin and stdout: ~0.4 s of CPU to start, on the other core while this process
renders. Not fork (it would copy a process that may be running other threads, holding their
locks), and not multiprocessing's spawn (it re-runs the parent's main script, side effects
and all, when that has no `__main__` guard). Hence only for passes of at least
PARALLEL_MIN_PAGES pages (a service's incremental builds render a few), and only for stores
another process can open (`Reopenable`: not an in-memory database).

This module is the parent's side; the worker's, and the messages between them, are in
parallel_worker.py.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, cast, runtime_checkable

from syndicator.errors import PublishError
from syndicator.publish.pagewriter import PageWriter
from syndicator.publish.parallel_worker import (
    BOOT,
    KEYS_TASK,
    RENDER_TASK,
    Done,
    Failed,
    Keys,
    KeysTask,
    LinkReader,
    Page,
    Setup,
    Task,
)

if TYPE_CHECKING:   # types only
    from syndicator.config import Config, FeedConfig
    from syndicator.model import Item
    from syndicator.publish.pagerender import ItemReader, Key, PageJob

log = logging.getLogger(__name__)

# A pass of fewer pages is rendered in this process alone (~0.1 s of CPU per 30 pages, so a
# worker pays for its start from about here).
PARALLEL_MIN_PAGES = 300
# The smallest run of pages one side takes: each run boundary renders the items of the pages
# that straddle it on both sides.
MIN_RUN = 24
# Worker processes at most (each holds its own interpreter, ~60-90 MB).
MAX_WORKERS = 3
# A pass this large is shared with a running worker that is lent (Lender): such a worker
# costs no start, only the reading of its pages' items; two runs of pages, one a side.
LENT_MIN_PAGES = 2 * MIN_RUN

# A history of at least this many links (a full build's plan) is read in two parts: this
# process reads the first share, a worker process the rest (read_keys).
SPLIT_MIN_LINKS = 20_000
# This process's share: it starts at once, while a prestarted worker still imports (~0.4 s),
# and it merges the two parts after.
OWN_SHARE = 0.55


class Rendered(NamedTuple):
    """What a parallel pass did: the pages' digests, the files the workers wrote and left
    unchanged, and each worker process's peak memory (its share of the pass's memory, beside
    this process's own; 0 for a lent worker, whose memory is the lender's to report)."""

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
    workers.py): a pass can borrow them instead of starting its own."""

    @property
    def ready(self) -> int: ...

    def call(self, target: str, *args: Any) -> Future[Any] | None: ...


def worth_it(pages: int, store: object, lender: Lender | None = None) -> bool:
    if not (isinstance(store, Reopenable) and store.reopener() is not None):
        return False
    if lender is not None and lender.ready > 0:
        return pages >= LENT_MIN_PAGES
    return pages >= PARALLEL_MIN_PAGES and workers() > 0


class Prestarted:
    """Worker processes started before a pass is planned, when it will likely be large: they
    import while this process reads the history. Unused ones exit when closed."""

    def __init__(self) -> None:
        self._processes: list[subprocess.Popen[bytes]] = []
        self._awaited: set[int] = set()     # pids whose answer is still to be read

    def start(self, feeds: Sequence[tuple[Sequence[str], int]], store: object) -> None:
        """Start workers if planning `feeds` ((sources, page size) each) from their whole
        history may give a parallel pass: an upper bound from the sources' link counts
        (filters ignored)."""
        if not (workers() > 0 and isinstance(store, Reopenable)
                and store.reopener() is not None):
            return
        links = store.link_counts()
        pages = sum(sum(links.get(s, 0) for s in sources) // size for sources, size in feeds)
        if pages >= PARALLEL_MIN_PAGES:
            for _ in range(workers()):
                process = _launch()
                if process is not None:
                    self._processes.append(process)

    @property
    def started(self) -> bool:
        return bool(self._processes)

    def take(self) -> subprocess.Popen[bytes] | None:
        return self._processes.pop() if self._processes else None

    def send(self, task: object) -> subprocess.Popen[bytes] | None:
        """Hand `task` to a started worker (which stays here for the pass's pages); its
        answer is read with `answer`. None when none is started or it cannot be written."""
        if not self._processes:
            return None
        process = self._processes[-1]
        assert process.stdin is not None
        try:
            pickle.dump(task, process.stdin)
            process.stdin.flush()
        except OSError as exc:
            log.warning("archive worker gone (%s); reading here", exc)
            self._drop(process)
            return None
        self._awaited.add(process.pid)
        return process

    def answer(self, process: subprocess.Popen[bytes]) -> object | None:
        """The answer to the task last sent to `process`; None (and the process stopped)
        when it cannot be read."""
        assert process.stdout is not None
        try:
            found: object = pickle.load(process.stdout)
        except Exception as exc:   # it died, or its answer could not be read
            log.warning("archive worker failed (%s); reading here", exc)
            self._drop(process)
            return None
        self._awaited.discard(process.pid)
        return found

    def _drop(self, process: subprocess.Popen[bytes]) -> None:
        if process in self._processes:
            self._processes.remove(process)
        self._awaited.discard(process.pid)
        process.kill()
        _stop(process)

    def close(self) -> None:
        while self._processes:
            process = self._processes.pop()
            if process.pid in self._awaited:
                # Its answer was never read (the pass failed meanwhile): it may be blocked
                # writing it, and would not see its input close.
                self._drop(process)
            else:
                _stop(process)


def _launch() -> subprocess.Popen[bytes] | None:
    try:
        process = subprocess.Popen([sys.executable, "-c", BOOT], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE)
    except OSError as exc:
        log.warning("cannot start an archive worker (%s); rendering here", exc)
        return None
    assert process.stdin is not None
    try:
        pickle.dump(sys.path, process.stdin)
        process.stdin.flush()
    except OSError:
        pass   # it died already: the first task finds out
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Close its stdin (the worker exits at the end of its input) and reap it."""
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


class PendingKeys:
    """The second part of a history (ids from `first_id` on) being read by a worker."""

    def __init__(self, first_id: str, *, future: Future[Any] | None = None,
                 process: subprocess.Popen[bytes] | None = None,
                 prestarted: Prestarted | None = None) -> None:
        self.first_id = first_id
        self._future = future
        self._process = process
        self._prestarted = prestarted

    def result(self) -> dict[str, list[Key]] | None:
        """The keys by feed id, each list sorted, or None when the worker failed: the
        caller then reads that part itself."""
        answer: object = None
        if self._future is not None:
            try:
                answer = self._future.result()
            except Exception as exc:
                log.warning("page worker failed on the history (%s); reading here", exc)
        elif self._process is not None and self._prestarted is not None:
            answer = self._prestarted.answer(self._process)
        if isinstance(answer, Failed):
            log.warning("archive worker failed on the history (%s); reading here",
                        answer.error)
        return answer.keys if isinstance(answer, Keys) else None


def read_keys(feeds: list[FeedConfig], sources: list[str], text: bool, store: object,
              prestarted: Prestarted, lender: Lender | None) -> PendingKeys | None:
    """Start reading the second part of the feeds' history in a worker: a lent one, else
    one started for the pass. None when the history is short, the store cannot be split or
    opened elsewhere, or no worker is there: this process reads it all."""
    if not (isinstance(store, Reopenable) and isinstance(store, Splittable)):
        return None
    factory = store.reopener()
    lent = lender is not None and lender.ready > 0
    if factory is None or not (lent or prestarted.started):
        return None
    counts = store.link_counts()
    if sum(counts.get(source, 0) for source in sources) < SPLIT_MIN_LINKS:
        return None
    first_id = store.link_split(sources, OWN_SHARE)
    if first_id is None:
        return None
    task = KeysTask(factory=cast("Callable[[], LinkReader]", factory), feeds=feeds,
                     sources=sources, text=text, first_id=first_id)
    if lent:
        assert lender is not None
        future = lender.call(KEYS_TASK, task)
        return PendingKeys(first_id, future=future) if future is not None else None
    process = prestarted.send(task)
    if process is None:
        return None
    return PendingKeys(first_id, process=process, prestarted=prestarted)


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


class _Worker(threading.Thread):
    """One worker process and the thread in this process that feeds it runs from the back
    until none is left. A run the worker fails on goes to `failed` (rendered here later),
    except a PublishError, which fails the build as it would here."""

    def __init__(self, setup: Setup, runs: _Runs,
                 process: subprocess.Popen[bytes] | None) -> None:
        super().__init__(name="archive-worker", daemon=True)
        self._process = process
        self._setup = setup
        self._runs = runs
        self.done: list[Page] = []
        self.written: list[Path] = []
        self.unchanged: list[Path] = []
        self.failed: list[list[PageJob]] = []
        self.error: PublishError | None = None
        self.peak_rss_mb = 0.0

    def run(self) -> None:
        process = self._process or _launch()
        if process is None:
            return
        assert process.stdin is not None and process.stdout is not None
        run: list[PageJob] = []
        try:
            pickle.dump(self._setup, process.stdin)
            while run := self._runs.back():
                pickle.dump(Task(run), process.stdin)
                process.stdin.flush()
                answer = pickle.load(process.stdout)
                if isinstance(answer, Failed):
                    if isinstance(answer.error, PublishError):
                        self.error = answer.error
                        return
                    raise answer.error
                self._take(answer)
                run = []
        except Exception as exc:   # the worker died, or its answer could not be read
            log.warning("archive worker failed (%s); rendering the rest here", exc)
            if run:
                self.failed.append(run)
        finally:
            _stop(process)

    def _take(self, answer: Done) -> None:
        self.done += answer.pages
        self.written += answer.written
        self.unchanged += answer.unchanged
        self.peak_rss_mb = max(self.peak_rss_mb, answer.peak_rss_mb)


class _Lent(_Worker):
    """A running worker process lent by a Lender: each run of pages is one call of
    `render_task` there. Its memory is the lender's to report (not a peak of this pass)."""

    def __init__(self, setup: Setup, runs: _Runs, lender: Lender) -> None:
        super().__init__(setup, runs, None)
        self._lender = lender

    def run(self) -> None:
        run: list[PageJob] = []
        try:
            while run := self._runs.back():
                future = self._lender.call(RENDER_TASK, self._setup, Task(run))
                if future is None:        # it went away: this process renders the rest
                    self.failed.append(run)
                    return
                self._take(future.result())
                run = []
        except PublishError as exc:
            self.error = exc
        except Exception as exc:   # the worker died, or the run failed there
            log.warning("page worker failed on archive pages (%s); rendering the rest here",
                        exc)
            if run:
                self.failed.append(run)
        self.peak_rss_mb = 0.0


def render(config: Config, output: Path, jobs: Sequence[PageJob], store: ItemReader,
           writer: PageWriter, now: datetime, known: Mapping[str, Item],
           prestarted: Prestarted, lender: Lender | None = None
           ) -> Rendered:
    """pagerender.render_pages over `jobs` (sorted), shared with worker processes: the
    lender's running ones when it has any ready, else processes started for the pass.
    Returns the pages' digests and the files the workers wrote and left unchanged (this
    process's own are in `writer`); nothing written by a worker is durable yet."""
    from syndicator.publish.pagerender import render_pages

    assert isinstance(store, Reopenable)
    factory = store.reopener()
    assert factory is not None
    setup = Setup(factory=factory, config=config, output=output, now=now)
    lent = min(lender.ready, MAX_WORKERS) if lender is not None else 0
    runs = _Runs(jobs, (lent or workers()) + 1)
    helpers = ([_Lent(setup, runs, lender) for _ in range(lent)] if lender is not None and lent
               else [_Worker(setup, runs, prestarted.take()) for _ in range(workers())])
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
    return Rendered(done, written, unchanged, [helper.peak_rss_mb for helper in helpers])


