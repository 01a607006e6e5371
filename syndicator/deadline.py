"""Overall deadlines for blocking socket I/O.

A socket timeout bounds one read, not a whole answer: a server that drips one byte every few
seconds keeps every read under it forever. Here a deadline is watched by one shared thread;
when it passes, the socket the request is using is shut down, which ends the blocked read
at once (the reader sees the connection end, and `Deadline.expired` tells it why).

The request runs in one thread, and the code that opens or reuses its connection (fetch.py's
connection classes) finds the deadline through `current()`: `watch()` sets it for the block.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time


class Deadline:
    """One request's deadline (on the time.monotonic clock) and the socket it reads from.

    Its state changes under the watchdog's lock only (`attach`, the watchdog's firing and
    the end of the block)."""

    __slots__ = ("done", "expired", "seconds", "sock", "when")

    def __init__(self, when: float, seconds: float) -> None:
        self.when = when
        self.seconds = seconds          # how long the request was given (for messages)
        self.expired = False
        self.done = False
        self.sock: socket.socket | None = None

    def attach(self, sock: socket.socket | None) -> None:
        """The request now reads from `sock`; shut it at once if the deadline has passed."""
        if sock is not None:
            _WATCHDOG.attach(self, sock)


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for an SSLSocket (whose own shutdown would drop its
    # TLS state under the reading thread's feet): the blocked read returns, the TLS layer
    # then sees the end of the connection.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread that fires deadlines in order; started on first use. A request
    costs a heap push and three short holds of one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._finished = 0              # finished deadlines still in the heap

    def add(self, deadline: Deadline) -> None:
        with self._lock:
            heapq.heappush(self._heap, (deadline.when, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="fetch-deadlines",
                                                daemon=True)
                self._thread.start()
            elif self._heap[0][2] is deadline:
                self._cond.notify()

    def attach(self, deadline: Deadline, sock: socket.socket) -> None:
        with self._lock:
            if deadline.done:
                return
            deadline.sock = sock
            if deadline.expired:
                _shut(sock)

    def finish(self, deadline: Deadline) -> None:
        """The block ended. Finished entries are dropped once they are half the heap, so a
        high request rate does not keep a minute's worth of them."""
        with self._lock:
            deadline.done = True
            deadline.sock = None
            self._finished += 1
            if self._finished > 64 and self._finished * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].done]
                heapq.heapify(self._heap)
                self._finished = 0

    def _loop(self) -> None:
        with self._lock:
            while True:
                if not self._heap:
                    self._cond.wait()
                    continue
                when, _order, deadline = self._heap[0]
                wait = when - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                if deadline.done:
                    self._finished = max(0, self._finished - 1)
                    continue
                deadline.expired = True
                if deadline.sock is not None:
                    _shut(deadline.sock)


_WATCHDOG = _Watchdog()
_CURRENT = threading.local()


class watch:
    """Watch the socket I/O of this thread's block: at `when` (time.monotonic) the socket in
    use is shut down. A finished block's deadline no longer acts.

    A class rather than a generator context manager: it runs once per request."""

    __slots__ = ("_deadline", "_previous")

    def __init__(self, when: float, seconds: float) -> None:
        self._deadline = Deadline(when, seconds)
        self._previous: Deadline | None = None

    def __enter__(self) -> Deadline:
        _WATCHDOG.add(self._deadline)
        self._previous = getattr(_CURRENT, "deadline", None)
        _CURRENT.deadline = self._deadline
        return self._deadline

    def __exit__(self, *exc: object) -> None:
        _CURRENT.deadline = self._previous
        _WATCHDOG.finish(self._deadline)


def current() -> Deadline | None:
    """The deadline of the request this thread is making, if any."""
    found: Deadline | None = getattr(_CURRENT, "deadline", None)
    return found
