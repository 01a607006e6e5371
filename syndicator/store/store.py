"""The database behind Syndicator, as one object: `Store`, composed of the queries of each
domain (each takes its own connection and transaction from database.Database):

    items.py    items, their sources, the run log, backfill progress
    urls.py     per-URL fetch state (validators, listing card hashes)
    push.py     the push outbox, delivery claims, push targets, subscribers
    signups.py  the sign-up queue of the subscribe forms
    builds.py   what a feed build reads
    schedule.py when the cluster engine's scheduled jobs are due
    translations.py  translation claims and the stories (groups) they confirm
    outputs.py  the shared build output (PostgreSQL): what builds wrote, for every server

Callers hold one `Store` and call its methods; the parts are mixins rather than attributes
(`store.items...`) so that a caller never needs to know which table a query reads. What lives
here spans domains: the one write of a source run (items, links, URL states, the run log and
the push outbox in one transaction) and how another process opens the same database.

SQLite (default, `sqlite:///path`) and PostgreSQL (`postgresql+psycopg://...`) behave the same.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence

from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from syndicator.model import (
    Item,
    OutboxHook,
    OutboxView,
    RunResult,
    Translations,
    UpsertResult,
    UrlState,
)
from syndicator.store.builds import BuildReads
from syndicator.store.database import safe_url
from syndicator.store.items import ItemQueries
from syndicator.store.outputs import OutputQueries
from syndicator.store.push import PushQueries
from syndicator.store.rates import PRUNE, DatabaseRates, shared_rates
from syndicator.store.reader import SqliteItems
from syndicator.store.schedule import ScheduleQueries
from syndicator.store.signups import SignupQueries
from syndicator.store.translations import TranslationQueries
from syndicator.store.urls import UrlStateQueries, url_state_row

__all__ = ["Store", "safe_url"]


class Store(TranslationQueries, ItemQueries, UrlStateQueries, PushQueries, SignupQueries,
            BuildReads, ScheduleQueries, OutputQueries):
    """Items, their sources, per-URL fetch state, the run log and push state, in one database."""

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

    def shared_rates(self) -> DatabaseRates | None:
        """The rate state every instance on this database shares, or None on SQLite
        (rates.shared_rates)."""
        return shared_rates(self._url)

    def prune_pacing(self, age: float) -> int:
        """Delete the shared rate rows (store/rates.py) whose latest start is more than `age`
        seconds past, on the database's clock: hosts, bots and chats no longer used. Returns
        how many rows went (none on SQLite, where the rate state is in memory)."""
        if self._dialect != "postgresql":
            return 0
        return int(self._write("prune the pacing rows",
                               lambda conn: conn.execute(PRUNE, {"age": age}).rowcount))

    # -- the write -----------------------------------------------------------------------

    def save_run(self, result: RunResult, items: Sequence[Item], url_states: Sequence[UrlState],
                 *, source_id: str | None = None, seen: Iterable[str] = (),
                 outbox: OutboxHook | None = None,
                 translations: Mapping[str, Translations] | None = None) -> UpsertResult:
        """Store one source run in a single transaction: all of it or nothing.

        Upserts the items, links each to `source_id` (default `result.source_id`), upserts
        the URL states and appends the run to the log, with `new`/`updated` counted here.
        New or updated is decided by the write itself (ItemQueries._save_items), so that
        runs saving one item at once never both count it new; an item no different from
        the stored one (another run stored the same a moment before) is neither, and is
        treated as seen. `first_seen`/`last_seen` are the run's `finished` time. A later
        duplicate id in `items` wins.

        `seen` names stored items the run saw unchanged (so not in `items`): they are linked
        to the source too (an article already stored from another source's listing joins this
        source's feed) and their `last_seen` moves; they count as neither new nor updated.
        Unknown ids in `seen` are ignored.

        `outbox` decides the push deliveries of the new (and updated) items; its rows are
        written in this same transaction (see `OutboxHook`).

        What the items' pages claim as their other-language versions (`Item.translation_claims`,
        unless None) replaces what was stored, as does `translations` (by item id: for items
        whose pages the run read but that did not change, or other items whose pages it read
        again); the stories those claims touch are rebuilt (store/translations.py).
        """
        link_to = source_id or result.source_id
        batch = list({item.id: item for item in items}.values())
        states = sorted({state.url: state for state in url_states}.values(),
                        key=lambda state: state.url)
        seen_at = result.finished
        seen_ids = list(seen)
        claims = {i.id: i.translation_claims for i in batch if i.translation_claims is not None}
        claims.update(translations or {})

        def write(conn: Connection) -> UpsertResult:
            history = (self._outbox_history(conn, link_to, outbox.history)
                       if outbox is not None and batch else [])
            # Items the batch brought unchanged (another writer stored them first) count as
            # seen, as do the stored ones among `seen`.
            inserted, changed, touched = self._save_items(conn, batch, seen_ids, seen_at)
            self._link(conn, [*inserted, *changed, *touched], link_to, seen_at)
            if claims:
                self._save_claims(conn, claims)
            if states:
                conn.execute(self._upsert_url_states(), [url_state_row(s) for s in states])
            new = tuple(item for item in batch if item.id in inserted)
            updated = tuple(item for item in batch if item.id in changed)
            self._insert_run(conn, result, new=len(new), updated=len(updated))
            if outbox is not None and (new or updated):
                self._write_outbox(conn, outbox, OutboxView(
                    source_id=link_to, now=seen_at, new=new, updated=updated,
                    history=tuple(history)))
            return UpsertResult(new=new, updated=updated)

        return self._write("save the run of " + result.source_id, write)
