"""The CPU work on an article page (extract, merge with its card, normalise), and worker
processes that do it for large runs, so that a crawl uses more than one core.

Fetching is I/O and runs in threads; decoding a 100 KB page, parsing it, running the
selectors, sanitising the body and reading the dates is Python work that holds the GIL
(a millisecond or more a page), so in one process a crawl never gets much past one core.
`PageWorkers.read()` is called from the fetch threads with the undecoded body: it ships the
bytes to a worker process and waits (the waiting thread releases the GIL), or does the work
inline when the pool is off, the batch is small, or a worker died. Either way the result is
the same pure function's: `read_body`.

Workers are fresh interpreters, not forks: the service runs scheduler and server threads,
and a fork of a threaded process can inherit a held lock. Each has a socket to the parent;
a fetch thread borrows an idle worker, sends the job and waits for the answer (no manager
thread, no queue feeder: ProcessPoolExecutor costs the parent, per task, a good part of
what the work itself costs). They start on the first large batch and live as long
as the App; a worker that dies or misbehaves switches the App back to inline reading.
Only the page's bytes go out (decoding them there, not here, saves this process ~0.2 ms
a page: it is the busier one); only the Item comes back (the Article it was made from is
not needed once the Item is made).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

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
# A worker's first message: its imports are done and it takes pages.
READY = "ready"


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


Job = tuple[Body, "ArticleSelectors | None", Article, NormaliseContext]


@dataclass(frozen=True)
class Call:
    """Other work for a page worker: `module:function` called with `args` there (imported
    on first use), answered with its return value. Lets other CPU work (a build's archive
    pages, say) use a worker that is already running instead of starting a process."""

    target: str
    args: tuple[Any, ...] = ()

    def run(self) -> object:
        try:
            module, _, name = self.target.partition(":")
            return getattr(importlib.import_module(module), name)(*self.args)
        except Exception as exc:
            try:
                pickle.dumps(exc)
            except Exception:
                exc = RuntimeError(f"{type(exc).__name__}: {exc}")
            return CallFailed(exc)


@dataclass(frozen=True)
class CallFailed:
    """A Call's function raised `error` (re-raised by the future in the parent)."""

    error: BaseException


class _Worker:
    """One worker process, the socket to it, and the jobs sent and not yet answered.

    Its own interpreter (`python -m syndicator.workers FD`), not multiprocessing's spawn:
    that would re-import the parent's main module (the whole CLI or service, ~75 MB) in
    every worker. Jobs are pipelined: any thread may send one at any time; the worker
    answers them in order, and a receiver thread hands each answer to the oldest waiting
    future. So the worker goes straight on to the next queued page instead of idling until
    the thread that sent the last one gets the GIL back to take its answer.

    A new worker spends ~0.3 s importing; it says READY when it can take pages, and until
    then pages are read here (PageWorkers.start_read), so that nothing waits for it.
    """

    def __init__(self, on_failure: Callable[[_Worker, BaseException], None]) -> None:
        ours, theirs = socket.socketpair()
        # The worker imports from where this process imports (a source checkout on
        # sys.path, say), not only from what the interpreter finds on its own.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "syndicator.workers", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, close_fds=True,
                env=env)
        self.connection = Connection(ours.detach())
        # Each sent job's future and the type its answer must have (None: any, a call's).
        self._pending: deque[tuple[Future[Any], type | None]] = deque()
        # Two locks: sends are serialised (so the futures' order is the answers' order), but
        # the receiver takes only the pending lock. A sender may block on a full socket while
        # the worker blocks on a full socket back to us: the receiver must go on reading.
        self._send_lock = threading.Lock()
        self._pending_lock = threading.Lock()
        self._stopping = False
        self.ready = threading.Event()
        self.sent = 0               # pages sent so far (for monitoring and tests)
        self._on_failure = on_failure
        self._receiver = threading.Thread(target=self._receive, daemon=True,
                                          name=f"page-worker-{self.process.pid}")
        self._receiver.start()

    @property
    def load(self) -> int:
        """Jobs sent and not answered yet."""
        return len(self._pending)

    def submit(self, job: Job) -> Future[ArticleWork]:
        future: Future[ArticleWork] = self._send(job, ArticleWork)
        self.sent += 1
        return future

    def call(self, target: Call) -> Future[Any]:
        return self._send(target, None)

    def _send(self, message: object, answer: type | None) -> Future[Any]:
        future: Future[Any] = Future()
        entry = (future, answer)
        with self._send_lock:
            with self._pending_lock:
                self._pending.append(entry)
            try:
                self.connection.send(message)
            except (OSError, ValueError) as exc:
                with self._pending_lock:
                    if entry in self._pending:
                        self._pending.remove(entry)
                raise WorkerFailed(f"cannot send to the worker: {exc}") from exc
        return future

    def _receive(self) -> None:
        try:
            hello = self.connection.recv()
        except (EOFError, OSError, pickle.PickleError) as exc:
            self._fail_all(exc)
            return
        if hello != READY:
            self._fail_all(WorkerFailed(f"unexpected greeting {hello!r}"))
            return
        self.ready.set()
        while True:
            try:
                answer = self.connection.recv()
            except (EOFError, OSError, pickle.PickleError) as exc:
                self._fail_all(exc)
                return
            with self._pending_lock:
                entry = self._pending.popleft() if self._pending else None
            if entry is None or (entry[1] is not None and not isinstance(answer, entry[1])):
                self._fail_all(WorkerFailed(f"unexpected answer {type(answer).__name__}"))
                if entry is not None:
                    entry[0].set_exception(WorkerFailed("unexpected answer"))
                return
            future, _ = entry
            if isinstance(answer, CallFailed):
                future.set_exception(answer.error)
            else:
                future.set_result(answer)

    def _fail_all(self, exc: BaseException) -> None:
        with self._pending_lock:
            waiting, self._pending = list(self._pending), deque()
        if not self._stopping:
            self._on_failure(self, exc)
        for future, _ in waiting:
            future.set_exception(WorkerFailed(str(exc) or type(exc).__name__))

    def stop(self) -> None:
        """Ask the worker to exit (it answers what it has first), then close the socket once
        the receiver has seen the end: closing a socket another thread reads from could
        hand that thread someone else's file descriptor."""
        with self._send_lock:
            self._stopping = True
            with contextlib.suppress(OSError, ValueError):
                self.connection.send(None)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._receiver.join(timeout=5)
        self.connection.close()



class PageWorkers:
    """`read_body` in `processes` worker processes (0: always inline)."""

    def __init__(self, processes: int, *, min_batch: int = MIN_BATCH,
                 share_at: int = SHARE_AT) -> None:
        self.processes = max(0, processes)
        self.min_batch = min_batch
        self.share_at = share_at
        self.shared = 0             # pages read here while the workers were busy
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._broken = False

    @property
    def started(self) -> int:
        """Worker processes started so far (0 until the first large batch)."""
        return len(self._all)

    @property
    def pids(self) -> list[int]:
        """Process ids of the running workers (for monitoring)."""
        return [worker.process.pid for worker in self._all]

    def wants(self, pages: int) -> bool:
        """Whether a run with `pages` article pages to read should use the workers; if so,
        they are started now, so that they import while the first pages download."""
        if self.processes == 0 or self._broken or pages < self.min_batch:
            return False
        with self._lock:
            try:
                while len(self._all) < self.processes:
                    self._all.append(_Worker(self._give_up))
            except OSError as exc:
                log.warning("cannot start page worker processes (%s); reading pages in this "
                            "process", exc)
                self._broken = True
        return not self._broken

    @property
    def ready(self) -> int:
        """Workers that can take work now (0 when none was started or they failed)."""
        return 0 if self._broken else sum(1 for w in self._all if w.ready.is_set())

    def call(self, target: str, *args: Any) -> Future[Any] | None:
        """Run `target` ("module:function") with `args` in the least busy ready worker;
        None when there is none (not started, still importing, or failed): the caller does
        the work itself then. The future raises what the function raised, or WorkerFailed
        if the worker died."""
        workers = [w for w in self._all if w.ready.is_set()]
        if self._broken or not workers:
            return None
        try:
            return min(workers, key=lambda w: w.load).call(Call(target, args))
        except WorkerFailed:
            return None

    def wait_ready(self, timeout: float) -> bool:
        """Wait until every started worker can take pages (tests, benchmarks); False if
        one is not ready by then or the workers failed."""
        return all(w.ready.wait(timeout) for w in list(self._all)) and not self._broken

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
        workers = [w for w in self._all if w.ready.is_set()]
        if not (pooled and workers and not self._broken):
            work = read_body(body, selectors, card, ctx)
            return lambda: work
        worker = min(workers, key=lambda w: w.load)
        if worker.load >= self.share_at:
            self.shared += 1
            work = read_body(body, selectors, card, ctx)
            return lambda: work
        try:
            future = worker.submit((body, selectors, card, ctx))
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
            except WorkerFailed:   # logged once by _give_up; this page is read here
                return read_body(kept[0], selectors, card, ctx)

        return result

    def _give_up(self, worker: _Worker, exc: BaseException) -> None:
        with self._lock:
            if not self._broken:
                log.warning("a page worker process failed (%s: %s); reading pages in this "
                            "process from now on", type(exc).__name__, exc)
            self._broken = True
        worker.process.kill()

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.stop()


def _serve(fd: int) -> None:
    """A worker's loop: read jobs from the socket, answer each with its ArticleWork."""
    # Ctrl-C reaches the whole process group, and a supervisor's SIGTERM may reach the whole
    # control group: the parent decides when we stop (it says so, or its end of the socket
    # closes when it dies), so that it can finish its run in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    connection = Connection(fd)
    load_libraries()
    connection.send(READY)
    while True:
        try:
            job = connection.recv()
        except EOFError:
            return
        if job is None:
            # The parent is done with us, and every answer is in the socket already
            # (sent unbuffered): skip the interpreter's teardown of a heap it would only
            # free, which the parent waits for.
            os._exit(0)
        connection.send(job.run() if isinstance(job, Call) else read_body(*job))


if __name__ == "__main__":
    # Run the module's own copy (not this __main__ one), so that the ArticleWork answers
    # pickle as syndicator.workers.ArticleWork.
    from syndicator.workers import _serve as serve

    serve(int(sys.argv[1]))
