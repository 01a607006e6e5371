"""Politeness and retry timing of the Fetcher (fetch.py), without any HTTP library.

* `HostGates`: what the Fetcher asks before each request: `slot(host, limit, delay)`, per
  host at most `limit` requests in flight and request starts at least `delay` seconds apart
  (see fetch.py's "Politeness model"). Two implementations: `LocalGates` (one process: the
  SQLite default) and `ClusterGates` (every instance on one PostgreSQL database, through
  `SharedRates`, which store/rates.py implements).
* `SharedRates`: rate state every instance shares: reservations of "at most `limit` starts
  in any `window` seconds" per key, and `limit` lockable slots per key. push/pacing.py
  paces Telegram with it too.
* `backoff`, `retry_wait`, `parse_retry_after`: how long to wait before a retry.
* `product_token`: the word of the user agent that robots.txt groups are matched with.
"""

from __future__ import annotations

import email.utils
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from syndicator.errors import DeadlineExceeded

BACKOFF_BASE = 0.5            # seconds before the first retry; doubles with every retry
BACKOFF_MAX = 8.0
RETRY_AFTER_MAX = 30.0        # a server's Retry-After is honoured up to this many seconds
SLOT_WAIT_MAX = 300.0         # seconds a request waits for a host's shared slot at most
SLOT_POLL_FIRST = 0.01        # seconds between looks for a free shared slot: doubling from
SLOT_POLL_MAX = 0.25          # this, up to this


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


class HostGates(Protocol):
    """Per host: at most `limit` requests in flight, starts at least `delay` seconds apart."""

    def slot(self, host: str, limit: int, delay: float) -> AbstractContextManager[None]:
        """Hold one of the host's `limit` slots, entered when this request may start."""
        ...


class LocalGates:
    """The gates of one process: a `HostGate` per host, shared by the Fetcher's threads."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._sleep = sleep
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._gates: dict[str, HostGate] = {}

    def slot(self, host: str, limit: int, delay: float) -> AbstractContextManager[None]:
        with self._lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = self._gates[host] = HostGate()
        return gate.slot(limit, delay, self._sleep, self._monotonic)


@dataclass(frozen=True)
class Reservation:
    """A start asked of `SharedRates.reserve`: `taken` (the start is ours, `wait` seconds from
    now), or not (it would have been `wait` seconds from now, more than the caller allowed)."""

    taken: bool
    wait: float


class SharedRates(Protocol):
    """Rate state shared by every instance (store/rates.py keeps it in PostgreSQL, on its
    clock). Keys are short names (`host:…`, `bot:…`, `chat:…`); never a secret."""

    def reserve(self, key: str, limit: int, window: float, *,
                max_wait: float | None = None) -> Reservation:
        """Take the earliest start that keeps `key` at `limit` starts in any `window`
        seconds, unless it is more than `max_wait` seconds away (None: whatever it is)."""
        ...

    def wait_time(self, key: str, limit: int, window: float) -> float:
        """Seconds until `reserve` would give a start now (0: now); nothing taken."""
        ...

    def try_lock(self, key: str, slot: int) -> object | None:
        """Take slot number `slot` of `key` if no process holds it: a token for `unlock`,
        or None. A process that dies loses its slots at once."""
        ...

    def unlock(self, key: str, slot: int, token: object) -> None:
        ...

    def close(self) -> None:
        ...


class ClusterGates:
    """The gates of every instance on one database: the process's own `LocalGates` first
    (its threads queue there without asking the database), then one of the host's `limit`
    shared slots (`SharedRates.try_lock`, looked for again with a growing pause, for at most
    `SLOT_WAIT_MAX` seconds), then a start reserved `delay` after the previous one of any
    instance, on the database's clock."""

    def __init__(self, rates: SharedRates, sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._rates = rates
        self._local = LocalGates(sleep, monotonic)
        self._sleep = sleep
        self._monotonic = monotonic

    @contextmanager
    def slot(self, host: str, limit: int, delay: float) -> Iterator[None]:
        key = "host:" + host
        with self._local.slot(host, limit, 0.0):
            slot, token = self._take(key, host, limit)
            try:
                if delay > 0:
                    wait = self._rates.reserve(key, 1, delay).wait
                    if wait > 0:
                        self._sleep(wait)
                yield
            finally:
                self._rates.unlock(key, slot, token)

    def _take(self, key: str, host: str, limit: int) -> tuple[int, object]:
        # Each request starts looking at a slot of its own, so that they do not all try the
        # same busy one first.
        first = random.randrange(limit) if limit > 1 else 0
        give_up = self._monotonic() + SLOT_WAIT_MAX
        pause = SLOT_POLL_FIRST
        while True:
            for step in range(limit):
                slot = (first + step) % limit
                token = self._rates.try_lock(key, slot)
                if token is not None:
                    return slot, token
            if self._monotonic() >= give_up:
                raise DeadlineExceeded(f"no request slot free within {SLOT_WAIT_MAX:.0f} s "
                                       f"(per_host {limit}, shared by every instance)",
                                       url=host)
            self._sleep(pause)
            pause = min(pause * 2, SLOT_POLL_MAX)


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
