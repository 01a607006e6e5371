"""The job queue of the cluster engine: procrastinate on PostgreSQL. The only procrastinate
(and psycopg_pool) user.

    defer(kind, key)        queue one job from any thread; False when one with the same
                            queueing lock is already waiting (it will do the same work)
    start() / stop(timeout) the workers of this process, in a thread of their own

Jobs, each keyed so that the engine keeps one at a time:

    kind          lock (one running)   queueing lock (one waiting)   queue
    poll_source   source:<id>          poll:<id>                     jobs
    build_feed    feed:<id>            build:<id>                    jobs
    send_target   target:<id>          send:<id>                     jobs
    websub_ping   ping:<id>            ping:<id>                     jobs
    dispatch      -                    dispatch                      control, every 2 s
    sweep         -                    sweep                         control, every 2 s
    prune         -                    prune                         jobs, hourly

Two procrastinate workers run in this process on one connection pool: `jobs` with the
configured concurrency, and `control` with one slot for the periodic dispatcher and sweeper,
so that long polls never keep them waiting.

The `jobs` worker does not LISTEN for new jobs: every job's NOTIFY would wake the `jobs`
worker of every instance, and each would look for a job that only one of them gets, so that
every poll cost one more statement per instance. It looks for jobs every FETCH_POLL s
instead (and, while all its slots are busy, as soon as one frees); the cost of a poll stays
the same however many instances there are. The `control` worker does LISTEN (its queue gets
two jobs per tick, not one per poll), so that a tick's dispatch starts at once; its
listener is also what stops both workers at once when the database goes away.

The pool's connections are in autocommit: each of procrastinate's statements is one call of
one of its functions, and a BEGIN and COMMIT around each cost two more statements. Periodic
jobs are deferred by every worker and de-duplicated by procrastinate (one job per
tick across the cluster). The control jobs take no `lock`: a control job that stalled (its
process killed) never blocks the next tick.

Retention: succeeded jobs are deleted when they end (`delete_jobs`); failed, cancelled and
aborted ones are kept JOBS_KEPT_HOURS for inspection, then the hourly prune deletes them
along with the old runs of the run log (Handlers.prune).

Failover: every worker writes a heartbeat every HEARTBEAT s. The sweeper prunes workers
silent for `stalled` s (`jobs.stalled_after`; jobs/tuning.py has the clock and the bound it
puts on failover) and puts their `doing` jobs back to `todo` (procrastinate's
`retry_job`), which also frees the job's `lock`; when a job of the same queueing lock is
already waiting, the stalled one is finished instead (the waiting one does its work).
Worker ids come from an identity column, so a restarted process is always a new worker and
never inherits (or keeps alive) the jobs of its previous life.

Database outage: a worker that loses the database stops (procrastinate stops a worker whose
heartbeat or listener fails); the loop here reports it through the shared StoreOutage (one
line per outage, not a traceback per job), waits with backoff (at most BACKOFF_CAP s) and
starts new workers, which register under new ids; jobs the old ones left `doing` are swept
after `stalled` s like those of a killed process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from procrastinate import App, JobContext, PsycopgConnector, RetryStrategy
from procrastinate import exceptions as pexc
from procrastinate.jobs import Status

from syndicator.errors import NotConfiguredHere, StoreError
from syndicator.jobs.tuning import FETCH_POLL, HEARTBEAT, SWEEP_EVERY
from syndicator.store.database import ALIVE
from syndicator.store.outage import StoreOutage

log = logging.getLogger("syndicator.jobs")

CONTROL_POLL = 2.0       # the same of the `control` worker, when no notification came
BACKOFF_CAP = 4.0        # seconds between restarts of the workers while the database is away
RELEASE_TIME = 1.0       # seconds of a stop's deadline kept to hand running jobs back
DEFER_TIMEOUT = 30.0     # seconds a defer may take before the caller gives up
POOL_TIMEOUT = 3.0       # seconds to wait for a database connection
# libpq options of the workers' connections (store/database.py's, for long-lived ones).
CONNECTION = dict(ALIVE)
DISPATCH_CRON = "* * * * * */2"   # procrastinate's cron with seconds: every 2 s
SWEEP_CRON = f"* * * * * */{SWEEP_EVERY}"
PRUNE_CRON = "17 * * * *"         # hourly
JOBS_KEPT_HOURS = 7 * 24  # hours a failed, cancelled or aborted job is kept
RETRIES = 8              # attempts of a job whose body raised StoreError or
                         # NotConfiguredHere (2, 4, ... 256 s apart)
SWEEP_NAMED = 3          # jobs the sweeper's line names (then "and N more")
JOBS, CONTROL = "jobs", "control"

# kind → (lock prefix or None, queueing lock prefix)
KEYS: Mapping[str, tuple[str | None, str]] = {
    "poll_source": ("source", "poll"),
    "build_feed": ("feed", "build"),
    "send_target": ("target", "send"),
    "websub_ping": ("ping", "ping"),
}


@dataclass(frozen=True)
class Handlers:
    """The bodies of the jobs (run in worker threads): each takes the job's key."""

    poll_source: Callable[[str], None]
    build_feed: Callable[[str], None]
    send_target: Callable[[str], None]
    websub_ping: Callable[[str], None]
    dispatch: Callable[[], None]
    prune: Callable[[], None]


class TaskQueue:
    def __init__(self, url: str, handlers: Handlers, *, concurrency: int,
                 outage: StoreOutage, probe: Callable[[], object],
                 stalled: float, name: str = "syndicator") -> None:
        """`url`: the database as libpq reads it (password included, never logged);
        `probe()` raises StoreError while the database cannot be reached: it is asked
        before the workers start (quicker to fail than opening their pool); `stalled`:
        seconds without a heartbeat after which a worker is taken for dead
        (`jobs.stalled_after`)."""
        self.concurrency = concurrency
        self.stalled = stalled
        self._probe = probe
        self._outage = outage
        self._name = name
        connector = PsycopgConnector(conninfo=url, min_size=1, max_size=concurrency + 4,
                                     timeout=POOL_TIMEOUT, kwargs=CONNECTION,
                                     configure=_autocommit)
        self._app = App(connector=connector)
        self._register(handlers)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._up = threading.Event()     # workers registered and running
        self._lock = threading.Lock()
        self._running: set[int | None] = set()   # ids of the jobs running in this process
        self.started: float | None = None
        _quiet_libraries()

    # -- the tasks -----------------------------------------------------------------------

    def _register(self, handlers: Handlers) -> None:
        app = self._app

        def keyed(kind: str, body: Callable[[str], None]) -> None:
            def run(context: JobContext, key: str) -> None:
                job_id = context.job.id
                with self._lock:
                    self._running.add(job_id)
                try:
                    body(key)
                finally:
                    with self._lock:
                        self._running.discard(job_id)
            run.__name__ = kind
            # A body that could not reach the store (a build) raises StoreError, one for a
            # feed, source or target this process does not configure NotConfiguredHere:
            # it is tried again (by any instance), later and later, rather than lost.
            app.task(name=kind, queue=JOBS, pass_context=True,
                     retry=RetryStrategy(max_attempts=RETRIES, exponential_wait=2,
                                         retry_exceptions={StoreError, NotConfiguredHere}))(run)

        for kind in KEYS:
            keyed(kind, getattr(handlers, kind))

        def dispatch(timestamp: int) -> None:
            handlers.dispatch()

        app.periodic(cron=DISPATCH_CRON, periodic_id="dispatch")(
            app.task(name="dispatch", queue=CONTROL, queueing_lock="dispatch",
                     pass_context=False)(dispatch))

        async def sweep(timestamp: int) -> None:
            await self._sweep()

        app.periodic(cron=SWEEP_CRON, periodic_id="sweep")(
            app.task(name="sweep", queue=CONTROL, queueing_lock="sweep",
                     pass_context=False)(sweep))

        async def prune(timestamp: int) -> None:
            await self._app.job_manager.delete_old_jobs(
                nb_hours=JOBS_KEPT_HOURS, include_failed=True, include_cancelled=True,
                include_aborted=True)
            await asyncio.to_thread(handlers.prune)

        app.periodic(cron=PRUNE_CRON, periodic_id="prune")(
            app.task(name="prune", queue=JOBS, queueing_lock="prune",
                     pass_context=False)(prune))

    async def _sweep(self) -> None:
        """Give the jobs of dead workers to the living (see the module docstring): one INFO
        line per sweep that gave anything back. An outage longer than the heartbeat window
        stalls every job that was running, and is itself reported once (StoreOutage); a
        line per job would bury that line."""
        manager = self._app.job_manager
        pruned = await manager.prune_stalled_workers(self.stalled)
        again: list[str] = []
        dropped: list[str] = []
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=self.stalled):
            try:
                await manager.retry_job(job)
            except pexc.UniqueViolation:
                # A job of the same queueing lock is waiting: it does this one's work.
                await manager.finish_job(job, status=Status.FAILED, delete_job=True)
                dropped.append(job.call_string)
            except pexc.ConnectorException as exc:
                if "invalid status" in str(exc.__cause__ or ""):
                    continue     # another sweeper took it meanwhile
                raise
            else:
                again.append(job.call_string)
        if pruned or again or dropped:
            log.info("%s", sweep_summary(self.stalled, pruned, again, dropped))

    # -- deferring -------------------------------------------------------------------------

    def defer(self, kind: str, key: str) -> bool:
        """Queue a job (from a thread other than the workers' loop); False when the same
        job is already waiting. StoreError when the database cannot be reached."""
        loop = self._loop
        if loop is None or not self._up.is_set():
            raise StoreError(f"cannot queue {kind} {key}: the job queue is not connected")
        future = asyncio.run_coroutine_threadsafe(self._defer(kind, key), loop)
        try:
            return future.result(DEFER_TIMEOUT)
        except pexc.ConnectorException as exc:
            raise _store_error(f"cannot queue {kind} {key}", exc) from exc
        except TimeoutError:
            future.cancel()
            raise StoreError(f"cannot queue {kind} {key}: no answer in "
                             f"{DEFER_TIMEOUT:.0f} s") from None

    async def _defer(self, kind: str, key: str) -> bool:
        lock, queueing = KEYS[kind]
        task = self._app.tasks[kind]
        try:
            await task.configure(lock=f"{lock}:{key}" if lock else None,
                                 queueing_lock=f"{queueing}:{key}").defer_async(key=key)
        except pexc.AlreadyEnqueued:
            return False
        return True

    # -- running -------------------------------------------------------------------------

    def start(self) -> None:
        self.started = time.time()
        self._thread = threading.Thread(target=self._run, name="jobs", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._up.is_set()

    def wait_up(self, timeout: float) -> bool:
        """Wait until the workers run (tests, and a caller that defers at once)."""
        return self._up.wait(timeout)

    def stop(self, timeout: float) -> bool:
        """Take no more jobs, let running ones finish for up to `timeout` s; those still
        running then are handed back to the queue (another process takes them at once)
        and False is returned: the caller exits without them."""
        self._stopping.set()
        loop, main = self._loop, self._main
        if loop is not None and main is not None:
            with contextlib.suppress(RuntimeError):     # the loop closed meanwhile
                loop.call_soon_threadsafe(main.cancel)
        if self._thread is None:
            return True
        self._thread.join(max(0.0, timeout - RELEASE_TIME))
        if not self._thread.is_alive():
            return True
        if loop is not None:
            self._release(loop)
        return False

    def _release(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            running = sorted(i for i in self._running if i is not None)
        if not running:
            return
        manager = self._app.job_manager

        async def hand_back() -> None:
            for job_id in running:
                await manager.retry_job_by_id_async(job_id, retry_at=datetime.now(UTC))

        try:
            asyncio.run_coroutine_threadsafe(hand_back(), loop).result(RELEASE_TIME)
        except Exception as exc:     # the database or the loop gone: the sweeper will do
            log.warning("jobs: %d running job(s) not handed back at stop (%s); another "
                        "process takes them when their heartbeat is missed",
                        len(running), type(exc).__name__)
        else:
            log.warning("jobs: %d job(s) still running at the stop deadline handed back to "
                        "the queue", len(running))

    def _run(self) -> None:
        asyncio.run(self._forever())

    async def _forever(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.set_exception_handler(self._unretrieved)
        delay = 0.5
        while not self._stopping.is_set():
            began = time.monotonic()
            self._main = asyncio.current_task()
            try:
                await self._workers()
            except asyncio.CancelledError:
                break
            except Exception as exc:
                if self._stopping.is_set():
                    break
                await asyncio.to_thread(self._report, exc)
            finally:
                self._up.clear()
            if time.monotonic() - began > 10 * BACKOFF_CAP:
                delay = 0.5     # it ran a while: this is a new outage
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                break
            delay = min(delay * 2, BACKOFF_CAP)

    async def _workers(self) -> None:
        await asyncio.to_thread(self._probe)
        async with self._app.open_async():
            options: dict[str, Any] = {
                "install_signal_handlers": False,
                "update_heartbeat_interval": HEARTBEAT,
                "stalled_worker_timeout": self.stalled,
                "delete_jobs": "successful",
                "shutdown_graceful_timeout": 1.0,
            }
            runs: list[Coroutine[Any, Any, None]] = [
                self._app.run_worker_async(queues=[JOBS], concurrency=self.concurrency,
                                           name=f"{self._name}-jobs", listen_notify=False,
                                           fetch_job_polling_interval=FETCH_POLL, **options),
                self._app.run_worker_async(queues=[CONTROL], concurrency=1,
                                           name=f"{self._name}-control",
                                           fetch_job_polling_interval=CONTROL_POLL,
                                           **options),
            ]
            tasks = [asyncio.ensure_future(run) for run in runs]
            self._up.set()
            try:
                # One worker ending (its database gone) ends the other too, and both start
                # again together.
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                results = await asyncio.gather(*tasks, return_exceptions=True)
            for result in results:
                if isinstance(result, Exception):
                    raise result
            if not self._stopping.is_set():
                raise StoreError("the job workers stopped")

    def _unretrieved(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """A job's own task that failed after its workers stopped (it could not record its
        end in a database that went away) is the outage already reported, not a traceback
        of its own; anything else is one line."""
        exc = context.get("exception")
        if isinstance(exc, BaseException) and _from_database(exc):
            return
        log.error("jobs: %s%s", context.get("message", "error in the job loop"),
                  f" ({type(exc).__name__}: {exc})" if exc is not None else "")

    def _report(self, exc: Exception) -> None:
        """One line per outage: the store's own error says what kind (connection refused,
        ...) better than the pool's timeout that stopped the workers."""
        try:
            self._probe()
        except StoreError as down:
            self._outage.failed(down, "the job workers")
            return
        if _from_database(exc):
            # The database answers again: the workers lost their connections in an outage
            # that is over now (a wait for a connection that began during it and ended
            # after), reported by whoever met it first; not an outage of its own.
            log.info("jobs: the workers lost their database connections (%s); starting "
                     "them again", type(_root(exc)).__name__)
        else:
            log.error("jobs: the workers stopped (%s: %s); starting them again",
                      type(exc).__name__, exc)


def sweep_summary(stalled: float, pruned: Sequence[object], again: Sequence[str],
                  dropped: Sequence[str]) -> str:
    """The sweeper's one line: the workers silent for `stalled` s taken for dead, the jobs
    run again and those dropped (the same job waits), each list of jobs capped at
    SWEEP_NAMED call strings."""
    parts = [f"{len(again)} run again{_named(again)}"]
    if dropped:
        parts.append(f"{len(dropped)} dropped, the same job queued{_named(dropped)}")
    workers = f"; workers {', '.join(map(str, pruned))} taken for dead" if pruned else ""
    return (f"jobs: stopped workers' jobs given back (no heartbeat for {stalled:g} s): "
            f"{'; '.join(parts)}{workers}")


def _named(calls: Sequence[str]) -> str:
    if not calls:
        return ""
    shown = ", ".join(calls[:SWEEP_NAMED])
    more = f" and {len(calls) - SWEEP_NAMED} more" if len(calls) > SWEEP_NAMED else ""
    return f" ({shown}{more})"


async def _autocommit(connection: Any) -> None:
    """The pool's connections run each statement as its own transaction (module docstring);
    set when the pool opens a connection (procrastinate's listener opens its own, in
    autocommit already)."""
    await connection.set_autocommit(True)


def _from_database(exc: BaseException) -> bool:
    """Whether an error comes from the database connection (an outage), by its chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, pexc.ConnectorException | StoreError | OSError):
            return True
        if type(seen).__module__.split(".")[0] in ("psycopg", "psycopg_pool"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _store_error(action: str, exc: BaseException) -> StoreError:
    """A StoreError whose cause is the driver's own error (which StoreOutage reads to say
    what kind of failure it is), without the driver's message (it names host and port)."""
    root = _root(exc)
    error = StoreError(f"cannot {action}: {type(root).__name__}")
    error.__cause__ = root
    return error


def _root(exc: BaseException) -> BaseException:
    """The first error of an error's chain (the driver's own)."""
    root = exc
    while root.__cause__ is not None or root.__context__ is not None:
        nxt = root.__cause__ or root.__context__
        assert nxt is not None
        root = nxt
    return root


def _quiet_libraries() -> None:
    """procrastinate logs every job start and end at INFO, and each failure of a worker
    whose database went away with a traceback; psycopg_pool each failed connection. What is
    worth a line is logged here (a job body logs its own outcome, an outage once)."""
    for name in ("procrastinate", "psycopg.pool"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    # psycopg warns when it cannot cancel a query on a connection that is gone.
    logging.getLogger("psycopg").setLevel(logging.ERROR)
