"""Pacing: at most N events in any window of W seconds (per chat, and overall per bot).

A sliding-window log rather than a token bucket: a bucket of 20 that refills 20 a minute
lets 40 through in the first minute, which is exactly what earns a 429 from Telegram.

`ChatPace` is what a Telegram job asks before each message, in two implementations chosen
by `chat_pace` from `App.rates`:

* `LocalPace` (one process, the SQLite default): the chat's `SlidingWindow`, seeded with the
  target's recent claims from the store, and the process-wide `SharedWindow` of the bot.
* `ClusterPace` (every instance on one PostgreSQL database): both limits as reservations in
  the shared rate state (store/rates.py, `politeness.SharedRates`), on the database's clock,
  so that instances sending to one chat, at once or in turn, stay within them together.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Protocol

from syndicator.politeness import SharedRates

PER_CHAT = 20            # messages to one chat (group or channel) ...
PER_CHAT_WINDOW = 60.0   # ... per minute (Bots FAQ; also holds for channels)
OVERALL = 28             # messages per second over all chats: Telegram says ~30; 2 spare
                         # for jitter between our send time and their arrival time
OVERALL_WINDOW = 1.0
CLUSTER_OVERALL = 25     # per bot and second over all instances, one every 1/25 s: their
                         # starts are reserved, not counted while in flight, and a burst of
                         # 25 slowed on the way would reach Telegram with the next one
CHAT_SLACK = 0.5         # seconds added to a chat's window in the shared state: a start is
                         # reserved just before its request leaves, not when it arrives
IN_FLIGHT_POLL = 0.005   # seconds between looks when only answers in flight can free a place
BOT_WAIT_MAX = 1.0       # seconds a message waits for the bot's shared start at most (within
                         # the claim's slack, push/job.py); later, its delivery is given back


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


class ChatPace(Protocol):
    """The pace of one chat of one bot, for the job sending to it."""

    def ready(self) -> float:
        """Seconds until the chat may get another message (0: now); nothing taken."""
        ...

    def take(self) -> float:
        """0: one message may go now (call `done()` once it is answered or has failed);
        else the seconds until the chat may get one, and nothing is taken."""
        ...

    def done(self) -> None:
        ...


class LocalPace:
    """One process's pace: the chat's window (seeded by the caller) and the bot's
    process-wide overall window (`overall_window`)."""

    def __init__(self, window: SlidingWindow, overall: SharedWindow,
                 now: Callable[[], float]) -> None:
        self.window = window
        self.overall = overall
        self._now = now

    def ready(self) -> float:
        return self.window.wait_time(self._now())

    def take(self) -> float:
        now = self._now()
        wait = self.window.wait_time(now)
        if wait > 0:
            return wait
        self.overall.acquire()
        self.window.record(now)
        return 0.0

    def done(self) -> None:
        self.overall.release()


class ClusterPace:
    """The pace every instance shares: the bot's start first (evenly spaced; slept for when
    it is at most `BOT_WAIT_MAX` away, else the message waits for a later job), then the
    chat's, taken only when it is free now, so that the chat's start is recorded when its
    request leaves."""

    def __init__(self, rates: SharedRates, bot_key: str, chat_key: str, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._rates = rates
        self._bot = "bot:" + bot_key
        self._chat = "chat:" + chat_key
        self._sleep = sleep

    def ready(self) -> float:
        return self._rates.wait_time(self._chat, PER_CHAT, PER_CHAT_WINDOW + CHAT_SLACK)

    def take(self) -> float:
        # The job asked `ready()` before claiming the delivery; a bot start taken for a chat
        # that filled up since is only a place left unused.
        bot = self._rates.reserve(self._bot, 1, OVERALL_WINDOW / CLUSTER_OVERALL,
                                  max_wait=BOT_WAIT_MAX)
        if not bot.taken:
            return bot.wait       # many instances sending at once: not worth a claim's lease
        if bot.wait > 0:
            self._sleep(bot.wait)
        chat = self._rates.reserve(self._chat, PER_CHAT, PER_CHAT_WINDOW + CHAT_SLACK,
                                   max_wait=0.0)
        return 0.0 if chat.taken else max(chat.wait, IN_FLIGHT_POLL)

    def done(self) -> None:
        """Nothing to give back: a reservation is a start, already past."""


def chat_pace(rates: SharedRates | None, bot_key: str, chat_key: str, *,
              recent: Callable[[], Iterable[float]], now: Callable[[], float]) -> ChatPace:
    """The chat's pace: shared by every instance when there is shared rate state, else this
    process's, its window seeded with `recent()` (the target's recent sends)."""
    if rates is not None:
        return ClusterPace(rates, bot_key, chat_key)
    window = SlidingWindow(PER_CHAT, PER_CHAT_WINDOW, seed=recent())
    return LocalPace(window, overall_window(bot_key), now)
