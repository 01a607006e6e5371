"""The database behind Syndicator: items, which sources saw them, URL validators, run log.

The only SQLAlchemy and Alembic user. SQLite (default, `sqlite:///path`) and PostgreSQL
(`postgresql+psycopg://...`) behave the same. One Engine with a connection pool serves every
thread; each method takes its own connection and transaction.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Insert,
    Row,
    Text,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError, StatementError
from sqlalchemy.pool import StaticPool

from syndicator.errors import StoreError
from syndicator.model import Delivery, Item, RunResult, UpsertResult, UrlState
from syndicator.store.reader import (
    BUILD_COLUMNS,
    RAW_COLUMNS,
    FeedLink,
    ItemDecoder,
    SqliteItems,
)
from syndicator.store.schema import backfill_state as t_backfill
from syndicator.store.schema import deliveries as t_deliveries
from syndicator.store.schema import item_sources as t_links
from syndicator.store.schema import items as t_items
from syndicator.store.schema import push_sources as t_push_sources
from syndicator.store.schema import push_targets as t_push_targets
from syndicator.store.schema import runs as t_runs
from syndicator.store.schema import subscribers as t_subscribers
from syndicator.store.schema import url_state as t_url_state
from syndicator.store.signups import SignupQueries

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest revision in migrations/versions (tests/test_store.py checks it against Alembic's
# head): a store already there opens without importing Alembic (~10 MB of a build's memory).
HEAD_REVISION = "0005"

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
# PostgreSQL advisory lock serialising writers and migrations (an arbitrary constant: "SYND").
_PG_LOCK_KEY = 0x53594E44
# Built once: a poll reads one URL's state per source, and building the IN (...) clause cost
# more than the query (an expanding parameter keeps one compiled statement for any length).
_URL_STATES = select(t_url_state).where(t_url_state.c.url.in_(bindparam("urls", expanding=True)))
# Every run (a 304 poll too) appends one row: the statement is built once, not per run.
_RUN_INSERT = t_runs.insert()
# Rows per IN (...) list: well under SQLite's and PostgreSQL's bound-parameter limits.
_CHUNK = 500

T = TypeVar("T")


def safe_url(url: str) -> str:
    """The database URL as it may appear in messages and logs: password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "<unparseable database URL>"


# -- push records ------------------------------------------------------------------------------

@dataclass(frozen=True)
class OutboxView:
    """What the outbox decision sees, read inside the transaction that stores the items."""

    source_id: str
    now: datetime
    new: tuple[Item, ...]
    updated: tuple[Item, ...]
    history: tuple[Item, ...] = ()        # newest items of the source stored before this run
    primed: frozenset[str] = frozenset()  # targets that had already seen the source
    subscribers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # confirmed


@dataclass(frozen=True)
class OutboxPlan:
    """The outbox decision: rows to add, sent messages to edit, targets now primed."""

    deliveries: tuple[Delivery, ...] = ()
    edits: tuple[tuple[str, str], ...] = ()   # (item id, target id): edit the sent messages
    primed: tuple[str, ...] = ()              # target ids that have now seen the source


@dataclass(frozen=True)
class OutboxHook:
    """Passed to `save_run`: which push state to read, and the (pure) decision on it."""

    targets: tuple[str, ...]                  # push target ids this source feeds
    subscriber_targets: tuple[str, ...]       # email targets whose confirmed addresses to read
    history: int                              # how many stored items backfill may need
    decide: Callable[[OutboxView], OutboxPlan]


@dataclass(frozen=True)
class PushTargetState:
    """What the database remembers of one push target."""

    target_id: str
    first_seen: datetime
    chat_id: str | None = None            # a Telegram chat the target migrated to
    paused: bool = False
    paused_reason: str | None = None
    paused_at: datetime | None = None
    hold_until: datetime | None = None    # 429: nothing goes to this chat before then


@dataclass(frozen=True)
class Subscriber:
    target_id: str
    email: str
    status: str                           # pending | confirmed | unsubscribed | bounced
    created: datetime
    updated: datetime
    confirmed_at: datetime | None = None
    reason: str | None = None


# Delivery states a push job may claim, and those that count as "in the queue".
CLAIMABLE = ("pending", "failed")


class Store(SignupQueries):
    """Items, their sources, per-URL fetch state and the run log, in one database."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        """`migrate` False: the schema is known to be current (a build's worker process
        reading what its parent opened), so no write transaction is taken."""
        self._url = url
        self._safe_url = safe_url(url)
        self._password = _password_of(url)
        with self._errors("open the database"):
            self._engine = _make_engine(make_url(url))
        self._dialect = self._engine.dialect.name
        try:
            if self._dialect not in ("sqlite", "postgresql"):
                raise StoreError(f"{self._safe_url}: unsupported database {self._dialect!r}; "
                                 "use sqlite:/// or postgresql+psycopg://")
            if migrate and not self._at_head():
                self._migrate()
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

    def reopener(self) -> Callable[[], Store | SqliteItems] | None:
        """A picklable factory that opens this database again in another process (a build's
        worker, publish/parallel.py) to read items, or None when another process cannot see
        it (an in-memory SQLite database). A plain SQLite file is read with sqlite3 alone
        (reader.py); anything else through a Store."""
        url = make_url(self._url)
        database = url.database or ""
        if url.get_backend_name() == "sqlite":
            if database in ("", ":memory:") or "mode=memory" in self._url:
                return None
            if (url.get_driver_name() == "pysqlite" and not url.query
                    and not database.startswith("file:")):
                # As SQLAlchemy's pysqlite dialect opens it: relative to the working folder.
                return functools.partial(SqliteItems, os.path.abspath(database))
        return functools.partial(Store, self._url, migrate=False)

    # -- reads -------------------------------------------------------------------------

    def url_states(self, urls: Iterable[str]) -> dict[str, UrlState]:
        """The remembered state of each given URL that has one."""
        rows: list[Row[Any]] = []
        with self._read_tx("read URL states") as conn:
            for part in _chunks(urls):
                rows.extend(conn.execute(_URL_STATES, {"urls": part}))
        return {row.url: _url_state(row) for row in rows}

    def items_by_url(self, urls: Iterable[str]) -> dict[str, Item]:
        """Stored items by their (canonical) URL."""
        with self._read_tx("read items") as conn:
            found = self._items_where(conn, lambda part: t_items.c.url.in_(part), urls)
        return {item.url: item for item in found}

    def items_by_id(self, ids: Iterable[str]) -> dict[str, Item]:
        """Stored items by id."""
        with self._read_tx("read items") as conn:
            found = self._items_where(conn, lambda part: t_items.c.id.in_(part), ids)
        return {item.id: item for item in found}

    def first_sources(self, ids: Iterable[str], among: Sequence[str]) -> dict[str, str]:
        """For each stored item id, the source among `among` that was linked to it first
        (earliest first_seen, then source id): the one whose version of the story is kept
        when several sources carry it."""
        with self._read_tx("read item sources") as conn:
            return _sources_of(conn, list(ids), only=among)

    def latest(self, source_ids: Sequence[str], *, limit: int, offset: int = 0,
               before: datetime | None = None) -> list[Item]:
        """Items linked to any of the sources, newest first (published desc, id desc).

        `before` keeps only items published strictly earlier. Each item appears once; its
        `source_id` is the earliest-linked of the requested sources.
        """
        if not source_ids or limit <= 0:
            return []
        stmt = (select(t_items).where(_linked_to(source_ids))
                .order_by(t_items.c.published.desc(), t_items.c.id.desc())
                .limit(limit).offset(offset))
        if before is not None:
            stmt = stmt.where(t_items.c.published < before)
        with self._read_tx("read the latest items") as conn:
            rows = list(conn.execute(stmt))
            sources = _sources_of(conn, [row.id for row in rows], only=source_ids)
        return [_item(row, sources.get(row.id, "")) for row in rows]

    def count_items(self, source_ids: Sequence[str] | None = None) -> int:
        """How many items there are, or how many are linked to any of the given sources."""
        stmt = select(func.count()).select_from(t_items)
        if source_ids is not None:
            if not source_ids:
                return 0
            stmt = stmt.where(_linked_to(source_ids))
        with self._read_tx("count items") as conn:
            return int(conn.execute(stmt).scalar_one())

    def runs(self, source_id: str | None = None, *, limit: int = 20) -> list[RunResult]:
        """The run log, newest first, of one source or of all."""
        stmt = select(t_runs).order_by(t_runs.c.started.desc(), t_runs.c.id.desc()).limit(limit)
        if source_id is not None:
            stmt = stmt.where(t_runs.c.source_id == source_id)
        with self._read_tx("read the run log") as conn:
            return [_run_result(row) for row in conn.execute(stmt)]

    def last_runs(self) -> dict[str, RunResult]:
        """The latest run of every source that ever ran."""
        rank = func.row_number().over(partition_by=t_runs.c.source_id,
                                      order_by=(t_runs.c.started.desc(), t_runs.c.id.desc()))
        ranked = select(t_runs, rank.label("rank")).subquery()
        stmt = select(*(ranked.c[col.name] for col in t_runs.c)).where(ranked.c.rank == 1)
        with self._read_tx("read the last runs") as conn:
            return {row.source_id: _run_result(row) for row in conn.execute(stmt)}

    # -- the write -----------------------------------------------------------------------

    def save_run(self, result: RunResult, items: Sequence[Item], url_states: Sequence[UrlState],
                 *, source_id: str | None = None, seen: Iterable[str] = (),
                 outbox: OutboxHook | None = None) -> UpsertResult:
        """Store one source run in a single transaction: all of it or nothing.

        Upserts the items (new or updated by whether the id existed), links each to
        `source_id` (default `result.source_id`), upserts the URL states and appends the run
        to the log, with `new`/`updated` counted here. `first_seen`/`last_seen` are the
        run's `finished` time. A later duplicate id in `items` wins.

        `seen` names stored items the run saw unchanged (so not in `items`): they are linked
        to the source too (an article already stored from another source's listing joins this
        source's feed) and their `last_seen` moves; they count as neither new nor updated.
        Unknown ids in `seen` are ignored.

        `outbox` decides the push deliveries of the new (and updated) items; its rows are
        written in this same transaction (see `OutboxHook`).
        """
        link_to = source_id or result.source_id
        batch = list({item.id: item for item in items}.values())
        states = list({state.url: state for state in url_states}.values())
        seen_at = result.finished
        with self._write_tx("save the run of " + result.source_id) as conn:
            existed = _existing_ids(conn, [item.id for item in batch])
            history = (self._outbox_history(conn, link_to, outbox.history)
                       if outbox is not None and batch else [])
            if batch:
                conn.execute(self._upsert_items(), [_item_row(i, seen_at) for i in batch])
            self._mark_seen(conn, [i.id for i in batch], link_to, seen_at)
            self._mark_seen(conn, _existing_ids(conn, list(seen)), link_to, seen_at, touch=True)
            if states:
                conn.execute(self._upsert_url_states(), [_url_state_row(s) for s in states])
            new = tuple(item for item in batch if item.id not in existed)
            updated = tuple(item for item in batch if item.id in existed)
            conn.execute(_RUN_INSERT, _run_row(result, new=len(new), updated=len(updated)))
            if outbox is not None and batch:
                self._write_outbox(conn, outbox, OutboxView(
                    source_id=link_to, now=seen_at, new=new, updated=updated,
                    history=tuple(history)))
        return UpsertResult(new=new, updated=updated)

    def _mark_seen(self, conn: Connection, ids: Iterable[str], source_id: str,
                   seen_at: datetime, *, touch: bool = False) -> None:
        """Link the items to the source; with `touch`, also move their last_seen."""
        for part in _chunks(ids):
            conn.execute(self._link_items(), [
                {"item_id": item_id, "source_id": source_id, "first_seen": seen_at}
                for item_id in part])
            if touch:
                conn.execute(t_items.update().where(t_items.c.id.in_(part))
                             .values(last_seen=seen_at))

    # -- push: outbox, claims, targets, subscribers ---------------------------------------

    def _outbox_history(self, conn: Connection, source_id: str, limit: int) -> list[Item]:
        if limit <= 0:
            return []
        rows = list(conn.execute(
            select(t_items).where(_linked_to([source_id]))
            .order_by(t_items.c.published.desc(), t_items.c.id.desc()).limit(limit)))
        return [_item(row, source_id) for row in rows]

    def _write_outbox(self, conn: Connection, hook: OutboxHook, view: OutboxView) -> None:
        """Run the outbox decision on state read in this transaction and write its rows."""
        primed = {row.target_id for row in conn.execute(
            select(t_push_sources.c.target_id).where(
                t_push_sources.c.source_id == view.source_id,
                t_push_sources.c.target_id.in_(list(hook.targets))))}
        subscribers: dict[str, list[str]] = {}
        if hook.subscriber_targets:
            for row in conn.execute(
                    select(t_subscribers.c.target_id, t_subscribers.c.email)
                    .where(t_subscribers.c.target_id.in_(list(hook.subscriber_targets)),
                           t_subscribers.c.status == "confirmed")
                    .order_by(t_subscribers.c.email)):
                subscribers.setdefault(row.target_id, []).append(row.email)
        plan = hook.decide(OutboxView(
            source_id=view.source_id, now=view.now, new=view.new, updated=view.updated,
            history=view.history, primed=frozenset(primed),
            subscribers={k: tuple(v) for k, v in subscribers.items()}))
        now = view.now
        self._ensure_targets(conn, hook.targets, now)
        if plan.primed:
            conn.execute(self._insert(t_push_sources).on_conflict_do_nothing(), [
                {"target_id": t, "source_id": view.source_id, "first_seen": now}
                for t in plan.primed])
        if plan.deliveries:
            conn.execute(self._insert(t_deliveries).on_conflict_do_nothing(),
                         [_delivery_row(d, now) for d in plan.deliveries])
        for item_id, target_id in plan.edits:
            conn.execute(t_deliveries.update().where(
                t_deliveries.c.item_id == item_id, t_deliveries.c.target_id == target_id,
                t_deliveries.c.state == "sent").values(
                    action="edit", state="pending", attempts=0, next_at=None, error=None,
                    updated=now))

    def _ensure_targets(self, conn: Connection, target_ids: Iterable[str],
                        now: datetime) -> None:
        rows = [{"target_id": t, "first_seen": now, "paused": False} for t in target_ids]
        if rows:
            conn.execute(self._insert(t_push_targets).on_conflict_do_nothing(), rows)

    def push_targets(self) -> dict[str, PushTargetState]:
        """The remembered state of every push target that was ever seen."""
        with self._read_tx("read push targets") as conn:
            return {row.target_id: _target_state(row)
                    for row in conn.execute(select(t_push_targets))}

    def update_push_target(self, target_id: str, now: datetime, **values: Any) -> None:
        """Set some of chat_id, paused, paused_reason, paused_at, hold_until of a target."""
        allowed = {"chat_id", "paused", "paused_reason", "paused_at", "hold_until"}
        unknown = set(values) - allowed
        if unknown:
            raise TypeError(f"unknown push target fields: {sorted(unknown)}")
        with self._write_tx("update push target " + target_id) as conn:
            self._ensure_targets(conn, [target_id], now)
            conn.execute(t_push_targets.update()
                         .where(t_push_targets.c.target_id == target_id).values(**values))

    def claim_deliveries(self, target_id: str, now: datetime, claim: str, *,
                         lease: float, limit: int = 1,
                         recipient: str | None = None) -> list[Delivery]:
        """Atomically take the oldest due deliveries of a target: they become `sending`.

        Rows left `sending` for longer than `lease` seconds belong to a push job that died
        mid-request; they become `unknown` first (their message may have gone out).
        """
        with self._write_tx("claim deliveries of " + target_id) as conn:
            self._expire_claims(conn, now, lease, target_id)
            stmt = (select(t_deliveries)
                    .where(t_deliveries.c.target_id == target_id,
                           t_deliveries.c.state.in_(CLAIMABLE),
                           or_(t_deliveries.c.next_at.is_(None),
                               t_deliveries.c.next_at <= now))
                    .order_by(t_deliveries.c.id).limit(limit))
            if recipient is not None:
                stmt = stmt.where(t_deliveries.c.recipient == recipient)
            rows = list(conn.execute(stmt))
            if not rows:
                return []
            ids = [row.id for row in rows]
            conn.execute(t_deliveries.update().where(t_deliveries.c.id.in_(ids)).values(
                state="sending", attempts=t_deliveries.c.attempts + 1, claimed_at=now,
                claim=claim, updated=now))
            fresh = conn.execute(select(t_deliveries).where(t_deliveries.c.id.in_(ids))
                                 .order_by(t_deliveries.c.id))
            return [_delivery(row) for row in fresh]

    def expire_claims(self, now: datetime, lease: float) -> int:
        """Turn deliveries stuck in `sending` for longer than `lease` seconds into `unknown`."""
        with self._write_tx("expire delivery claims") as conn:
            return self._expire_claims(conn, now, lease, None)

    def _expire_claims(self, conn: Connection, now: datetime, lease: float,
                       target_id: str | None) -> int:
        stmt = t_deliveries.update().where(
            t_deliveries.c.state == "sending",
            t_deliveries.c.claimed_at < now - timedelta(seconds=lease))
        if target_id is not None:
            stmt = stmt.where(t_deliveries.c.target_id == target_id)
        result = conn.execute(stmt.values(
            state="unknown", updated=now,
            error="the push job stopped while sending; not resent automatically"))
        return int(result.rowcount or 0)

    def finish_delivery(self, delivery_id: int, claim: str, now: datetime, *, state: str,
                        message_ids: Sequence[str] | None = None, error: str | None = None,
                        next_at: datetime | None = None, attempts: int | None = None) -> bool:
        """Record the outcome of a claimed delivery; False if the claim is no longer ours."""
        values: dict[str, Any] = {"state": state, "error": error, "next_at": next_at,
                                  "updated": now}
        if message_ids is not None:
            values["message_ids"] = list(message_ids)
        if attempts is not None:
            values["attempts"] = attempts
        if state == "sent":
            values["action"] = "send"
        with self._write_tx("record a delivery") as conn:
            result = conn.execute(t_deliveries.update().where(
                t_deliveries.c.id == delivery_id, t_deliveries.c.claim == claim)
                .values(**values))
            return bool(result.rowcount)

    def save_delivery_progress(self, delivery_id: int, claim: str, now: datetime,
                               message_ids: Sequence[str]) -> None:
        """Remember the parts already sent of a multi-part delivery still in flight (and
        renew its claim: the lease covers one request, not the whole delivery)."""
        with self._write_tx("record delivery progress") as conn:
            conn.execute(t_deliveries.update().where(
                t_deliveries.c.id == delivery_id, t_deliveries.c.claim == claim)
                .values(message_ids=list(message_ids), updated=now, claimed_at=now))

    def deliveries(self, target_id: str | None = None, *, states: Sequence[str] | None = None,
                   due_at: datetime | None = None, limit: int | None = None) -> list[Delivery]:
        """Deliveries in queue order (oldest first), optionally only due ones; no claim."""
        stmt = select(t_deliveries).order_by(t_deliveries.c.id)
        if target_id is not None:
            stmt = stmt.where(t_deliveries.c.target_id == target_id)
        if states is not None:
            stmt = stmt.where(t_deliveries.c.state.in_(list(states)))
        if due_at is not None:
            stmt = stmt.where(or_(t_deliveries.c.next_at.is_(None),
                                  t_deliveries.c.next_at <= due_at))
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._read_tx("read deliveries") as conn:
            return [_delivery(row) for row in conn.execute(stmt)]

    def delivery_counts(self) -> dict[str, dict[str, int]]:
        """Per target, how many deliveries are in each state."""
        stmt = (select(t_deliveries.c.target_id, t_deliveries.c.state, func.count())
                .group_by(t_deliveries.c.target_id, t_deliveries.c.state))
        counts: dict[str, dict[str, int]] = {}
        with self._read_tx("count deliveries") as conn:
            for target_id, state, count in conn.execute(stmt):
                counts.setdefault(target_id, {})[state] = int(count)
        return counts

    def recent_claims(self, target_id: str, since: datetime) -> list[datetime]:
        """When deliveries of the target were last taken for sending, from `since` on."""
        stmt = (select(t_deliveries.c.claimed_at)
                .where(t_deliveries.c.target_id == target_id,
                       t_deliveries.c.claimed_at >= since)
                .order_by(t_deliveries.c.claimed_at))
        with self._read_tx("read recent sends") as conn:
            return [row.claimed_at for row in conn.execute(stmt)]

    def due_recipients(self, target_id: str, now: datetime) -> list[str]:
        """The addresses with deliveries of the target due now (digests group by them)."""
        stmt = (select(t_deliveries.c.recipient).distinct()
                .where(t_deliveries.c.target_id == target_id,
                       t_deliveries.c.state.in_(CLAIMABLE),
                       or_(t_deliveries.c.next_at.is_(None), t_deliveries.c.next_at <= now))
                .order_by(t_deliveries.c.recipient))
        with self._read_tx("read due recipients") as conn:
            return [row.recipient for row in conn.execute(stmt)]

    def subscriber(self, target_id: str, email: str) -> Subscriber | None:
        with self._read_tx("read a subscriber") as conn:
            row = conn.execute(select(t_subscribers).where(
                t_subscribers.c.target_id == target_id,
                t_subscribers.c.email == email)).first()
        return None if row is None else _subscriber(row)

    def subscribers(self, target_id: str | None = None, *,
                    status: str | None = None) -> list[Subscriber]:
        stmt = select(t_subscribers).order_by(t_subscribers.c.target_id, t_subscribers.c.email)
        if target_id is not None:
            stmt = stmt.where(t_subscribers.c.target_id == target_id)
        if status is not None:
            stmt = stmt.where(t_subscribers.c.status == status)
        with self._read_tx("read subscribers") as conn:
            return [_subscriber(row) for row in conn.execute(stmt)]

    def set_subscriber(self, target_id: str, email: str, status: str, now: datetime, *,
                       reason: str | None = None) -> Subscriber:
        """Create or update a subscriber. Leaving `confirmed` also suppresses the address's
        queued deliveries, in the same transaction: nothing more reaches it."""
        with self._write_tx("save a subscriber") as conn:
            before = conn.execute(select(t_subscribers).where(
                t_subscribers.c.target_id == target_id,
                t_subscribers.c.email == email)).first()
            confirmed_at = (now if status == "confirmed" and (
                before is None or before.status != "confirmed")
                else None if before is None else before.confirmed_at)
            row = {"target_id": target_id, "email": email, "status": status,
                   "created": now if before is None else before.created, "updated": now,
                   "confirmed_at": confirmed_at, "reason": reason}
            if before is None:
                conn.execute(t_subscribers.insert(), row)
            else:
                conn.execute(t_subscribers.update().where(
                    t_subscribers.c.target_id == target_id,
                    t_subscribers.c.email == email).values(**row))
            if status != "confirmed":
                conn.execute(t_deliveries.update().where(
                    t_deliveries.c.target_id == target_id, t_deliveries.c.recipient == email,
                    t_deliveries.c.state.in_(CLAIMABLE)).values(
                        state="suppressed", error=f"address {status}", updated=now))
        return _subscriber(row)

    def delete_subscriber(self, target_id: str, email: str, now: datetime) -> bool:
        """Forget an address (the operator removed it); its queued deliveries are suppressed."""
        with self._write_tx("delete a subscriber") as conn:
            conn.execute(t_deliveries.update().where(
                t_deliveries.c.target_id == target_id, t_deliveries.c.recipient == email,
                t_deliveries.c.state.in_(CLAIMABLE)).values(
                    state="suppressed", error="address removed", updated=now))
            result = conn.execute(t_subscribers.delete().where(
                t_subscribers.c.target_id == target_id, t_subscribers.c.email == email))
            return bool(result.rowcount)

    # -- statements ------------------------------------------------------------------------

    def _insert(self, table: Any) -> Any:
        """The dialect's INSERT that supports ON CONFLICT (same API on both)."""
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def _upsert_items(self) -> Insert:
        stmt = self._insert(t_items)
        keep = {"id", "first_seen"}   # identity and first sighting never change
        update = {c.name: stmt.excluded[c.name] for c in t_items.c if c.name not in keep}
        upsert: Insert = stmt.on_conflict_do_update(index_elements=[t_items.c.id], set_=update)
        return upsert

    def _link_items(self) -> Insert:
        stmt = self._insert(t_links)
        link: Insert = stmt.on_conflict_do_nothing(
            index_elements=[t_links.c.item_id, t_links.c.source_id])
        return link

    def _upsert_url_states(self) -> Insert:
        stmt = self._insert(t_url_state)
        update = {c.name: stmt.excluded[c.name] for c in t_url_state.c if c.name != "url"}
        upsert: Insert = stmt.on_conflict_do_update(index_elements=[t_url_state.c.url], set_=update)
        return upsert

    def _items_where(self, conn: Connection,
                     where: Callable[[list[str]], ColumnElement[bool]],
                     keys: Iterable[str]) -> list[Item]:
        rows = _chunked_select(conn, lambda part: select(t_items).where(where(part)), keys)
        sources = _sources_of(conn, [row.id for row in rows])
        return [_item(row, sources.get(row.id, "")) for row in rows]

    # -- connections, transactions, errors ---------------------------------------------------

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
            cfg.attributes["connection"] = conn
            try:
                command.upgrade(cfg, "head")
            except CommandError as exc:
                raise StoreError(f"{self._safe_url}: cannot migrate the schema: {exc}") from exc

    def head_revision(self) -> str | None:
        """The newest migration revision shipped with this code."""
        from alembic.config import Config as AlembicConfig
        from alembic.script import ScriptDirectory

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return ScriptDirectory.from_config(cfg).get_current_head()

    @contextmanager
    def _read_tx(self, action: str) -> Iterator[Connection]:
        with self._errors(action), self._engine.begin() as conn:
            yield conn

    @contextmanager
    def _write_tx(self, action: str) -> Iterator[Connection]:
        """A transaction that holds the write lock from its start.

        Writers read before they write (which ids exist); taking the lock first keeps that
        read true until commit: BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL.
        """
        with self._errors(action), self._engine.connect() as conn:
            # Read by _sqlite_begin, on the connection it is handed; taken off after, as the
            # pooled connection outlives this transaction.
            marks = conn.connection.info
            marks[_WRITE_MARK] = True
            try:
                with conn.begin():
                    if self._dialect == "postgresql":
                        conn.execute(select(func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
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

    def _message(self, action: str, exc: SQLAlchemyError) -> str:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        if self._password:
            detail = detail.replace(self._password, "***")
        return f"{self._safe_url}: cannot {action}: {detail}"

    # -- backfill progress and feed history (publish/archive.py, backfill.py) ---------------

    def backfill_state(self, source_id: str) -> BackfillState | None:
        """Where the backfill walk of a source stands, or None if it never started."""
        stmt = select(t_backfill).where(t_backfill.c.source_id == source_id)
        with self._read_tx("read the backfill state") as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return None
        return BackfillState(source_id=row.source_id, next_url=row.next_url,
                             pages_done=row.pages_done, started=row.started,
                             updated=row.updated, finished=row.finished)

    def save_backfill_state(self, state: BackfillState) -> None:
        """Insert or replace the backfill progress of `state.source_id` (one transaction)."""
        row = {"source_id": state.source_id, "next_url": state.next_url,
               "pages_done": state.pages_done, "started": state.started,
               "updated": state.updated, "finished": state.finished}
        stmt = self._insert(t_backfill)
        upsert = stmt.on_conflict_do_update(
            index_elements=[t_backfill.c.source_id],
            set_={k: stmt.excluded[k] for k in row if k != "source_id"})
        with self._write_tx("save the backfill state of " + state.source_id) as conn:
            conn.execute(upsert, row)

    def feed_history(self, source_ids: Sequence[str]) -> list[HistoryEntry]:
        """Every item linked to any of the sources, in the order it entered them.

        The order is (entered, published, id), where `entered` is the earliest link of the
        item to one of these sources. Items only ever join at the end of that order (links
        are never removed and a new link is stamped with its run's time), which is what makes
        fixed-size archive pages cut from it immutable. Light rows: no content.
        """
        if not source_ids:
            return []
        entered = func.min(t_links.c.first_seen).label("entered")
        stmt = (select(t_items.c.id, t_items.c.published, t_items.c.updated,
                       t_items.c.content_hash, t_items.c.title, t_items.c.summary, entered)
                .join(t_links, t_links.c.item_id == t_items.c.id)
                .where(t_links.c.source_id.in_(list(source_ids)))
                .group_by(t_items.c.id)
                .order_by(entered, t_items.c.published, t_items.c.id))
        with self._read_tx("read the feed history") as conn:
            return [HistoryEntry(id=row.id, entered=row.entered, published=row.published,
                                 updated=row.updated, content_hash=row.content_hash,
                                 title=row.title, summary=row.summary)
                    for row in conn.execute(stmt)]

    # -- feed builds (publish/archive.py): light rows, decoded without the column types ------

    def build_mark(self) -> int:
        """The newest run's id (0 before the first run).

        Runs are numbered in commit order (every writer holds the write lock), and every item
        or link a run writes carries the run's `finished` time as `last_seen`/`first_seen`; so
        what changed after a mark is what runs numbered above it stored or saw."""
        with self._read_tx("read the newest run") as conn:
            return int(conn.execute(select(func.max(t_runs.c.id))).scalar() or 0)

    def feed_links(self, source_ids: Sequence[str], *, text: bool = True,
                   first_id: str | None = None, below_id: str | None = None,
                   batch: int = 2000) -> Iterator[FeedLink]:
        """Every link of an item to one of the sources, with the item's light fields; the
        links of one item are adjacent. `text` False leaves title and summary empty.
        `first_id`, `below_id`: only the items with ids in [first_id, below_id) (a bound
        left out: unbounded), so that two processes can read a history's halves.

        A generator: its read transaction stays open until it is exhausted or closed."""
        if not source_ids:
            return
        stmt = _feed_link_select(text).where(t_links.c.source_id.in_(list(source_ids)))
        if first_id is not None:
            stmt = stmt.where(t_links.c.item_id >= first_id)
        if below_id is not None:
            stmt = stmt.where(t_links.c.item_id < below_id)
        with self._read_tx("read the feed links") as conn:
            result = conn.execute(stmt.order_by(t_links.c.item_id))
            while rows := result.fetchmany(batch):
                yield from (_feed_link(row) for row in rows)

    def link_split(self, source_ids: Sequence[str], share: float) -> str | None:
        """The item id that splits the links to the sources (in item id order) after about
        `share` of them: feed_links(below_id=it) and feed_links(first_id=it) read the two
        parts, each item's links whole in one. None when there is nothing to split."""
        if not source_ids:
            return None
        ids = list(source_ids)
        with self._read_tx("split the feed links") as conn:
            total = int(conn.execute(select(func.count()).select_from(t_links)
                                     .where(t_links.c.source_id.in_(ids))).scalar() or 0)
            if total < 2:
                return None
            split = conn.execute(select(t_links.c.item_id)
                                 .where(t_links.c.source_id.in_(ids))
                                 .order_by(t_links.c.item_id)
                                 .limit(1).offset(min(total - 1, max(1, int(total * share)))))
            found = split.scalar()
        return None if found is None else str(found)

    def link_counts(self) -> dict[str, int]:
        """Links per source (an index range each): how large a feed's history is, roughly."""
        stmt = (select(t_links.c.source_id, func.count())
                .group_by(t_links.c.source_id))
        with self._read_tx("count the links") as conn:
            return {row[0]: int(row[1]) for row in conn.execute(stmt)}

    def feed_links_changed(self, source_ids: Sequence[str],
                           after: int) -> tuple[int, list[FeedLink]]:
        """(newest run id, links) where links are those to the sources of every item that a
        run numbered above `after` stored, edited or saw (grouped by item, as feed_links)."""
        with self._read_tx("read the changed items") as conn:
            mark = int(conn.execute(select(func.max(t_runs.c.id))).scalar() or 0)
            since = conn.execute(select(func.min(t_runs.c.finished))
                                 .where(t_runs.c.id > after)).scalar()
            if since is None or not source_ids:
                return mark, []
            touched = select(t_items.c.id).where(t_items.c.last_seen >= since)
            stmt = (_feed_link_select(True)
                    .where(t_links.c.source_id.in_(list(source_ids)),
                           t_links.c.item_id.in_(touched))
                    .order_by(t_links.c.item_id))
            return mark, [_feed_link(row) for row in conn.execute(stmt)]

    def feed_links_entered(self, source_ids: Sequence[str], first: str,
                           last: str) -> list[FeedLink]:
        """Links to the sources of the items whose earliest link to them was made between the
        time keys `first` and `last` (inclusive; FeedLink.first_seen values)."""
        if not source_ids:
            return []
        wanted = list(source_ids)
        entered = (select(t_links.c.item_id).where(t_links.c.source_id.in_(wanted))
                   .group_by(t_links.c.item_id)
                   .having(func.min(t_links.c.first_seen)
                           .between(_key_time(first), _key_time(last))))
        stmt = (_feed_link_select(True)
                .where(t_links.c.source_id.in_(wanted), t_links.c.item_id.in_(entered))
                .order_by(t_links.c.item_id))
        with self._read_tx("read the feed links") as conn:
            return [_feed_link(row) for row in conn.execute(stmt)]

    def items_for_build(self, ids: Iterable[str]) -> dict[str, Item]:
        """Stored items by id, as items_by_id but without their source (left empty) and
        decoded without the SQLAlchemy column types: archive pages read every item."""
        columns: list[Any] = [t_items.c[name] for name in BUILD_COLUMNS]
        columns += [type_coerce(t_items.c[name], Text).label(name) for name in RAW_COLUMNS]
        with self._read_tx("read items") as conn:
            rows = _chunked_select(conn, lambda part: select(*columns).where(
                t_items.c.id.in_(part)), ids)
        decode = ItemDecoder()
        return {row[0]: decode(row) for row in rows}

    def latest_heads(self, source_ids: Sequence[str], *, limit: int, offset: int = 0,
                     text: bool = True) -> list[ItemHead]:
        """What `latest` orders and filters by, without the content: items linked to any of
        the sources, newest first (published desc, id desc). `text` False leaves title and
        summary empty."""
        if not source_ids or limit <= 0:
            return []
        columns: list[Any] = [t_items.c.id,
                              type_coerce(t_items.c.published, Text).label("published")]
        if text:
            columns += [t_items.c.title, t_items.c.summary]
        stmt = (select(*columns).where(_linked_to(source_ids))
                .order_by(t_items.c.published.desc(), t_items.c.id.desc())
                .limit(limit).offset(offset))
        with self._read_tx("read the latest items") as conn:
            return [ItemHead(id=row.id, published=_time_key(row.published),
                             title=row.title if text else "", summary=row.summary if text else "")
                    for row in conn.execute(stmt)]


# -- engine ---------------------------------------------------------------------------------

def _password_of(url: str) -> str | None:
    try:
        password = make_url(url).password
        return None if password is None else str(password)
    except SQLAlchemyError:
        return None


def _make_engine(url: URL) -> Engine:
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
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


# -- queries --------------------------------------------------------------------------------

def _chunks(keys: Iterable[T]) -> Iterator[list[T]]:
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), _CHUNK):
        yield unique[start:start + _CHUNK]


def _chunked_select(conn: Connection, make: Callable[[list[str]], Any],
                    keys: Iterable[str]) -> list[Row[Any]]:
    rows: list[Row[Any]] = []
    for part in _chunks(keys):
        rows.extend(conn.execute(make(part)))
    return rows


def _linked_to(source_ids: Sequence[str]) -> ColumnElement[bool]:
    """EXISTS a link to one of the sources: one row per item, however many sources saw it."""
    return (select(t_links.c.item_id)
            .where(t_links.c.item_id == t_items.c.id,
                   t_links.c.source_id.in_(list(source_ids)))
            .exists())


def _existing_ids(conn: Connection, ids: list[str]) -> set[str]:
    rows = _chunked_select(
        conn, lambda part: select(t_items.c.id).where(t_items.c.id.in_(part)), ids)
    return {row.id for row in rows}


def _sources_of(conn: Connection, ids: list[str], *,
                only: Sequence[str] | None = None) -> dict[str, str]:
    """For each item id, the source that saw it first (among `only`, when given)."""
    def make(part: list[str]) -> Any:
        stmt = select(t_links).where(t_links.c.item_id.in_(part))
        if only is not None:
            stmt = stmt.where(t_links.c.source_id.in_(list(only)))
        return stmt

    rows = _chunked_select(conn, make, ids)
    rows.sort(key=lambda row: (row.first_seen, row.source_id))
    first: dict[str, str] = {}
    for row in rows:
        first.setdefault(row.item_id, row.source_id)
    return first


# -- rows <-> records -------------------------------------------------------------------------

def _item_row(item: Item, seen_at: datetime) -> dict[str, Any]:
    return {
        "id": item.id, "url": item.url, "title": item.title, "summary": item.summary,
        "content": item.content, "image": item.image, "author": item.author,
        "categories": list(item.categories), "language": item.language,
        "published": item.published, "published_precision": item.published_precision,
        "updated": item.updated, "content_hash": item.content_hash,
        "first_seen": seen_at, "last_seen": seen_at,
    }


def _item(row: Row[Any], source_id: str) -> Item:
    return Item(
        id=row.id, source_id=source_id, url=row.url, title=row.title,
        published=row.published, updated=row.updated, summary=row.summary,
        content=row.content, image=row.image, author=row.author,
        categories=tuple(row.categories), language=row.language,
        published_precision=row.published_precision, content_hash=row.content_hash,
    )


def _url_state_row(state: UrlState) -> dict[str, Any]:
    return {"url": state.url, "etag": state.etag, "last_modified": state.last_modified,
            "listing_hash": state.listing_hash, "fetched_at": state.fetched_at}


def _url_state(row: Row[Any]) -> UrlState:
    return UrlState(url=row.url, etag=row.etag, last_modified=row.last_modified,
                    listing_hash=row.listing_hash, fetched_at=row.fetched_at)


def _run_row(result: RunResult, *, new: int, updated: int) -> dict[str, Any]:
    return {
        "source_id": result.source_id, "started": result.started,
        "finished": result.finished, "ok": result.ok, "pages": result.pages,
        "not_modified": result.not_modified, "items_seen": result.items_seen,
        "new": new, "updated": updated, "errors": list(result.errors),
        "warnings": list(result.warnings), "missing_fields": dict(result.missing_fields),
    }


def _run_result(row: Row[Any] | Mapping[str, Any]) -> RunResult:
    r = row._mapping if isinstance(row, Row) else row
    return RunResult(
        source_id=r["source_id"], started=r["started"], finished=r["finished"],
        ok=bool(r["ok"]), pages=r["pages"], not_modified=r["not_modified"],
        items_seen=r["items_seen"], new=r["new"], updated=r["updated"],
        errors=tuple(r["errors"]), warnings=tuple(r["warnings"]),
        missing_fields=dict(r["missing_fields"]),
    )


# -- push rows <-> records ----------------------------------------------------------------------

def _delivery_row(delivery: Delivery, now: datetime) -> dict[str, Any]:
    return {
        "item_id": delivery.item_id, "target_id": delivery.target_id,
        "recipient": delivery.recipient, "state": delivery.state, "action": delivery.action,
        "attempts": delivery.attempts, "next_at": delivery.next_at,
        "created": delivery.created or now, "updated": delivery.updated or now,
        "claimed_at": None, "claim": None, "message_ids": list(delivery.message_ids),
        "error": delivery.error,
    }


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        id=row.id, item_id=row.item_id, target_id=row.target_id, recipient=row.recipient,
        state=row.state, action=row.action, attempts=row.attempts, next_at=row.next_at,
        message_ids=tuple(str(m) for m in row.message_ids), error=row.error,
        created=row.created, updated=row.updated, claimed_at=row.claimed_at, claim=row.claim,
    )


def _target_state(row: Row[Any]) -> PushTargetState:
    return PushTargetState(
        target_id=row.target_id, first_seen=row.first_seen, chat_id=row.chat_id,
        paused=bool(row.paused), paused_reason=row.paused_reason, paused_at=row.paused_at,
        hold_until=row.hold_until)


def _subscriber(row: Row[Any] | Mapping[str, Any]) -> Subscriber:
    r = row._mapping if isinstance(row, Row) else row
    return Subscriber(
        target_id=r["target_id"], email=r["email"], status=r["status"], created=r["created"],
        updated=r["updated"], confirmed_at=r["confirmed_at"], reason=r["reason"])


# -- backfill and history records -------------------------------------------------------------

@dataclass(frozen=True)
class BackfillState:
    """Progress of `syndicator fetch --backfill` for one source (table backfill_state)."""

    source_id: str
    next_url: str | None      # the listing page to fetch next; None once the walk ended
    pages_done: int
    started: datetime
    updated: datetime
    finished: datetime | None = None


@dataclass(frozen=True)
class HistoryEntry:
    """One item of a feed's history, without its content (for archive planning)."""

    id: str
    entered: datetime         # when the item first appeared in one of the feed's sources
    published: datetime
    updated: datetime
    content_hash: str
    title: str
    summary: str


# -- feed build records ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ItemHead:
    """An item's id, publication time key and the text feed filters read."""

    id: str
    published: str
    title: str
    summary: str


def _feed_link_select(text: bool) -> Any:
    columns: list[Any] = [
        t_links.c.item_id, t_links.c.source_id,
        type_coerce(t_links.c.first_seen, Text).label("first_seen"),
        type_coerce(t_items.c.published, Text).label("published"),
        type_coerce(t_items.c.updated, Text).label("updated"),
        t_items.c.content_hash]
    if text:
        columns += [t_items.c.title, t_items.c.summary]
    return select(*columns).join(t_items, t_items.c.id == t_links.c.item_id)


_NO_TEXT = ("", "")


def _feed_link(row: Row[Any]) -> FeedLink:
    # By position (the columns of _feed_link_select): name look-ups on a Row cost more than
    # the rest of a link, and a full build reads every link of the history.
    item_id, source_id, first_seen, published, updated, content_hash, *text = cast(
        "tuple[Any, ...]", row)
    if first_seen.__class__ is not str:     # PostgreSQL hands back datetimes
        first_seen, published, updated = (_time_key(first_seen), _time_key(published),
                                          _time_key(updated))
    title, summary = text or _NO_TEXT
    return FeedLink(item_id, source_id, first_seen, published, updated, content_hash, title,
                    summary)


def _time_key(value: str | datetime) -> str:
    """SQLite hands back its stored text (already a time key); PostgreSQL a datetime."""
    if isinstance(value, str):
        return value
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _key_time(key: str) -> datetime:
    return datetime.fromisoformat(key).replace(tzinfo=UTC)
