"""`syndicator serve`: serve the existing feeds and status, in one process or several
(processes.start_process), each reloading the feed files another process rewrote.

`follow_builds` is how every serving process (`run`, `serve` and each of its workers) keeps
its feed cache current with builds made elsewhere: on a store that shares build output
(PostgreSQL) an OutputSync (outputsync.py) follows the builds of every instance; else
`serve` watches its output folder (OutputWatcher), and `run` reloads after its own builds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from starlette.routing import BaseRoute

from syndicator.app import App, make_app
from syndicator.config import Config
from syndicator.errors import SyndicatorError
from syndicator.httpserver import (
    STOP_DEADLINE,
    StopSignals,
    address,
    listen,
    serve_http,
    worker_sockets,
)
from syndicator.processes import Child, start_process, supervise
from syndicator.publish.shared import sharing
from syndicator.status import ServiceStatus
from syndicator.store.database import store_pool
from syndicator.store.outage import StoreOutage
from syndicator.web.context import WebContext

log = logging.getLogger(__name__)

WATCH_INTERVAL = 2.0         # `serve`: how often the output folder is checked for new files


class FeedFiles(Protocol):
    """What the service and the output watcher need of the web server's feed cache."""

    def reload(self, paths: Sequence[Path]) -> Any: ...


class Followed(FeedFiles, Protocol):
    """A feed cache that follow_builds fills: FeedFiles, and loading the whole folder."""

    def load_all(self) -> None: ...


def push_status_of(app: App) -> Callable[[], tuple[Any, ...]]:
    from syndicator.push.status import push_status

    return lambda: push_status(app.store, app.config)


def partner_routes(ctx: WebContext) -> list[BaseRoute]:
    """Routes for partner sites, served by both `run` and `serve`: embeds and subscribe forms."""
    from syndicator.web.embed import embed_routes
    from syndicator.web.subscribe import subscribe_routes

    return [*subscribe_routes(ctx), *embed_routes(ctx)]


def serve_only(config: Config, *, echo: Callable[[str], None]) -> int:
    """`syndicator serve`: serve the existing feeds and status; poll nothing.

    With `server.workers: N` (N > 1) N processes answer on the one port (processes.py:
    fresh interpreters, each inheriting a listening socket), each with its own store
    connection, feed cache and folder watcher."""
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
            return _serve_in_processes(config, worker_sockets(sock, workers), stop, announce)
        _serve_on(config, sock, stop, announce)
    return 0


def _serve_on(config: Config, sock: socket.socket, stop: StopSignals,
              ready: Callable[[], None] = lambda: None) -> None:
    """One `serve` process: the web app over a fresh store, cache and watcher, until stopped."""
    from syndicator.web.app import create_web_app
    from syndicator.web.cache import FeedCache

    with contextlib.ExitStack() as cleanup:
        app = make_app(config, pool=store_pool(0, http=True))
        cleanup.callback(app.close)
        cache = FeedCache(config.output_path)
        cleanup.callback(follow_builds(app, cache, watch_folder=True))
        status = ServiceStatus(config, app.store, scheduler=None, clock=app.clock,
                               targets=push_status_of(app) if config.push else None)
        ctx = WebContext(config=config, store=app.store, cache=cache, status=status)
        web = create_web_app(ctx, extra_routes=partner_routes(ctx))
        ready()
        serve_http(web, sock, stop, config.server.limits)


def follow_builds(app: App, cache: Followed | None, *, watch_folder: bool,
                  outage: StoreOutage | None = None) -> Callable[[], None]:
    """Load the output folder into `cache` and keep it current with the builds; returns
    the function that stops following. On a store that shares build output: the builds of
    every instance (OutputSync; `outage`: the process's StoreOutage, so that an outage is
    logged once), also without a cache (`worker`: its folder holds what the next build
    reads, the archive state and the other feeds' summaries for the index). Else with
    `watch_folder` (`serve`): the files a `syndicator build` beside it rewrites; without
    (`run`, whose own builds reload what they wrote): nothing more."""
    store = app.store
    if sharing(store) is not None:
        from syndicator.outputsync import FolderOnly, OutputSync

        sync = OutputSync(app.config.output_path, store,
                          cache if cache is not None else FolderOnly(),
                          outage or StoreOutage(app.config.storage_url, app.clock))
        return sync.start().stop
    if cache is None:
        return lambda: None
    cache.load_all()
    if not watch_folder:
        return lambda: None
    watcher = OutputWatcher(app.config.output_path, cache)
    watcher.start()
    return watcher.stop


def serve_process(config: Config, sock: socket.socket) -> None:
    """One of `serve`'s processes (started by processes.start_process): serve on `sock`,
    inherited from the parent, until the parent asks it to stop (SIGTERM)."""
    _serve_on(config, sock, StopSignals().install())


def _serve_in_processes(config: Config, socks: list[socket.socket], stop: StopSignals,
                        ready: Callable[[], None]) -> int:
    """Start a process serving each of `socks` and wait for them; SIGTERM/SIGINT here stops
    them all (processes.supervise). If one exits on its own the others are stopped and the
    exit code is 1: a supervisor (systemd, Docker) restarts the whole service."""
    children: list[Child] = []
    try:
        for sock in socks:
            children.append(start_process(serve_process, config, sockets=[sock]))
    except OSError as exc:
        for child in children:
            child.ask_to_stop()
        for child in children:
            child.wait(STOP_DEADLINE)
        raise SyndicatorError(f"cannot start the serve processes: {exc}") from exc
    finally:
        # The children hold their sockets; one that dies takes its socket with it, and the
        # kernel stops sending it connections.
        for sock in socks:
            sock.close()
    ready()
    return supervise(children, stop.requested, STOP_DEADLINE)


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
