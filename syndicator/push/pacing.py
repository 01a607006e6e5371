"""Pacing: at most N events in any window of W seconds (per chat, and overall per bot).

A sliding-window log rather than a token bucket: a bucket of 20 that refills 20 a minute
lets 40 through in the first minute, which is exactly what earns a 429 from Telegram. Pure
arithmetic on the timestamps it is given; the caller decides whether to wait or to skip.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

PER_CHAT = 20            # messages to one chat (group or channel) ...
PER_CHAT_WINDOW = 60.0   # ... per minute (Bots FAQ; also holds for channels)
OVERALL = 28             # messages per second over all chats: Telegram says ~30; 2 spare
                         # for jitter between our send time and their arrival time
OVERALL_WINDOW = 1.0
IN_FLIGHT_POLL = 0.005   # seconds between looks when only answers in flight can free a place


class SlidingWindow:
    """At most `limit` events in any `window` seconds."""

    def __init__(self, limit: int, window: float, *, seed: Iterable[float] = ()) -> None:
        self.limit = limit
        self.window = window
        self._events: deque[float] = deque(sorted(seed))

    def _forget(self, now: float) -> None:
        while self._events and self._events[0] <= now - self.window:
            self._events.popleft()

    def wait_time(self, now: float) -> float:
        """Seconds until one more event is allowed (0 when it is allowed now)."""
        self._forget(now)
        if len(self._events) < self.limit:
            return 0.0
        return self._events[len(self._events) - self.limit] + self.window - now

    def record(self, now: float) -> None:
        self._events.append(now)


class SharedWindow:
    """At most `limit` requests in any `window` seconds as the server sees them, shared by
    threads that block (sleep) until a request is allowed: the overall per-bot limit, where
    waiting a fraction of a second is the right thing.

    The server counts a request when it arrives, somewhere between our send and its answer.
    So a request holds its place from `acquire()` (in flight: it may arrive at any moment)
    until `release()`, and then for `window` seconds after its answer. Counting from the send
    alone lets jitter on the way (a thread that lost the GIL, a slow hop) put more than
    `limit` arrivals into one of the server's windows: 429s at 28 a second against 30.
    """

    def __init__(self, limit: int, window: float, *,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._window = SlidingWindow(limit, window)
        self._in_flight = 0
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._sleep = sleep

    def _wait_time(self, now: float) -> float:
        window = self._window
        window._forget(now)
        done = window._events
        used = len(done) + self._in_flight
        if used < window.limit:
            return 0.0
        expiring = used - window.limit          # index of the answer whose expiry frees a place
        if expiring < len(done):
            return max(done[expiring] + window.window - now, IN_FLIGHT_POLL)
        return IN_FLIGHT_POLL                     # only answers still to come can free one

    def acquire(self) -> None:
        """Wait for a place and take it; call release() when the request has been answered
        (or has failed), whatever happened."""
        while True:
            with self._lock:
                wait = self._wait_time(self._monotonic())
                if wait <= 0:
                    self._in_flight += 1
                    return
            self._sleep(wait)

    def release(self) -> None:
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            self._window.record(self._monotonic())


_overall: dict[str, SharedWindow] = {}
_overall_lock = threading.Lock()


def overall_window(key: str) -> SharedWindow:
    """The process-wide overall limit for one bot (key: a digest of its token)."""
    with _overall_lock:
        window = _overall.get(key)
        if window is None:
            window = _overall[key] = SharedWindow(OVERALL, OVERALL_WINDOW)
        return window
