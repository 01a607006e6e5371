"""Politeness and retry timing of the Fetcher (fetch.py), without any HTTP library.

* `HostGate`: per host, at most `limit` requests in flight and request starts at least
  `delay` seconds apart (see fetch.py's "Politeness model").
* `backoff`, `retry_wait`, `parse_retry_after`: how long to wait before a retry.
* `product_token`: the word of the user agent that robots.txt groups are matched with.
"""

from __future__ import annotations

import email.utils
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

BACKOFF_BASE = 0.5            # seconds before the first retry; doubles with every retry
BACKOFF_MAX = 8.0
RETRY_AFTER_MAX = 30.0        # a server's Retry-After is honoured up to this many seconds


class HostGate:
    """Politeness state of one host: concurrent slots and the time of the last start."""

    def __init__(self) -> None:
        self._slots = threading.Condition()
        self._active = 0
        self._starts = threading.Lock()
        self._last_start: float | None = None

    @contextmanager
    def slot(self, limit: int, delay: float, sleep: Callable[[float], None],
             monotonic: Callable[[], float]) -> Iterator[None]:
        with self._slots:
            # The limit comes with each call (sources may differ), so it is checked per call.
            while self._active >= limit:
                self._slots.wait()
            self._active += 1
        try:
            self._space_start(delay, sleep, monotonic)
            yield
        finally:
            with self._slots:
                self._active -= 1
                self._slots.notify_all()

    def _space_start(self, delay: float, sleep: Callable[[float], None],
                     monotonic: Callable[[], float]) -> None:
        # Holding the lock while sleeping queues the starts: each waits for the previous one.
        with self._starts:
            if self._last_start is not None and delay > 0:
                wait = self._last_start + delay - monotonic()
                if wait > 0:
                    sleep(wait)
            self._last_start = monotonic()


def retry_status(status: int) -> bool:
    return status == 429 or (status >= 500 and status not in (501, 505))


def backoff(attempt: int) -> float:
    return min(BACKOFF_BASE * 2.0**attempt, BACKOFF_MAX)


def retry_wait(attempt: int, retry_after: str | None) -> float:
    """Seconds to wait before the next attempt: Retry-After (capped) or the backoff."""
    seconds = parse_retry_after(retry_after) if retry_after else None
    if seconds is None:
        return backoff(attempt)
    return min(seconds, RETRY_AFTER_MAX)


def parse_retry_after(value: str) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None if unreadable."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def product_token(user_agent: str) -> str:
    """`Syndicator/0.1 (+https://…)` → `Syndicator`: what robots.txt groups are matched with."""
    token = re.split(r"[/\s]", user_agent.strip(), maxsplit=1)[0]
    return token or user_agent
