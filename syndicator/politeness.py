"""Politeness and retry timing of the Fetcher (fetch.py), without any HTTP library.

* `HostGates`: what the Fetcher asks before each request: `slot(host, limit, delay)`, per
  host at most `limit` requests in flight and request starts at least `delay` seconds apart
  (see fetch.py's "Politeness model"), slots given in the order they were asked for, the
  wait bounded by the source run's deadline. Two implementations: `LocalGates` (one
  process: the SQLite default) and `ClusterGates` (every instance on one PostgreSQL
  database, through `SharedRates`, which store/rates.py implements).
* `SharedRates`: rate state every instance shares: reservations of "at most `limit` starts
  in any `window` seconds" per key, and `limit` slots per key that waiters get in turn.
  push/pacing.py paces Telegram with it too.
* `backoff`, `retry_wait`, `parse_retry_after`: how long to wait before a retry.
* `product_token`: the word of the user agent that robots.txt groups are matched with.
"""

from __future__ import annotations

import email.utils
import re
import threading
import time
from collections import deque
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


class HostGate:
    """Politeness state of one host: concurrent slots, handed out in the order they were
    asked for, and the time of the last start."""

    def __init__(self, host: str) -> None:
        self.host = host
        self._slots = threading.Condition()
        self._active = 0
        self._line: deque[object] = deque()     # the requests waiting for a slot, in order
        self._starts = threading.Lock()
        self._last_start: float | None = None

    @property
    def waiting(self) -> int:
        """How many requests are in line for a slot."""
        with self._slots:
            return len(self._line)

    @contextmanager
    def slot(self, limit: int, delay: float, sleep: Callable[[float], None],
             monotonic: Callable[[], float], deadline: float | None = None) -> Iterator[None]:
        if not self._enter(limit, monotonic, deadline):
            raise run_over(self.host, limit)
        try:
            self._space_start(delay, sleep, monotonic)
            yield
        finally:
            with self._slots:
                self._active -= 1
                self._slots.notify_all()

    def _enter(self, limit: int, monotonic: Callable[[], float],
               deadline: float | None) -> bool:
        """Take a slot (True), or give up when `deadline` passes first (False)."""
        me = object()
        with self._slots:
            self._line.append(me)
            try:
                # The limit comes with each call (sources may differ), so it is checked per
                # call; only the first in line takes a slot, so none is overtaken.
                while self._line[0] is not me or self._active >= limit:
                    left = None if deadline is None else deadline - monotonic()
                    if left is not None and left <= 0:
                        return False
                    self._slots.wait(left)
                self._active += 1
                return True
            finally:
                self._line.remove(me)
                self._slots.notify_all()      # the next in line may be the one to go now

    def _space_start(self, delay: float, sleep: Callable[[float], None],
                     monotonic: Callable[[], float]) -> None:
        # Holding the lock while sleeping queues the starts: each waits for the previous one.
        with self._starts:
            if self._last_start is not None and delay > 0:
                wait = self._last_start + delay - monotonic()
                if wait > 0:
                    sleep(wait)
            self._last_start = monotonic()


def run_over(host: str, limit: int) -> DeadlineExceeded:
    """What a request that waited for a slot until its source run's deadline raises."""
    return DeadlineExceeded("not fetched: the source run's deadline (fetch.run_deadline) "
                            f"passed while waiting for a request slot (per_host {limit})",
                            url=host)


class HostGates(Protocol):
    """Per host: at most `limit` requests in flight, starts at least `delay` seconds apart."""

    def slot(self, host: str, limit: int, delay: float, *,
             deadline: float | None = None) -> AbstractContextManager[None]:
        """Hold one of the host's `limit` slots, entered when this request may start; slots
        go to the requests in the order they asked. DeadlineExceeded if `deadline` (a
        source run's, on the gates' monotonic clock) passes before one is free."""
        ...


class LocalGates:
    """The gates of one process: a `HostGate` per host, shared by the Fetcher's threads."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._sleep = sleep
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._gates: dict[str, HostGate] = {}

    def slot(self, host: str, limit: int, delay: float, *,
             deadline: float | None = None) -> AbstractContextManager[None]:
        return self.gate(host).slot(limit, delay, self._sleep, self._monotonic, deadline)

    def gate(self, host: str) -> HostGate:
        """The host's gate (made when first asked for)."""
        with self._lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = self._gates[host] = HostGate(host)
            return gate


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

    def acquire(self, key: str, limit: int, timeout: float) -> object | None:
        """Take one of the `limit` slots of `key`, waiting in line behind every process that
        asked first, for at most `timeout` seconds: a token for `release`, or None when none
        came in time. A process that dies loses its slots and its place at once."""
        ...

    def release(self, key: str, token: object) -> None:
        """Give back the slot of `token`; never raises."""
        ...

    def close(self) -> None:
        ...


class ClusterGates:
    """The gates of every instance on one database: the process's own `LocalGates` first
    (its threads line up there without asking the database), then one of the host's `limit`
    shared slots (`SharedRates.acquire`: in line with every other instance's requests, for
    at most `SLOT_WAIT_MAX` seconds or until the caller's deadline), then a start reserved
    `delay` after the previous one of any instance, on the database's clock."""

    def __init__(self, rates: SharedRates, sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._rates = rates
        self._local = LocalGates(sleep, monotonic)
        self._sleep = sleep
        self._monotonic = monotonic

    @contextmanager
    def slot(self, host: str, limit: int, delay: float, *,
             deadline: float | None = None) -> Iterator[None]:
        key = "host:" + host
        with self._local.slot(host, limit, 0.0, deadline=deadline):
            give_up = self._monotonic() + SLOT_WAIT_MAX
            by_run = deadline is not None and deadline < give_up
            if deadline is not None:
                give_up = min(give_up, deadline)
            # A deadline already past still takes a slot free at once (the Fetcher then
            # says the run's deadline has passed, as with the local gates).
            token = self._rates.acquire(key, limit, max(0.0, give_up - self._monotonic()))
            if token is None:
                if by_run:
                    raise run_over(host, limit)
                raise DeadlineExceeded(f"no request slot free within {SLOT_WAIT_MAX:.0f} s "
                                       f"(per_host {limit}, shared by every instance)",
                                       url=host)
            try:
                if delay > 0:
                    wait = self._rates.reserve(key, 1, delay).wait
                    if wait > 0:
                        self._sleep(wait)
                yield
            finally:
                self._rates.release(key, token)


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
