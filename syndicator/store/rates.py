"""Rate state shared by every instance on one PostgreSQL database: what `politeness.py`'s
`ClusterGates` (per-host politeness) and `push/pacing.py`'s `ClusterPace` (Telegram) ask.

    reserve(key, limit, window)   the earliest start that keeps `key` at `limit` starts in
                                  any `window` seconds, taken in one statement
    wait_time(key, limit, window) how far away that start is, nothing taken
    acquire(key, limit, timeout)  one of `limit` slots of `key` (session advisory locks),
                                  waiters served in the order they asked
    release(key, token)

A reservation is one row of the `pacing` table per key: `starts`, the last `limit` starts
given out (seconds since the epoch, on the database's clock, oldest first). The next start
is the later of now and the oldest of them plus `window`; `INSERT … ON CONFLICT DO UPDATE`
locks the row, so two instances asking at once get two starts, one after the other. With
`limit` 1 this is a minimum delay (a host's `delay`); with 20 and 60 s, Telegram's per-chat
limit as a sliding window. The caller sleeps until its start: the database's clock decides,
not each machine's.

Slots are `pg_try_advisory_lock` on one connection of this process kept for the purpose
(the server frees them when the process dies or the connection drops), so holding a slot
while a request is in flight costs no connection of its own; the process remembers which
it holds, since its one session could take a slot it holds a second time. Every statement
runs on that connection in autocommit: one round trip each.

Waiters are served in turn. Besides its slots a key has a *line* lock. A request takes a
free slot at once only while nobody is in line (one statement: the line lock tried, a slot
tried, the line lock let go); otherwise it joins the line: `pg_advisory_lock` of the line
lock, with `lock_timeout` set to what is left of its wait, on a connection of its own,
which PostgreSQL grants in the order asked (and a try of a lock others wait for fails, so
nobody cuts in). The first in line holds the line lock and alone looks for a free slot,
with a short growing pause, then closes its connection, which passes the line lock to the
next. A waiter that gives up, or whose process dies, leaves the line with its connection.
So a request that must wait costs a connection while it waits, and no waiter is overtaken.

Database errors are StoreErrors (store/outage.py logs an outage once); a failed statement
closes the connection, which frees every slot the process held.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from sqlalchemy import Connection, Float, Integer, Text, bindparam, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from syndicator.errors import StoreError
from syndicator.politeness import Reservation
from syndicator.store.database import Database, PoolSize, unpooled_engine

log = logging.getLogger(__name__)
T = TypeVar("T")

# First key of every slot's advisory lock ("SYNH"); the second is a hash of key and slot.
# The key locks of database.py (lock_keys, the migration lock) are one-bigint locks: a
# different space, never confused.
_LOCK_SPACE = 0x53594E48

_NOW = "extract(epoch FROM clock_timestamp())::float8"
# The start a reservation would get, from the row as it is (`p`).
_NEXT = (f"CASE WHEN cardinality(p.starts) >= :limit "
         f"THEN greatest({_NOW}, p.starts[cardinality(p.starts) + 1 - :limit] + :window) "
         f"ELSE {_NOW} END")
_RESERVE = text(
    f"INSERT INTO pacing AS p (key, starts) VALUES (:key, ARRAY[{_NOW}]) "
    f"ON CONFLICT (key) DO UPDATE "
    f"SET starts = (p.starts || {_NEXT})[greatest(1, cardinality(p.starts) + 2 - :limit):] "
    f"WHERE CAST(:max_wait AS float8) IS NULL OR {_NEXT} <= {_NOW} + :max_wait "
    f"RETURNING starts[cardinality(starts)] - {_NOW}"
).bindparams(bindparam("key", type_=Text), bindparam("limit", type_=Integer),
             bindparam("window", type_=Float), bindparam("max_wait", type_=Float))
_WAIT = text(f"SELECT {_NEXT} - {_NOW} FROM pacing AS p WHERE p.key = :key").bindparams(
    bindparam("key", type_=Text), bindparam("limit", type_=Integer),
    bindparam("window", type_=Float))
# A row whose latest start is long past is as good as none (every window is far shorter):
# the hourly prune (Store.prune_pacing) deletes it, or hosts and chats no longer used would
# keep theirs for good.
PRUNE = text(f"DELETE FROM pacing WHERE starts[cardinality(starts)] < {_NOW} - :age"
             ).bindparams(bindparam("age", type_=Float))
_CHECK = text("SELECT 1 FROM pacing LIMIT 1")
_TRY_LOCK = text("SELECT pg_try_advisory_lock(:space, :id)")
_UNLOCK = text("SELECT pg_advisory_unlock(:space, :id)")
# A slot if nobody is in line: NULL (someone is: join the line), true (the slot is ours),
# false (the slot is taken). CASE evaluates its branches in order, only as far as needed.
_TAKE_IF_NOBODY_WAITS = text(
    "SELECT CASE WHEN NOT pg_try_advisory_lock(:space, :line) THEN NULL "
    "WHEN pg_try_advisory_lock(:space, :id) THEN pg_advisory_unlock(:space, :line) "
    "ELSE NOT pg_advisory_unlock(:space, :line) END")
_LOCK_TIMEOUT = text("SELECT set_config('lock_timeout', :timeout, false)")
_JOIN_LINE = text("SELECT pg_advisory_lock(:space, :line)")
_LOCK_NOT_AVAILABLE = "55P03"      # lock_timeout passed
LOOK_FIRST = 0.01      # seconds between the first in line's looks for a free slot: doubling
LOOK_MAX = 0.1         # from this, up to this


@dataclass(frozen=True)
class _Slot:
    """What `acquire` gives: slot number `slot`, taken on rate connection `generation`."""

    slot: int
    generation: int


def shared_rates(url: str) -> DatabaseRates | None:
    """The rate state every instance on the database at `url` shares (politeness per host,
    Telegram pacing), or None where one process is all there is (SQLite): its pacing stays
    in that process's memory. The one place this is decided."""
    if make_url(url).get_backend_name() != "postgresql":
        return None
    return DatabaseRates(url)


class DatabaseRates(Database):
    """`politeness.SharedRates` in PostgreSQL (Store.shared_rates makes it). Thread-safe."""

    def __init__(self, url: str) -> None:
        # The rate connection lives as long as the process, and every fetch waits on it:
        # the engine keeps it ALIVE, as every connection (database.py).
        super().__init__(url, migrate=False, pool=PoolSize(kept=1, more=0))
        self._lines = unpooled_engine(url)    # a connection per waiter, closed after
        self._guard = threading.Lock()
        self._conn: Connection | None = None
        self._generation = 0       # which connection: slots taken on an earlier one are gone
        # The slots this process holds. A session may take an advisory lock it already holds
        # (they count up), so two threads of one process would both get the same slot.
        self._held: set[tuple[str, int]] = set()

    def close(self) -> None:
        with self._guard:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        self._lines.dispose()
        super().close()

    def _run(self, action: str, work: Callable[[Connection], T]) -> T:
        """`work` on this process's rate connection, under the guard, in autocommit. A
        connection that broke while it lay idle (the server restarted) is found out by its
        first statement: that is tried once more on a new connection."""
        with self._guard:
            for attempt in (1, 2):
                reused = self._conn is not None
                with self._errors(action):
                    if self._conn is None:
                        conn = self._engine.connect()
                        conn.execution_options(isolation_level="AUTOCOMMIT")
                        self._conn = conn
                        self._generation += 1
                    try:
                        return work(self._conn)
                    except DBAPIError as exc:
                        self._drop()
                        if not (reused and exc.connection_invalidated and attempt == 1):
                            raise
                    except SQLAlchemyError:
                        self._drop()
                        raise
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _drop(self) -> None:
        """Close the connection for good, not back into the pool: the server frees every
        slot it held."""
        self._held.clear()
        failed, self._conn = self._conn, None
        if failed is not None:
            failed.invalidate()
            failed.close()

    def reserve(self, key: str, limit: int, window: float, *,
                max_wait: float | None = None) -> Reservation:
        values = {"key": key, "limit": limit, "window": window}

        def work(conn: Connection) -> Reservation:
            wait = conn.execute(_RESERVE, {**values, "max_wait": max_wait}).scalar()
            if wait is not None:
                return Reservation(True, max(0.0, float(wait)))
            later = conn.execute(_WAIT, values).scalar()
            return Reservation(False, max(0.0, float(later or 0.0)))

        return self._run(f"reserve a start for {key}", work)

    def wait_time(self, key: str, limit: int, window: float) -> float:
        values = {"key": key, "limit": limit, "window": window}
        wait = self._run(f"read the pace of {key}",
                         lambda conn: conn.execute(_WAIT, values).scalar())
        return max(0.0, float(wait or 0.0))

    def check(self) -> None:
        """StoreError unless the rate state answers (a command deciding whether to use it)."""
        self._run("read the shared rate state",
                  lambda conn: conn.execute(_CHECK).all())

    def acquire(self, key: str, limit: int, timeout: float) -> object | None:
        # Each request tries the slots from one of its own, so that they do not all try the
        # same busy one first.
        first = random.randrange(limit) if limit > 1 else 0
        slots = [(first + step) % limit for step in range(limit)]
        give_up = time.monotonic() + timeout
        for slot in slots:
            taken = self._run(f"take a slot of {key}",
                              partial(self._take_if_nobody_waits, key, slot))
            if taken is None:
                break                        # others are in line: behind them
            if taken:
                return taken
        if timeout <= 0:
            return None
        with self._in_line(key, give_up) as first:
            return self._look(key, slots, give_up) if first else None

    def _look(self, key: str, slots: list[int], give_up: float) -> _Slot | None:
        """As the first in line: look for a free slot until `give_up`."""
        pause = LOOK_FIRST
        while True:
            for slot in slots:
                token = self._run(f"take a slot of {key}", partial(self._take, key, slot))
                if token is not None:
                    return token
            left = give_up - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(pause, left))
            pause = min(pause * 2, LOOK_MAX)

    def _take_if_nobody_waits(self, key: str, slot: int,
                              conn: Connection) -> _Slot | bool | None:
        """Slot `slot` if nobody is in line: the slot, False (taken) or None (a line)."""
        if (key, slot) in self._held:
            return False
        taken = conn.execute(_TAKE_IF_NOBODY_WAITS, {
            "space": _LOCK_SPACE, "line": _line_id(key), "id": _lock_id(key, slot)}).scalar()
        if not taken:
            return None if taken is None else False
        self._held.add((key, slot))
        return _Slot(slot, self._generation)

    def _take(self, key: str, slot: int, conn: Connection) -> _Slot | None:
        if (key, slot) in self._held or not conn.execute(
                _TRY_LOCK, {"space": _LOCK_SPACE, "id": _lock_id(key, slot)}).scalar():
            return None
        self._held.add((key, slot))
        return _Slot(slot, self._generation)

    @contextmanager
    def _in_line(self, key: str, give_up: float) -> Iterator[bool]:
        """In `key`'s line on a connection of this request's own: True once first, False
        if `give_up` (on time.monotonic) came first. Closing the connection leaves the
        line (the server frees the line lock with the session)."""
        action = f"wait in line for a slot of {key}"
        with self._errors(action):
            conn = self._lines.connect()
        try:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            left = give_up - time.monotonic()
            with self._errors(action):
                conn.execute(_LOCK_TIMEOUT, {"timeout": f"{max(1, int(left * 1000))}ms"})
                try:
                    conn.execute(_JOIN_LINE, {"space": _LOCK_SPACE, "line": _line_id(key)})
                    first = True
                except OperationalError as exc:
                    if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                        raise
                    first = False
            yield first
        finally:
            conn.close()

    def release(self, key: str, token: object) -> None:
        """Give the slot back; never raises: a connection that failed is closed, and the
        server has freed the slot with it."""
        if not isinstance(token, _Slot):
            raise TypeError(f"not a slot of DatabaseRates.acquire: {token!r}")
        lock = {"space": _LOCK_SPACE, "id": _lock_id(key, token.slot)}

        def work(conn: Connection) -> None:
            if token.generation == self._generation:   # else taken on a connection now closed
                self._held.discard((key, token.slot))
                conn.execute(_UNLOCK, lock)

        try:
            self._run(f"give back a slot of {key}", work)
        except StoreError as exc:
            log.debug("slot of %s freed with its connection: %s", key, exc)


def _line_id(key: str) -> int:
    """The second key of the advisory lock of `key`'s line (as `_lock_id`)."""
    return _lock_id(key, "line")


def _lock_id(key: str, slot: int | str) -> int:
    """The second key of a slot's advisory lock: 32 bits of a hash of key and slot (two keys
    sharing one only make them share a slot, which errs on the polite side)."""
    digest = hashlib.blake2b(f"{key}#{slot}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)
