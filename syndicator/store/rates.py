"""Rate state shared by every instance on one PostgreSQL database: what `politeness.py`'s
`ClusterGates` (per-host politeness) and `push/pacing.py`'s `ClusterPace` (Telegram) ask.

    reserve(key, limit, window)   the earliest start that keeps `key` at `limit` starts in
                                  any `window` seconds, taken in one statement
    wait_time(key, limit, window) how far away that start is, nothing taken
    try_lock(key, slot)           slot `slot` of `key` as a session advisory lock
    unlock(key, slot, token)

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

Database errors are StoreErrors (store/outage.py logs an outage once); a failed statement
closes the connection, which frees every slot the process held.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Float, Integer, Text, bindparam, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from syndicator.errors import StoreError
from syndicator.politeness import Reservation
from syndicator.store.database import Database

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
_TRY_LOCK = text("SELECT pg_try_advisory_lock(:space, :id)")
_UNLOCK = text("SELECT pg_advisory_unlock(:space, :id)")


class DatabaseRates(Database):
    """`politeness.SharedRates` in PostgreSQL (Store.shared_rates makes it). Thread-safe."""

    def __init__(self, url: str) -> None:
        # The rate connection lives as long as the process, and every fetch waits on it:
        # the engine keeps it ALIVE, as every connection (database.py).
        super().__init__(url, migrate=False)
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

    def try_lock(self, key: str, slot: int) -> object | None:
        lock = {"space": _LOCK_SPACE, "id": _lock_id(key, slot)}

        def work(conn: Connection) -> object | None:
            if (key, slot) in self._held or not conn.execute(_TRY_LOCK, lock).scalar():
                return None
            self._held.add((key, slot))
            return self._generation

        return self._run(f"take a slot of {key}", work)

    def unlock(self, key: str, slot: int, token: object) -> None:
        """Give the slot back; never raises: a connection that failed is closed, and the
        server has freed the slot with it."""
        lock = {"space": _LOCK_SPACE, "id": _lock_id(key, slot)}

        def work(conn: Connection) -> None:
            if token == self._generation:    # else taken on a connection since closed
                self._held.discard((key, slot))
                conn.execute(_UNLOCK, lock)

        try:
            self._run(f"give back a slot of {key}", work)
        except StoreError as exc:
            log.debug("slot of %s freed with its connection: %s", key, exc)


def _lock_id(key: str, slot: int) -> int:
    """The second key of a slot's advisory lock: 32 bits of a hash of key and slot (two keys
    sharing one only make them share a slot, which errs on the polite side)."""
    digest = hashlib.blake2b(f"{key}#{slot}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)
