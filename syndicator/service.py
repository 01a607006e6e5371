"""The long-running service: `syndicator run` (scheduler + HTTP) and `syndicator serve` (HTTP).

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

The only uvicorn user. A `run` on a SQLite store holds an exclusive lock on `<db>.lock` for
its lifetime, so a second `run` on the same file refuses to start.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

import uvicorn
from starlette.routing import BaseRoute

from syndicator import health
from syndicator.app import App, make_app
from syndicator.config import Config, ServerLimits
from syndicator.errors import StoreError, SyndicatorError
from syndicator.model import RunResult
from syndicator.status import HISTORY, ServiceStatus
from syndicator.store.outage import StoreOutage
from syndicator.web.context import WebContext
from syndicator.websub import hook_for

log = logging.getLogger(__name__)

STOP_DEADLINE = 8.0          # seconds from the signal until the process exits regardless
GRACEFUL_HTTP = 3.0          # of those, at most this long for open HTTP requests
WATCH_INTERVAL = 2.0         # `serve`: how often the output folder is checked for new files
BACKLOG = 2048               # pending connections (the kernel caps it at net.core.somaxconn)

AfterBuild = Callable[[tuple[str, ...]], None]
AfterRun = Callable[[RunResult], None]


class FeedFiles(Protocol):
    """What the service needs of the web server's feed cache."""

    def reload(self, paths: Sequence[Path]) -> Any: ...


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

        app = self.app
        source = app.config.source(source_id)
        interval = source.schedule.interval_seconds
        history = app.store.runs(source_id, limit=HISTORY)
        until = health.backoff_until(history, interval)
        if health.backoff_skips(app.clock(), until, interval, source.schedule.jitter):
            log.info("source %s: backing off after %d failed runs, next try after %s",
                     source_id, health.consecutive_failures(history),
                     until.isoformat() if until else "-")
            return None
        result = run_source(app, source)
        log.info("source %s: %s: %d page(s), %d not modified, %d item(s) seen, %d new, "
                 "%d updated", source_id, "ok" if result.ok else "FAILED", result.pages,
                 result.not_modified, result.items_seen, result.new, result.updated)
        self.metrics.source_run(source_id, result.ok,
                           (result.finished - result.started).total_seconds(),
                           result.new, result.updated)
        self._judge(source_id, [result, *history])
        changed: tuple[str, ...] = ()
        if result.new or result.updated:
            changed = self.rebuild(source_id)
            self.metrics.items_stored(source_id, app.store.count_items([source_id]))
        if changed:
            _call_hooks("after_build", self.after_build, changed)
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

    def rebuild(self, source_id: str) -> tuple[str, ...]:
        """Rebuild the feeds that include the source; returns the ids of feeds that changed."""
        from syndicator.publish import build_feeds

        feed_ids = [feed.id for feed in self.app.config.feeds_for_source(source_id)]
        if not feed_ids:
            return ()
        try:
            with self._build_lock:
                result = build_feeds(self.app.config, self.app.store, self.app.clock(),
                                     only=feed_ids, workers=self.app.workers_if_made)
                if self.cache is not None and result.written:
                    self.cache.reload(result.written)
        except SyndicatorError as exc:
            log.error("source %s: cannot rebuild feeds %s: %s", source_id,
                      ", ".join(feed_ids), exc)
            return ()
        names = {path.name for path in result.written}
        return tuple(fid for fid in feed_ids
                     if any(name.startswith(fid + ".") for name in names))

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


# --- the store lock --------------------------------------------------------------------------

_SQLITE_URL = re.compile(r"^sqlite(?:\+\w+)?:///(?P<path>[^?]*)")


def sqlite_path(storage_url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and in-memory ones."""
    match = _SQLITE_URL.match(storage_url)
    if not match:
        return None
    path = match.group("path")
    if path in ("", ":memory:") or path.startswith("file:"):
        return None
    return Path(path)


class StoreLock:
    """An exclusive flock on `<db>.lock`, held while the process lives (released by the OS
    however the process ends, so a crash never leaves a stale lock)."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.path = db.with_name(db.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> StoreLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot create the lock file {self.path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise StoreError(f"another syndicator run is using {self.db} (pid {holder})") \
                from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)   # closing drops the flock; the file stays (no unlink race)
            self._fd = None


# --- signals and the HTTP server -------------------------------------------------------------

class StopSignals:
    """SIGTERM/SIGINT handlers that only note the request.

    Installed before anything starts (a signal during start-up stops us cleanly) and
    restored by uvicorn after it ran, when it re-raises the signal it caught: the re-raise
    then lands here instead of killing the process.
    """

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.at: float | None = None
        self.server: uvicorn.Server | None = None

    def install(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.mark()
        self.requested.set()
        if self.server is not None:
            self.server.should_exit = True

    def mark(self) -> None:
        """Start the stop clock (at the first signal, or when the server ended otherwise)."""
        if self.at is None:
            self.at = time.monotonic()

    def remaining(self, total: float) -> float:
        start = self.at if self.at is not None else time.monotonic()
        return max(0.0, total - (time.monotonic() - start))


def listen(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """Bind the listening socket ourselves, so port 0 works and the real port is known.
    `reuse_port`: SO_REUSEPORT, one of a group of sockets on the same port (see
    `worker_sockets`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise SyndicatorError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def http_protocol(limits: ServerLimits) -> Any:
    """uvicorn's httptools protocol with the feed fast path and the request head limits
    (syndicator.web.protocol), or uvicorn's own choice when httptools is missing or that
    module cannot load (it builds on uvicorn internals): then feeds still take the ASGI fast
    path in WebApp, and only h11 bounds a head."""
    try:
        from syndicator.web.protocol import FeedHttpProtocol
    except ImportError as exc:
        log.warning("serving without the HTTP-level feed fast path: %s", exc)
        return "auto"
    return FeedHttpProtocol.with_limits(limits)


def serve_http(asgi: Any, sock: socket.socket, stop: StopSignals,
               limits: ServerLimits) -> None:
    """Serve until SIGTERM/SIGINT. Blocks the calling (main) thread."""
    host, port = sock.getsockname()[:2]
    # loop "auto" is uvloop when installed (a dependency, except on Windows). The access
    # log is off unless debugging: one log record per feed poll costs more than the answer.
    config = uvicorn.Config(asgi, host=host, port=port, log_config=None, lifespan="auto",
                            http=http_protocol(limits), loop="auto", backlog=BACKLOG,
                            server_header=False, timeout_graceful_shutdown=int(GRACEFUL_HTTP),
                            access_log=log.isEnabledFor(logging.DEBUG),
                            # uvicorn's parameter is typed int; the loop takes any float
                            timeout_keep_alive=limits.idle_timeout,  # type: ignore[arg-type]
                            h11_max_incomplete_event_size=limits.header_bytes)
    server = uvicorn.Server(config)
    stop.server = server
    if stop.requested.is_set():
        return
    server.run(sockets=[sock])


def address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


# --- the commands --------------------------------------------------------------------------

HUB_DRAIN_SECONDS = 2.0
def _push_status_of(app: App) -> Callable[[], tuple[Any, ...]]:
    from syndicator.push.status import push_status

    return lambda: push_status(app.store, app.config)


def partner_routes(ctx: WebContext) -> list[BaseRoute]:
    """Routes for partner sites, served by both `run` and `serve`: embeds and subscribe forms."""
    from syndicator.web.embed import embed_routes
    from syndicator.web.subscribe import subscribe_routes

    return [*subscribe_routes(ctx), *embed_routes(ctx)]


def run_service(config: Config, *, echo: Callable[[str], None]) -> int:
    """`syndicator run`: schedule every enabled source and serve HTTP. Returns the exit code."""
    from syndicator.metrics import Metrics
    from syndicator.scheduler import SourceScheduler
    from syndicator.web.app import create_web_app
    from syndicator.web.cache import FeedCache

    stop = StopSignals().install()
    with contextlib.ExitStack() as cleanup:
        db = sqlite_path(config.storage_url)
        if db is not None:
            cleanup.callback(StoreLock(db).acquire().release)
        sock = listen(config.server.host, config.server.port)
        cleanup.callback(sock.close)
        if config.server.workers != 1:
            log.warning("server.workers is for `syndicator serve`; `run` answers HTTP from "
                        "its one process, beside its scheduler")
        enabled = [s for s in config.sources if s.enabled]
        app = make_app(config)
        cleanup.callback(app.close)
        cache = FeedCache(config.output_path)
        metrics = Metrics()
        app.fetcher.on_response = metrics.fetch_latency
        service = Service(app, cache, metrics=metrics)
        scheduler = SourceScheduler(config.timezone, workers=min(8, max(1, len(enabled))))
        status = ServiceStatus(config, app.store, scheduler=scheduler, clock=app.clock,
                               targets=_push_status_of(app) if config.push else None)
        hub = hook_for(config)
        if hub is not None:
            service.after_build.append(hub)
            # Pending pings get a short grace period; the shutdown deadline is 10 s in all.
            cleanup.callback(hub.close, HUB_DRAIN_SECONDS)
        service.build_all()
        cache.load_all()
        service.prime()
        ctx = WebContext(config=config, store=app.store, cache=cache, status=status,
                         metrics=metrics)
        web = create_web_app(ctx, extra_routes=partner_routes(ctx))
        for source in enabled:
            scheduler.add(source.id, source.schedule, functools.partial(service.poll, source.id))
        if config.push:
            from syndicator.pushjobs import schedule_push

            schedule_push(scheduler, app, outage=service.outage, after_run=service.after_run)
        scheduler.start()
        echo(f"syndicator run: {len(enabled)} source(s) scheduled; serving {address(sock)} "
             f"(pid {os.getpid()})")
        try:
            serve_http(web, sock, stop, config.server.limits)
        finally:
            stop.mark()
            service.stop()
            scheduler.shutdown(wait=False)
            if not service.wait_idle(stop.remaining(STOP_DEADLINE)):
                log.warning("a source run is still in progress; exiting anyway (its "
                            "transaction is not committed and will be rolled back)")
                _hard_exit(0)
    return 0


def serve_only(config: Config, *, echo: Callable[[str], None]) -> int:
    """`syndicator serve`: serve the existing feeds and status; poll nothing.

    With `server.workers: N` (N > 1) N forked processes answer on the one listening socket,
    each with its own store connection, feed cache and folder watcher."""
    stop = StopSignals().install()
    with contextlib.ExitStack() as cleanup:
        sock = listen(config.server.host, config.server.port)
        cleanup.callback(sock.close)
        workers = config.server.processes()
        serving = address(sock)

        def announce() -> None:
            echo(f"syndicator serve: serving {serving} from {config.output_path} "
                 f"(pid {os.getpid()}{f', {workers} workers' if workers > 1 else ''})")

        if workers > 1:
            return _prefork(config, worker_sockets(sock, workers), stop, announce)
        _serve_on(config, sock, stop, announce)
    return 0


def worker_sockets(sock: socket.socket, workers: int) -> list[socket.socket]:
    """One listening socket per worker on `sock`'s address, with SO_REUSEPORT, so that the
    kernel spreads new connections evenly over the workers. On one shared socket the worker
    that wakes first accepts all it finds: 64 connections opened at once were split 50 / 14
    between two workers, and the busier one set the latency.

    `sock` (a plain socket) is closed before the group binds: a socket on the port without
    SO_REUSEPORT keeps a group out. Its bind has already told that the port was free, and a
    second instance still fails there, since the group keeps plain sockets out in turn.
    Without SO_REUSEPORT (not Linux or BSD), every worker shares `sock`."""
    if not hasattr(socket, "SO_REUSEPORT"):
        return [sock] * workers
    host, port = sock.getsockname()[:2]
    sock.close()
    group: list[socket.socket] = []
    try:
        for _ in range(workers):
            group.append(listen(host, port, reuse_port=True))
    except BaseException:
        for member in group:
            member.close()
        raise
    return group


def _serve_on(config: Config, sock: socket.socket, stop: StopSignals,
              ready: Callable[[], None] = lambda: None) -> None:
    """One `serve` process: the web app over a fresh store, cache and watcher, until stopped."""
    from syndicator.web.app import create_web_app
    from syndicator.web.cache import FeedCache

    with contextlib.ExitStack() as cleanup:
        app = make_app(config)
        cleanup.callback(app.close)
        cache = FeedCache(config.output_path)
        cache.load_all()
        status = ServiceStatus(config, app.store, scheduler=None, clock=app.clock,
                               targets=_push_status_of(app) if config.push else None)
        ctx = WebContext(config=config, store=app.store, cache=cache, status=status)
        web = create_web_app(ctx, extra_routes=partner_routes(ctx))
        watcher = OutputWatcher(config.output_path, cache)
        watcher.start()
        cleanup.callback(watcher.stop)
        ready()
        serve_http(web, sock, stop, config.server.limits)


def _prefork(config: Config, socks: list[socket.socket], stop: StopSignals,
             ready: Callable[[], None]) -> int:
    """Fork a process serving each of `socks`, forward SIGTERM/SIGINT to them, wait for all.

    Forked before this process opened anything but the socket (no threads, no database
    connection to share). If a worker dies on its own the others are stopped and the exit
    code is 1: a supervisor (systemd, Docker) restarts the whole service.
    """
    children: set[int] = set()
    for sock in socks:
        pid = os.fork()
        if pid == 0:                       # the worker: never returns into the CLI
            code = 1
            try:
                for other in socks:        # the other workers' (or the one shared socket)
                    if other is not sock:
                        other.close()
                _serve_on(config, sock, StopSignals().install())
                code = 0
            except BaseException:
                log.exception("serve worker %d failed", os.getpid())
            finally:
                _hard_exit(code)
        children.add(pid)
    ready()
    # The workers hold their sockets; a worker that dies takes its socket with it, and the
    # kernel stops sending it connections.
    for sock in socks:
        sock.close()
    code = 0
    signalled_at: float | None = None
    while children:
        if stop.requested.is_set() and signalled_at is None:
            signalled_at = time.monotonic()
            _signal_all(children, signal.SIGTERM)
        if signalled_at is not None and time.monotonic() - signalled_at > STOP_DEADLINE:
            _signal_all(children, signal.SIGKILL)
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:               # none exited: wait for a signal, or poll while stopping
            if stop.requested.is_set():
                time.sleep(0.05)
            else:
                stop.requested.wait(0.2)
            continue
        children.discard(pid)
        if not stop.requested.is_set():
            log.error("serve worker %d exited unexpectedly (status %d); stopping", pid, status)
            code = 1
            stop.requested.set()
    return code


def _signal_all(pids: set[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


class OutputWatcher:
    """`serve`: reload feed files another process (`syndicator build`) rewrote."""

    def __init__(self, folder: Path, cache: FeedFiles, interval: float = WATCH_INTERVAL) -> None:
        self._folder = folder
        self._cache = cache
        self._interval = interval
        self._stop = threading.Event()
        self._seen = self._scan()
        self._thread = threading.Thread(target=self._loop, name="output-watcher", daemon=True)

    def _scan(self) -> dict[Path, int]:
        try:
            return {p: p.stat().st_mtime_ns for p in self._folder.iterdir()
                    if p.is_file() and not p.name.startswith(".")}
        except OSError:
            return {}

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            now = self._scan()
            changed = [p for p, mtime in now.items() if self._seen.get(p) != mtime]
            self._seen = now
            if changed:
                try:
                    self._cache.reload(changed)
                except Exception:
                    log.exception("cannot reload %d changed file(s)", len(changed))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()


def _hard_exit(code: int) -> None:
    """Exit now, without waiting for worker threads (a run past the stop deadline)."""
    logging.shutdown()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)
