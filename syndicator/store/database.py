"""The connection and transaction handling every part of the store shares: the Engine
(SQLite or PostgreSQL), SQLite's BEGIN/WAL rules, the retry of PostgreSQL transactions that
lost a deadlock, transaction-scoped advisory locks on keys (`lock_keys`), the schema
migrations and the translation of database errors into StoreError.

Concurrency: SQLite has one writer at a time (BEGIN IMMEDIATE), so a writer's reads stay
true until it commits. PostgreSQL has no such lock: writers of different rows run at once,
and each write is made safe by the primitive that fits it (ON CONFLICT, row locks, FOR
UPDATE SKIP LOCKED for claims, `lock_keys` where a group of rows has no one row to lock),
in a consistent order (keys sorted) so that deadlocks stay rare; one that happens is
retried here (`_write`), a bounded number of times. Migrations alone take one advisory lock
for the whole database (two instances starting at once must not both migrate).

`Database` is the base of each domain's queries (items.py, urls.py, push.py, signups.py,
builds.py); store.py composes them into `Store`. The only SQLAlchemy engine and Alembic user.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Row,
    Text,
    cast,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError, StatementError
from sqlalchemy.pool import NullPool, StaticPool

from syndicator.errors import SchemaError, StoreError

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest revision in migrations/versions (tests/test_store.py checks it against Alembic's
# head): a store already there opens without importing Alembic (~10 MB of a build's memory).
HEAD_REVISION = "0016"

# Applied to every SQLite connection: WAL lets readers (web server) run beside the writer
# (scheduler); busy_timeout makes a second writer wait instead of failing at once.
_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
)
# Key in a pooled connection's `info` marking the transaction it begins as a writer
# (_write_tx sets it, _sqlite_begin reads it).
_WRITE_MARK = "syndicator_write"
# PostgreSQL advisory lock serialising migrations (an arbitrary constant: "SYND"); no other
# transaction takes it.
_PG_MIGRATE_KEY = 0x53594E44
# PostgreSQL errors after which the whole transaction may simply run again: a deadlock
# (40P01, one of the two transactions is aborted) and a serialization failure (40001).
_RETRY_STATES = frozenset({"40P01", "40001"})
# Attempts of a write transaction before such an error reaches the caller, and the longest
# pause before the next one: a random pause up to 0.1 s, 0.2 s, ... (at most _MAX_PAUSE), so
# that the transactions of a deadlock do not meet again in step.
WRITE_ATTEMPTS = 6
_MAX_PAUSE = 1.0
# Server settings of every PostgreSQL session this process opens (all user-settable), so
# that a frozen or cut-off instance cannot hold its locks for hours: the server ends a session
# left idle inside a transaction after a minute (its locks go with it), and probes an idle
# client's TCP connection after 10 s (its own default is two hours). No lock_timeout: a
# write that legitimately queues on an item's key lock or the published_state row behind a
# long build would fail instead of waiting; the idle timeout already frees what a dead
# holder kept.
SESSION: dict[str, str] = {"idle_in_transaction_session_timeout": "60s",
                           "tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5",
                           "tcp_keepalives_count": "3"}
# libpq options of every PostgreSQL connection (the store's engine, the rate state's, the
# feed listener's, the job workers'): a database host that vanished without closing it (a
# partition, a dead machine) is noticed within about 20 s, not after hours of the kernel's
# retransmissions; a host that does not answer fails the connect after 5 s; and SESSION.
ALIVE: dict[str, int | str] = {
    "connect_timeout": 5, "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
    "keepalives_count": 3, "tcp_user_timeout": 20000,
    "options": " ".join(f"-c {name}={value}" for name, value in SESSION.items())}
# Rows per IN (...) list: well under SQLite's and PostgreSQL's bound-parameter limits.
CHUNK = 500
# The store's pool on PostgreSQL (store_pool): connections a process's own threads take
# beside its jobs and HTTP requests, one at a time each (the dispatcher, the output watcher
# reading a new build, the job engine's probe while it starts its workers), and those of the
# HTTP side's store reads at once (query views, previews, /status, /healthz, the
# subscription forms; feed files are served without the store): HTTP_KEPT kept open,
# HTTP_MORE more opened under load and closed when given back.
OWN_THREADS = 3
HTTP_KEPT, HTTP_MORE = 4, 8

T = TypeVar("T")

log = logging.getLogger("syndicator.store")


def safe_url(url: str) -> str:
    """The database URL as it may appear in messages and logs: password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "<unparseable database URL>"


def libpq_url(url: str) -> str:
    """The same PostgreSQL database as a plain postgresql:// URL, as libpq (and so psycopg
    and the job engine) reads it, password included: never for messages."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PoolSize(NamedTuple):
    """A PostgreSQL pool's bounds: `kept` connections stay open once opened (SQLAlchemy's
    pool_size), up to `more` others are opened under load and closed when given back
    (max_overflow)."""

    kept: int
    more: int


def store_pool(jobs: int, *, http: bool) -> PoolSize:
    """The store's pool on PostgreSQL for a process that runs `jobs` jobs at once (each job's
    thread holds one store connection at a time; 0: no jobs, `serve`) and answers HTTP or
    not: kept, one per job and OWN_THREADS (+ HTTP_KEPT); more, HTTP_MORE with HTTP. So no
    job ever waits for a connection, and a small `jobs.concurrency` keeps few idle ones.
    docs/service.md (Connections) adds the process's other connections up."""
    return PoolSize(kept=jobs + OWN_THREADS + (HTTP_KEPT if http else 0),
                    more=HTTP_MORE if http else 0)


# A command that runs one thing at a time (fetch, build, push, status ...) and a build's
# worker process.
ONE_JOB = store_pool(1, http=False)


class Database:
    """One database: its engine, transactions and schema. Each method of the domain parts
    takes its own connection and transaction from here."""

    def __init__(self, url: str, *, migrate: bool = True, pool: PoolSize = ONE_JOB) -> None:
        """`migrate` False: the schema is known to be current (a build's worker process
        reading what its parent opened), so no write transaction is taken. `pool`: the
        connection pool's bounds on PostgreSQL (store_pool; SQLite has its own rules)."""
        self._url = url
        self._safe_url = safe_url(url)
        self._password = _password_of(url)
        with self._errors("open the database"):
            self._engine = _make_engine(make_url(url), pool)
        self._dialect = self._engine.dialect.name
        try:
            if self._dialect not in ("sqlite", "postgresql"):
                raise StoreError(f"{self._safe_url}: unsupported database {self._dialect!r}; "
                                 "use sqlite:/// or postgresql+psycopg://")
            if migrate:
                self.upgrade()
        except BaseException:
            self._engine.dispose()
            raise

    @property
    def engine(self) -> Engine:
        """The underlying engine, for diagnostics and tests; not for queries elsewhere."""
        return self._engine

    def close(self) -> None:
        """Close every pooled connection. The Store cannot be used afterwards."""
        self._engine.dispose()

    def _insert(self, table: Any) -> Any:
        """The dialect's INSERT that supports ON CONFLICT (same API on both)."""
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def upgrade(self) -> None:
        """Bring the schema to this code's revision (nothing to do when it is there): what
        opening does, for a store opened with `migrate=False` while it did not answer."""
        if not self._at_head():
            self._migrate()

    def _at_head(self) -> bool:
        """Whether the schema is at HEAD_REVISION, so that there is nothing to migrate."""
        with self._read_tx("read the schema version") as conn:
            if not inspect(conn).has_table("alembic_version"):
                return False
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        return [v for (v,) in versions] == [HEAD_REVISION]

    def _migrate(self) -> None:
        """Bring the schema to the newest revision, in one transaction (no-op when there)."""
        # Imported here: a store opened at head or without migrating (an archive worker) is
        # spared alembic's ~11 MB.
        from alembic import command
        from alembic.config import Config as AlembicConfig
        from alembic.util import CommandError

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self._write_tx("migrate the schema") as conn:
            if self._dialect == "postgresql":
                # A second instance starting at once waits here, then finds the schema at
                # head (Alembic reads the version after the lock) and does nothing.
                conn.execute(select(func.pg_advisory_xact_lock(_PG_MIGRATE_KEY)))
            cfg.attributes["connection"] = conn
            try:
                command.upgrade(cfg, "head")
            except CommandError as exc:
                raise SchemaError(f"{self._safe_url}: cannot migrate the schema: {exc}") from exc

    def head_revision(self) -> str | None:
        """The newest migration revision shipped with this code."""
        from alembic.config import Config as AlembicConfig
        from alembic.script import ScriptDirectory

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return ScriptDirectory.from_config(cfg).get_current_head()

    def autovacuum_off(self) -> bool:
        """Whether PostgreSQL's autovacuum is switched off (never on SQLite): the tables
        written per poll (the job queue, the due times, the run log) then keep every dead
        row, and every poll gets slower."""
        if self._dialect != "postgresql":
            return False
        with self._read_tx("read the autovacuum setting") as conn:
            return str(conn.execute(text("SHOW autovacuum")).scalar_one()) == "off"

    @contextmanager
    def _read_tx(self, action: str) -> Iterator[Connection]:
        with self._errors(action), self._engine.begin() as conn:
            yield conn

    @contextmanager
    def _read_stream(self, action: str) -> Iterator[Connection]:
        """A connection for one read statement whose rows the caller hands out while it
        works on them (a generator). On PostgreSQL outside any transaction (autocommit): one
        statement is its own snapshot and its rows are all on the client once it ran, and a
        consumer slower than SESSION's idle timeout must not hold a transaction the server
        then ends. On SQLite a read transaction, as _read_tx."""
        if self._dialect != "postgresql":
            with self._read_tx(action) as conn:
                yield conn
            return
        with self._errors(action), self._engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    def _write(self, action: str, work: Callable[[Connection], T]) -> T:
        """`work(conn)` in a write transaction, committed; its result.

        On PostgreSQL a transaction aborted by a deadlock or a serialization failure runs
        again from the start, up to WRITE_ATTEMPTS times in all, so `work` must do nothing
        but its statements (and pure computation) before it returns. The one home of that
        retry: every write of the store goes through here, but those that must not run
        twice and cannot deadlock (schedule.claim_due acts outside its transaction,
        outputs.share_outputs reads its files once, and its shares of one feed take turns).
        """
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with self._write_tx(action) as conn:
                    return work(conn)
            except StoreError as exc:
                if attempt == WRITE_ATTEMPTS or not _retryable(exc):
                    raise
                pause = random.uniform(0, min(_MAX_PAUSE, 0.05 * 2 ** attempt))
                log.debug("%s: %s; attempt %d of %d in %.2f s", self._safe_url, exc,
                          attempt + 1, WRITE_ATTEMPTS, pause)
                time.sleep(pause)
        raise AssertionError("unreachable")   # the last attempt returned or raised

    @contextmanager
    def _write_tx(self, action: str) -> Iterator[Connection]:
        """A write transaction (use `_write`, which retries it; migrations use this).

        SQLite: BEGIN IMMEDIATE, the file's one writer from the start, so what a writer
        reads stays true until it commits. PostgreSQL: a plain READ COMMITTED transaction;
        writers lock only the rows (and `lock_keys` keys) they touch.
        """
        with self._errors(action), self._engine.connect() as conn:
            # Read by _sqlite_begin, on the connection it is handed; taken off after, as the
            # pooled connection outlives this transaction.
            marks = conn.connection.info
            marks[_WRITE_MARK] = True
            try:
                with conn.begin():
                    yield conn
            finally:
                marks.pop(_WRITE_MARK, None)

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn database errors into StoreError; leave programming errors loud."""
        try:
            yield
        except StatementError as exc:
            # A bind processor refusing a value (e.g. a naive datetime) is the caller's bug.
            if not isinstance(exc, DBAPIError) and isinstance(exc.orig, TypeError | ValueError):
                raise exc.orig from None
            raise StoreError(self._message(action, exc)) from exc
        except SQLAlchemyError as exc:
            raise StoreError(self._message(action, exc)) from exc

    def _message(self, action: str, exc: Exception) -> str:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        if self._password:
            detail = detail.replace(self._password, "***")
        return f"{self._safe_url}: cannot {action}: {detail}"


# -- locks and retries ----------------------------------------------------------------------

# PostgreSQL: the id of the current transaction (assigned at its first write), and the oldest
# transaction still running when the statement's snapshot was taken (every transaction with
# a smaller id has ended: committed or rolled back). As bigint: xid8 has no bigint cast and
# no comparison with it; 64-bit ids never wrap.
CURRENT_XID = cast(cast(func.pg_current_xact_id(), Text), BigInteger)
SNAPSHOT_HORIZON = cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text),
                        BigInteger)


def db_now(conn: Connection, now: datetime, *,
           ago: float = 0.0) -> ColumnElement[datetime] | datetime:
    """The moment `ago` seconds before now, as claims and their leases count time (when a
    claim was taken or renewed, whether it expired). PostgreSQL: the database's clock
    (clock_timestamp()), the one clock every instance sharing it agrees on, so a machine
    whose own clock is ahead does not expire another's live claim, nor one behind keep a dead
    one. SQLite (one process): `now`, the caller's clock. A value for a column's VALUES or a
    comparison with it."""
    if conn.dialect.name == "postgresql":
        clock = func.clock_timestamp(type_=DateTime(timezone=True))
        return clock - timedelta(seconds=ago) if ago else clock
    return now - timedelta(seconds=ago)


# All of a call's keys in one round trip: unnest hands the (sorted) keys over in array order,
# and each row's lock is taken as the row is produced.
_ADVISORY_LOCKS = text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k")


def lock_keys(conn: Connection, kind: str, keys: Iterable[str]) -> None:
    """Hold, until the transaction ends, an exclusive lock on each of `keys` (of a kind:
    "story", "url"...), for writes of a group of rows that has no single row to lock.
    PostgreSQL: transaction-scoped advisory locks on a 64-bit hash of each key, taken in
    sorted order (two writers wanting the same keys queue instead of deadlocking; two keys
    sharing a hash only serialise a little more). SQLite: nothing, the transaction already
    holds the file's one write lock."""
    if conn.dialect.name != "postgresql":
        return
    ordered = sorted({_lock_key(kind, key) for key in keys})
    if ordered:
        conn.execute(_ADVISORY_LOCKS, {"keys": ordered})


def _lock_key(kind: str, key: str) -> int:
    digest = hashlib.blake2b(f"{kind}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _retryable(exc: StoreError) -> bool:
    """Whether a failed write transaction was aborted only because of another one."""
    cause = exc.__cause__
    state = getattr(getattr(cause, "orig", None), "sqlstate", None)
    return isinstance(cause, DBAPIError) and state in _RETRY_STATES


# -- engine ---------------------------------------------------------------------------------

def _password_of(url: str) -> str | None:
    try:
        password = make_url(url).password
        return None if password is None else str(password)
    except SQLAlchemyError:
        return None


def unpooled_engine(url: str) -> Engine:
    """A PostgreSQL engine whose connections are closed when given back (no pool), with
    ALIVE: for a session whose end must free what it holds (store/rates.py's waits)."""
    parsed = make_url(url)
    return create_engine(parsed, poolclass=NullPool, connect_args=_alive(parsed))


def _alive(url: URL) -> dict[str, int | str]:
    """ALIVE, except what the URL sets itself."""
    return {key: value for key, value in ALIVE.items() if key not in url.query}


def _make_engine(url: URL, pool: PoolSize) -> Engine:
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, connect_args=_alive(url),
                             pool_size=pool.kept, max_overflow=pool.more)
    database = url.database or ""
    if database in ("", ":memory:"):
        # One shared connection, or every checkout would see its own empty database.
        engine = create_engine(url, poolclass=StaticPool,
                               connect_args={"check_same_thread": False})
    else:
        if not database.startswith("file:"):
            folder = Path(database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the database folder {folder}: {exc}") from exc
        engine = create_engine(url)
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    """PRAGMAs on every connection, and transactions that begin when we say so.

    pysqlite's own transaction handling starts a transaction only at the first write, so a
    read-then-write would not be atomic; we disable it and emit BEGIN ourselves, BEGIN
    IMMEDIATE for writers (SQLAlchemy's documented recipe does it in a "begin" event; here
    it is the dialect's do_begin, see below).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in _SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    # BEGIN through the dialect's do_begin, which SQLAlchemy calls for every transaction and
    # whose errors it wraps (a locked file becomes an OperationalError), not through a
    # "begin" event: a Connection-level listener makes every statement on every connection
    # dispatch all execution events, empty as they are (~10 % of a small read), and
    # exec_driver_sql would take the BEGIN itself through the whole execution path.
    engine.dialect.do_begin = _sqlite_begin  # type: ignore[method-assign, assignment]


def _sqlite_begin(connection: Any) -> None:
    """Dialect.do_begin for SQLite: BEGIN IMMEDIATE for writers (_write_tx marks them)."""
    write = connection.info.get(_WRITE_MARK, False)
    connection.driver_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")



# -- chunked reads ----------------------------------------------------------------------------

def chunks(keys: Iterable[T]) -> Iterator[list[T]]:
    """The keys without repeats, in lists of at most CHUNK (one IN (...) each)."""
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), CHUNK):
        yield unique[start:start + CHUNK]


def chunked_select(conn: Connection, make: Callable[[list[str]], Any],
                   keys: Iterable[str]) -> list[Row[Any]]:
    """The rows of `make(part)` for every chunk of the keys."""
    rows: list[Row[Any]] = []
    for part in chunks(keys):
        rows.extend(conn.execute(make(part)))
    return rows
