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
OVERALL = 25             # messages per second over all chats (Telegram says ~30)
OVERALL_WINDOW = 1.0


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
    """A SlidingWindow shared by threads that blocks (sleeps) until an event is allowed:
    the overall per-bot limit, where waiting a fraction of a second is the right thing."""

    def __init__(self, limit: int, window: float, *,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._window = SlidingWindow(limit, window)
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._sleep = sleep

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._monotonic()
                wait = self._window.wait_time(now)
                if wait <= 0:
                    self._window.record(now)
                    return
            self._sleep(wait)


_overall: dict[str, SharedWindow] = {}
_overall_lock = threading.Lock()


def overall_window(key: str) -> SharedWindow:
    """The process-wide overall limit for one bot (key: a digest of its token)."""
    with _overall_lock:
        window = _overall.get(key)
        if window is None:
            window = _overall[key] = SharedWindow(OVERALL, OVERALL_WINDOW)
        return window
