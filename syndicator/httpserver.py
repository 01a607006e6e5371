"""The HTTP server: the listening sockets, uvicorn (its only user) and the stop signals.

Stopping (SIGTERM/SIGINT): uvicorn stops accepting and finishes open requests (at most
GRACEFUL_HTTP seconds); the process exits STOP_DEADLINE seconds after the signal regardless.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from types import FrameType
from typing import Any

import uvicorn

from syndicator.config import ServerLimits
from syndicator.errors import SyndicatorError

log = logging.getLogger(__name__)

STOP_DEADLINE = 8.0          # seconds from the signal until the process exits regardless
GRACEFUL_HTTP = 3.0          # of those, at most this long for open HTTP requests
BACKLOG = 2048               # pending connections (the kernel caps it at net.core.somaxconn)


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


def worker_sockets(sock: socket.socket, workers: int) -> list[socket.socket]:
    """One listening socket per worker on `sock`'s address, with SO_REUSEPORT, so that the
    kernel spreads new connections evenly over the workers. On one shared socket the worker
    that wakes first accepts all it finds, so a burst of connections lands mostly on one
    worker, and the busier one sets the latency.

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
