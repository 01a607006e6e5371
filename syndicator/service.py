"""The long-running service: `syndicator run` (scheduler + HTTP).

    scheduler ──fires──▶ Service.poll(source)
                           ├─ backoff? skip          (health.backoff_until / backoff_skips)
                           ├─ run_source ──▶ RunResult (stored in one transaction)
                           ├─ health.assess: log/metric when a source breaks or recovers
                           ├─ new/changed items ──▶ build_feeds(only=its feeds) ──▶ cache.reload
                           └─ hooks: after_build(feed ids), after_run(RunResult)
    uvicorn (main thread) ──serves──▶ create_web_app(WebContext(config, store, cache, status))

Stopping (SIGTERM/SIGINT): uvicorn stops accepting and finishes open requests, the scheduler
fires no more jobs, runs in progress get until STOP_DEADLINE (from the signal) to finish;
a run still going then is abandoned by exiting the process — its store transaction was not
committed, so the database rolls it back (each run is saved in one transaction).

The HTTP server is httpserver.py, `syndicator serve` serving.py, the store lock storelock.py.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from syndicator import health
from syndicator.app import App, make_app
from syndicator.config import Config
from syndicator.errors import SchemaError, StoreError, SyndicatorError
from syndicator.httpserver import STOP_DEADLINE, StopSignals, address, listen, serve_http
from syndicator.jobs.interface import Inline, Work
from syndicator.jobs.tuning import cluster_concurrency
from syndicator.model import RunResult
from syndicator.processes import hard_exit
from syndicator.serving import FeedFiles, follow_builds, partner_routes, push_status_of
from syndicator.status import HISTORY, ServiceStatus
from syndicator.store import Store
from syndicator.store.database import store_pool
from syndicator.store.outage import StoreOutage
from syndicator.storelock import StoreLock, sqlite_path
from syndicator.web.context import WebContext
from syndicator.websub import hook_for

if TYPE_CHECKING:
    from syndicator.jobs.interface import Engine
    from syndicator.metrics import Metrics as PromMetrics
    from syndicator.web.cache import FeedCache

log = logging.getLogger(__name__)

RUN_LOG_DAYS = 30        # days the run log keeps (beyond each source's newest HISTORY runs)
PACING_KEPT = 86400.0    # seconds a shared rate row outlives its latest start (rates.py)
# Days a shared build's tombstone (a removed file's row, store/outputs.py) is kept: a folder
# following the cluster applies it within seconds; one whose instance was away longer
# keeps the removed file (docs/service.md, "What grows").
TOMBSTONE_DAYS = 30

AfterBuild = Callable[[tuple[str, ...]], None]
AfterRun = Callable[[RunResult], None]


class Metrics(Protocol):
    """The metric hooks the service calls (syndicator.metrics implements them)."""

    def source_run(self, source_id: str, ok: bool, duration_s: float, new: int,
                   updated: int) -> None: ...

    def source_broken(self, source_id: str, broken: bool) -> None: ...

    def items_stored(self, source_id: str, count: int) -> None: ...


class NoMetrics:
    def source_run(self, source_id: str, ok: bool, duration_s: float, new: int,
                   updated: int) -> None:
        """Metrics off (tests, or a build without prometheus)."""

    def source_broken(self, source_id: str, broken: bool) -> None:
        """Metrics off."""

    def items_stored(self, source_id: str, count: int) -> None:
        """Metrics off."""


# --- the per-source job ----------------------------------------------------------------------

class Service:
    """What happens when a source is due: run it, judge its health, republish, notify.

    Hooks: `after_build` callables get the ids of feeds whose files changed, `after_run`
    callables every RunResult. They are called after the build lock is released; an
    exception in one is logged and never stops the job or the other hooks.
    """

    def __init__(self, app: App, cache: FeedFiles | None = None, *,
                 metrics: Metrics | None = None,
                 threshold: int = health.DEFAULT_THRESHOLD) -> None:
        self.app = app
        self.cache = cache
        self.metrics: Metrics = metrics if metrics is not None else NoMetrics()
        self.threshold = threshold
        self.after_build: list[AfterBuild] = []
        self.after_run: list[AfterRun] = []
        self._build_lock = threading.Lock()   # one build at a time: index.html is shared
        self._health: dict[str, health.Health] = {}
        self._health_lock = threading.Lock()
        self._busy = 0                        # polls in progress, guarded by _idle
        self._stopping = False                # guarded by _idle too: no poll slips past
        self._idle = threading.Condition()
        # An unreachable store is one log line (and a reminder every few minutes), not a
        # traceback per poll: every source's job fails the same way while it lasts.
        self.outage = StoreOutage(app.config.storage_url, app.clock)
        # Where follow-up work goes (feed builds, pushes): done here and now unless an
        # engine (syndicator.jobs) queues it instead.
        self.work: Work = Inline(self.build)

    # -- lifecycle -----------------------------------------------------------------------

    def prime(self) -> None:
        """Read every source's health from the run log, so transitions are logged once;
        set the gauges (broken, items stored) of every source."""
        for source in self.app.config.sources:
            history = self.app.store.runs(source.id, limit=HISTORY)
            assessed = health.assess(history, threshold=self.threshold)
            with self._health_lock:
                self._health[source.id] = assessed
            self.metrics.source_broken(source.id, assessed.broken)
            self.metrics.items_stored(source.id, self.app.store.count_items([source.id]))
            if assessed.broken:
                log.warning("source %s is still broken: %s", source.id, assessed.reason)

    def stop(self) -> None:
        """Refuse new runs (a fire that comes now returns at once)."""
        with self._idle:
            self._stopping = True

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no run is in progress; False if one still is after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    # -- the job -------------------------------------------------------------------------

    def poll(self, source_id: str) -> RunResult | None:
        """The scheduler job of one source. None when skipped (stopping, or backing off).

        Never raises: a job that raised would only be logged by the scheduler anyway, and
        everything worth knowing is logged here with the source id.
        """
        with self._idle:
            if self._stopping:
                return None
            self._busy += 1
        try:
            result = self._poll(source_id)
        except StoreError as exc:
            self.outage.failed(exc, f"the poll of source {source_id}")
            return None
        except Exception:
            log.exception("source %s: the poll failed unexpectedly", source_id)
            return None
        else:
            self.outage.answered()
            return result
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def _poll(self, source_id: str) -> RunResult | None:
        from syndicator.pipeline import run_source
        from syndicator.runlog import log_run

        app = self.app
        source = app.config.source(source_id)
        interval = source.schedule.interval_seconds
        history = app.store.runs(source_id, limit=HISTORY)
        until = health.backoff_until(history, interval)
        if health.backoff_skips(app.clock(), until, interval, source.schedule.jitter):
            log.debug("source %s: backing off after %d failed runs, next try after %s",
                     source_id, health.consecutive_failures(history),
                     until.isoformat() if until else "-")
            return None
        result = run_source(app, source)
        self.metrics.source_run(source_id, result.ok,
                           (result.finished - result.started).total_seconds(),
                           result.new, result.updated)
        self._judge(source_id, [result, *history])
        changed: tuple[str, ...] = ()
        if result.new or result.updated:
            changed = self.rebuild(source_id)
            self.metrics.items_stored(source_id, app.store.count_items([source_id]))
        log_run(result, rebuilt=changed)
        if result.new or result.updated:
            self.work.send_due(source_id)
        _call_hooks("after_run", self.after_run, result)
        return result

    def _judge(self, source_id: str, history: Sequence[RunResult]) -> None:
        """Log once when a source becomes broken and once when it recovers."""
        now = health.assess(history, threshold=self.threshold)
        with self._health_lock:
            before = self._health.get(source_id)
            self._health[source_id] = now
        if now.broken and (before is None or not before.broken):
            log.error("source %s is broken: %s", source_id, now.reason)
        elif not now.broken and before is not None and before.broken:
            log.warning("source %s recovered (was: %s)", source_id, before.reason)
        if before is None or before.broken != now.broken:
            self.metrics.source_broken(source_id, now.broken)

    def prune(self) -> None:
        """Bound what grows as the service runs (the hourly maintenance job): the run log,
        which gains a row per poll (runs older than RUN_LOG_DAYS go, each source's newest
        HISTORY stay), the shared rate rows of hosts and chats not used for PACING_KEPT
        seconds and the shared builds' tombstones older than TOMBSTONE_DAYS. Never raises."""
        now = self.app.clock()
        try:
            gone = self.app.store.prune_runs(now - timedelta(days=RUN_LOG_DAYS), keep=HISTORY)
            stale = self.app.store.prune_pacing(PACING_KEPT)
            removed = self.app.store.prune_published(now - timedelta(days=TOMBSTONE_DAYS))
        except StoreError as exc:
            self.outage.failed(exc, "the hourly pruning")
            return
        if gone:
            log.info("run log: %d run(s) older than %d days deleted", gone, RUN_LOG_DAYS)
        if stale:
            log.info("pacing: %d row(s) of hosts and chats unused for a day deleted", stale)
        if removed:
            log.info("shared builds: %d tombstone(s) of removed files older than %d days "
                     "deleted", removed, TOMBSTONE_DAYS)

    def rebuild(self, source_id: str) -> tuple[str, ...]:
        """Have the feeds that include the source rebuilt (by the engine: at once in
        process, as build jobs in a cluster); the ids of feeds already changed on return."""
        feed_ids = [feed.id for feed in self.app.config.feeds_for_source(source_id)]
        if not feed_ids:
            return ()
        return self.work.build_feeds(feed_ids)

    def build(self, feed_ids: Sequence[str]) -> tuple[str, ...]:
        """Build these feeds now (the body of a build job); the ids of those that changed."""
        from syndicator.publish import build_feeds

        try:
            with self._build_lock:
                result = build_feeds(self.app.config, self.app.store, self.app.clock(),
                                     only=list(feed_ids), workers=self.app.workers_if_made)
                if self.cache is not None and result.written:
                    self.cache.reload(result.written)
        except StoreError as exc:
            self.outage.failed(exc, f"the build of {', '.join(feed_ids)}")
            raise
        except SyndicatorError as exc:
            log.error("cannot rebuild feeds %s: %s", ", ".join(feed_ids), exc)
            return ()
        names = {path.name for path in result.written}
        changed = tuple(fid for fid in feed_ids
                        if any(name.startswith(fid + ".") for name in names))
        if changed:
            _call_hooks("after_build", self.after_build, changed)
        return changed

    def start_up(self) -> None:
        """Before the first job: every feed built, every source's health read."""
        self.build_all()
        self.prime()

    def build_all(self) -> None:
        """Build every feed (at start: the files then match the store and the config)."""
        from syndicator.publish import build_feeds

        with self._build_lock:
            build_feeds(self.app.config, self.app.store, self.app.clock(),
                        workers=self.app.workers_if_made)


def _call_hooks(kind: str, hooks: Sequence[Callable[[Any], None]], arg: object) -> None:
    for hook in list(hooks):
        try:
            hook(arg)
        except Exception:
            log.exception("%s hook %r failed", kind, hook)


# --- the command ----------------------------------------------------------------------------

HUB_DRAIN_SECONDS = 2.0


def run_service(config: Config, *, echo: Callable[[str], None],
                sock: socket.socket | None = None, http: bool = True) -> int:
    """`syndicator run` (jobs and HTTP in one process) or, with `http` False, `syndicator
    worker` (jobs only). Returns the exit code.

    `sock`: a socket the caller bound already (the demo, which links to it before it builds);
    else server.host:server.port is bound here."""
    from syndicator.jobs.engine import make_engine

    stop = StopSignals().install()
    with contextlib.ExitStack() as cleanup:
        db = sqlite_path(config.storage_url)
        if db is not None:
            cleanup.callback(StoreLock(db).acquire().release)
        if http and sock is None:
            sock = listen(config.server.host, config.server.port)
            cleanup.callback(sock.close)
        if http and config.server.workers != 1:
            log.warning("server.workers is for `syndicator serve`; `run` answers HTTP from "
                        "its one process, beside its jobs")
        app, answered = open_app(config, http=http)
        cleanup.callback(app.close)
        metrics, cache = _http_parts(config) if http else (None, None)
        if metrics is not None:
            app.fetcher.on_response = metrics.fetch_latency
        service = Service(app, cache, metrics=metrics)
        hub = hook_for(config)
        engine = make_engine(service, hub=hub)
        if hub is not None:
            # Pending pings get a short grace period; the shutdown deadline is 10 s in all.
            cleanup.callback(hub.close, HUB_DRAIN_SECONDS)
        web = (_web_app(config, app, cache, metrics, engine, service.outage)
               if cache is not None and metrics is not None else None)
        cleanup.callback(follow_builds(app, cache, watch_folder=False, outage=service.outage))

        refused: list[SchemaError] = []

        def begin() -> bool:
            """Build, read the sources' health and start the jobs once the store answers;
            False when asked to stop first, or when the store's schema is one this version
            cannot use (then the process stops)."""
            try:
                if not _until_store_answers(app, service.outage, stop, service.start_up):
                    return False
            except SchemaError as exc:
                refused.append(exc)
                stop.requested.set()
                return False
            engine.start()
            return True

        if answered or web is None:
            if not begin():
                if refused:
                    raise refused[0]
                return 0
        else:
            # The store does not answer yet: serve what feeds/ holds meanwhile (/healthz
            # says why it is unhealthy), and start the jobs when it does.
            threading.Thread(target=begin, name="start", daemon=True).start()
        enabled = sum(1 for s in config.sources if s.enabled)
        where = f"serving {address(sock)}" if sock is not None else "no HTTP"
        command = "run" if http else "worker"
        echo(f"syndicator {command}: {engine.description}; {enabled} source(s) scheduled; "
             f"{where} (pid {os.getpid()})")
        try:
            if web is not None and sock is not None:
                serve_http(web, sock, stop, config.server.limits)
            else:
                stop.requested.wait()
        finally:
            stop.mark()
            if not engine.stop(stop.remaining(STOP_DEADLINE)):
                log.warning("a source run is still in progress; exiting anyway (its transaction is "
                            "not committed and will be rolled back)")
                hard_exit(0)
    if refused:
        raise refused[0]
    return 0


STARTUP_BACKOFF_CAP = 5.0   # seconds between attempts to reach the store at start, at most


def open_app(config: Config, *, http: bool) -> tuple[App, bool]:
    """The App of `run` (`http`) or `worker`, and whether its store answered (it is
    migrated then). Its PostgreSQL pool is sized for `jobs.concurrency` jobs, and the
    HTTP side's reads with `http` (store_pool). A PostgreSQL store that does not answer yet
    is opened without touching it: `_until_store_answers` waits for it. A SQLite store that
    cannot be opened is an error at once."""
    pool = store_pool(cluster_concurrency(config.jobs.concurrency), http=http)
    try:
        return make_app(config, pool=pool), True
    except StoreError as exc:
        if isinstance(exc, SchemaError) or sqlite_path(config.storage_url) is not None:
            # Neither gets better by waiting: a local file that cannot be opened, a schema
            # this version cannot migrate (a newer version's).
            raise
    return make_app(config, store=Store(config.storage_url, migrate=False, pool=pool)), False


def _until_store_answers(app: App, outage: StoreOutage, stop: StopSignals,
                         then: Callable[[], object]) -> bool:
    """Migrate the store and run `then`, again with backoff while the store does not
    answer (one log line per outage); False when asked to stop first."""
    delay = 0.5
    while not stop.requested.is_set():
        try:
            app.store.upgrade()
            then()
        except StoreError as exc:
            if isinstance(exc, SchemaError) or sqlite_path(app.config.storage_url) is not None:
                raise
            outage.failed(exc, "the start")
        else:
            outage.answered()
            return not stop.requested.is_set()
        if stop.requested.wait(delay):
            break
        delay = min(delay * 2, STARTUP_BACKOFF_CAP)
    return False


def _http_parts(config: Config) -> tuple[PromMetrics, FeedCache]:
    from syndicator.metrics import Metrics as PromMetrics
    from syndicator.web.cache import FeedCache

    return PromMetrics(), FeedCache(config.output_path)


def _web_app(config: Config, app: App, cache: FeedCache, metrics: PromMetrics,
             engine: Engine, outage: StoreOutage) -> Any:
    """The ASGI app of `run`: the feeds from `cache`, the status from the store and the
    engine (next runs, whether it runs)."""
    from syndicator.web.app import create_web_app

    status = ServiceStatus(config, app.store, scheduler=engine, clock=app.clock,
                           targets=push_status_of(app) if config.push else None,
                           outage=outage)
    ctx = WebContext(config=config, store=app.store, cache=cache, status=status,
                     metrics=metrics, outage=outage)
    return create_web_app(ctx, extra_routes=partner_routes(ctx))
