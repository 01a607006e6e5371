"""A store that stopped answering, logged as one clear line instead of a traceback per job.

    describe_store(url)    "postgresql database 'news'": which store, without user, host or
                           password (the line may be copied into a ticket or a status page)
    outage_reason(exc)     "connection refused", "authentication failed", ...: the kind of
                           failure, not the driver's message (that names host and port)
    StoreOutage            logs the first failure, then at most once every `every` seconds
                           while it lasts, and once when the store answers again
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from syndicator.errors import StoreError

log = logging.getLogger("syndicator.store")

REPEAT_EVERY = 300.0     # seconds between reminders while the store stays down

# Phrases of PostgreSQL / SQLite / driver messages → what they mean, first match wins.
_REASONS = (
    ("refused", "connection refused"),
    ("timeout", "connection timed out"),
    ("timed out", "connection timed out"),
    ("authentication failed", "authentication failed"),
    ("password", "authentication failed"),
    ("could not translate host name", "host name not found"),
    ("name or service not known", "host name not found"),
    ("does not exist", "the database does not exist"),
    ("too many", "too many connections"),
    ("shutting down", "the server is shutting down"),
    ("starting up", "the server is starting up"),
    ("closed the connection", "the connection was closed"),
    ("couldn't get a connection", "no connection within the pool's timeout"),
    ("database is locked", "the database is locked"),
    ("unable to open", "the database file cannot be opened"),
    ("database or disk is full", "the disk is full"),
    ("disk i/o", "disk I/O error"),
    ("malformed", "the database file is damaged"),
    ("read-only", "the database is read-only"),
)


def describe_store(url: str) -> str:
    """The store's kind and database name: no user, password, host or port."""
    try:
        parsed = make_url(url)
    except SQLAlchemyError:
        return "the store"
    backend = parsed.get_backend_name()
    name = (parsed.database or "").rsplit("/", 1)[-1]
    return f"{backend} database {name!r}" if name else f"{backend} database"


def outage_reason(exc: StoreError) -> str:
    """What kind of failure a StoreError is, in a few words of our own."""
    cause = exc.__cause__
    text = str(getattr(cause, "orig", None) or cause or exc).lower()
    for phrase, reason in _REASONS:
        if phrase in text:
            return reason
    return type(getattr(cause, "orig", None) or cause or exc).__name__


class StoreOutage:
    """Shared by the jobs of one process (polls, pushes): they report failures and
    successes; the log gets one line when the store goes down, a reminder at most every
    `every` seconds while it stays down, and one line when it answers again."""

    def __init__(self, url: str, clock: Callable[[], datetime], *,
                 every: float = REPEAT_EVERY) -> None:
        self.store = describe_store(url)
        self._clock = clock
        self._every = every
        self._lock = threading.Lock()
        self._since: datetime | None = None       # down since (None: up)
        self._logged: datetime | None = None      # the last line about it
        self._reason = ""

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, exc: StoreError, job: str) -> None:
        """A job could not use the store; log it if this is news or a reminder is due."""
        now, reason = self._clock(), outage_reason(exc)
        with self._lock:
            first = self._since is None
            # One line per outage, whatever mix of reasons its failures give (a refused
            # connect, a reset one, a pool that timed out); the reminder says the latest.
            due = (first or self._logged is None
                   or (now - self._logged).total_seconds() >= self._every)
            if first:
                self._since = now
            self._reason = reason
            if not due:
                return
            self._logged = now
            since = self._since
        assert since is not None
        if first:
            log.error("%s is unavailable (%s); %s and other jobs wait for it; reported again "
                      "every %d min while it lasts", self.store, reason, job,
                      round(self._every / 60))
        else:
            minutes = (now - since).total_seconds() / 60
            log.error("%s is still unavailable (%s), for %.0f min now", self.store, reason,
                      minutes)

    def answered(self) -> None:
        """The store answered a job: log the recovery once."""
        if self._since is None:
            return
        with self._lock:
            since, self._since, self._logged = self._since, None, None
        if since is not None:
            seconds = (self._clock() - since).total_seconds()
            log.warning("%s is available again (down for %.0f s)", self.store, seconds)
