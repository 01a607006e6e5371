"""Items, the sources that listed them, the run log and backfill progress: the queries of
the crawl's side of the store (the run's one write is Store.save_run, store.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Insert,
    Row,
    false,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.sql.dml import ReturningInsert

from syndicator.model import BackfillState, Item, RunResult
from syndicator.store.database import CURRENT_XID, Database, chunked_select, chunks, lock_keys
from syndicator.store.schema import backfill_state as t_backfill
from syndicator.store.schema import item_sources as t_links
from syndicator.store.schema import items as t_items
from syndicator.store.schema import runs as t_runs
from syndicator.uris import uri_key

# Every run (a 304 poll too) appends one row: the statements are built once, not per run.
# On PostgreSQL the row carries its transaction's id, which build marks are made of
# (builds.py): run ids are handed out in insert order, not in commit order.
_RUN_INSERT = {"sqlite": t_runs.insert(),
               "postgresql": t_runs.insert().values(xid=CURRENT_XID)}
# Columns an upsert of a stored item leaves alone: identity and first sighting.
_KEEP = frozenset({"id", "first_seen"})
# Columns whose difference does not make a stored item updated: when and till when it was
# seen, and `updated`, which two polls that read one edit at once compute each from its
# own clock (the second must not count, nor push, the edit again).
_NOT_A_CHANGE = frozenset({"id", "first_seen", "last_seen", "updated"})


class ItemQueries(Database):
    """Reads of items and runs, the item and link upserts save_run uses, backfill progress."""

    def items_by_url(self, urls: Iterable[str]) -> dict[str, Item]:
        """Stored items by (canonical) URL, each under every URL asked for in a spelling
        of its URL (matched by uris.uri_key, `items.url_key`: `/café`, `/caf%C3%A9` and
        `/caf%c3%a9` find one item). Should two stored items share a key (stored before
        the key was kept), the first seen is the one found."""
        asked: dict[str, list[str]] = {}
        for url in urls:
            asked.setdefault(uri_key(url), []).append(url)
        with self._read_tx("read items") as conn:
            found = self._items_where(conn, lambda part: t_items.c.url_key.in_(part), asked,
                                      first=(t_items.c.first_seen, t_items.c.id))
        by_url: dict[str, Item] = {}
        for item in found:
            for url in asked[uri_key(item.url)]:
                by_url.setdefault(url, item)
        return by_url

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
        stmt = (select(t_items).where(linked_to(source_ids))
                .order_by(t_items.c.published.desc(), t_items.c.id.desc())
                .limit(limit).offset(offset))
        if before is not None:
            stmt = stmt.where(t_items.c.published < before)
        with self._read_tx("read the latest items") as conn:
            rows = list(conn.execute(stmt))
            sources = _sources_of(conn, [row.id for row in rows], only=source_ids)
        return [item_from_row(row, sources.get(row.id, "")) for row in rows]

    def count_items(self, source_ids: Sequence[str] | None = None) -> int:
        """How many items there are, or how many are linked to any of the given sources."""
        stmt = select(func.count()).select_from(t_items)
        if source_ids is not None:
            if not source_ids:
                return 0
            stmt = stmt.where(linked_to(source_ids))
        with self._read_tx("count items") as conn:
            return int(conn.execute(stmt).scalar_one())

    def runs(self, source_id: str | None = None, *, limit: int = 20) -> list[RunResult]:
        """The run log, newest first, of one source or of all."""
        stmt = select(t_runs).order_by(t_runs.c.started.desc(), t_runs.c.id.desc()).limit(limit)
        if source_id is not None:
            stmt = stmt.where(t_runs.c.source_id == source_id)
        with self._read_tx("read the run log") as conn:
            return [_run_result(row) for row in conn.execute(stmt)]

    def prune_runs(self, before: datetime, *, keep: int) -> int:
        """Delete the runs that finished before `before`, except the newest `keep` of each
        source (what its health and backoff are judged on): the run log gains a row per
        poll and is bounded here. Returns how many rows went."""
        rank = func.row_number().over(partition_by=t_runs.c.source_id,
                                      order_by=(t_runs.c.started.desc(), t_runs.c.id.desc()))
        ranked = select(t_runs.c.id, rank.label("rank")).subquery()
        kept = select(ranked.c.id).where(ranked.c.rank <= keep)
        stmt = t_runs.delete().where(t_runs.c.finished < before, t_runs.c.id.not_in(kept))
        return int(self._write("prune the run log",
                               lambda conn: conn.execute(stmt).rowcount))

    def last_runs(self) -> dict[str, RunResult]:
        """The latest run of every source that ever ran."""
        rank = func.row_number().over(partition_by=t_runs.c.source_id,
                                      order_by=(t_runs.c.started.desc(), t_runs.c.id.desc()))
        ranked = select(t_runs, rank.label("rank")).subquery()
        stmt = select(*(ranked.c[col.name] for col in t_runs.c)).where(ranked.c.rank == 1)
        with self._read_tx("read the last runs") as conn:
            return {row.source_id: _run_result(row) for row in conn.execute(stmt)}

    def _save_items(self, conn: Connection, items: Sequence[Item], seen: Iterable[str],
                    seen_at: datetime) -> tuple[set[str], set[str], set[str]]:
        """Insert or update the items (distinct ids) and move the last_seen of the stored
        items among `seen` and of those `items` left unchanged to `seen_at`: (ids inserted,
        ids updated, ids only seen), decided by the write itself. An item that differs
        from the stored one in no column but those of _NOT_A_CHANGE is left as stored and
        only seen.

        The one home of "new or updated". First every item id concerned is locked
        (lock_keys "item", in id order, PostgreSQL only): a new item has no row to lock
        yet, and `ON CONFLICT (id)` alone does not settle two writers inserting one new
        item at once, since its URL is unique too and PostgreSQL arbitrates one index only
        (the second writer would fail on the URL). So writers of one item take turns, and
        writers sharing items lock them in one order (no deadlock between one run's items
        and another's seen ones). Then the upsert, in id order. PostgreSQL: it returns
        `xmax = 0` for the rows it inserted (an updated row carries this transaction's id
        there), so a writer that found the item stored by another a moment before does not
        call it new, and updates it only if it differs. SQLite: the ids stored are read
        first, which stays true as the transaction holds the file's one write lock.
        """
        rows = sorted((item_row(item, seen_at) for item in items), key=lambda r: r["id"])
        batch = [row["id"] for row in rows]
        lock_keys(conn, "item", [*batch, *seen])
        postgres = self._dialect == "postgresql"
        existed = set() if postgres else existing_ids(conn, batch)
        inserted: set[str] = set()
        updated: set[str] = set()
        if rows:
            for row in conn.execute(self._upsert_items(), rows):
                new = row.inserted if postgres else row.id not in existed
                (inserted if new else updated).add(row.id)
        touched: set[str] = set()
        for part in chunks(sorted({*batch, *seen} - inserted - updated)):
            touched.update(conn.execute(
                t_items.update().where(t_items.c.id.in_(part)).values(last_seen=seen_at)
                .returning(t_items.c.id)).scalars())
        return inserted, updated, touched

    def _link(self, conn: Connection, ids: Iterable[str], source_id: str,
              seen_at: datetime) -> None:
        """Link the (stored) items to the source, from `seen_at` unless linked before."""
        for part in chunks(sorted(set(ids))):
            conn.execute(self._link_items(), [
                {"item_id": item_id, "source_id": source_id, "first_seen": seen_at}
                for item_id in part])

    def _insert_run(self, conn: Connection, result: RunResult, *, new: int,
                    updated: int) -> None:
        conn.execute(_RUN_INSERT[self._dialect], run_row(result, new=new, updated=updated))

    def _upsert_items(self) -> ReturningInsert[Any]:
        stmt = self._insert(t_items)
        update = {c.name: stmt.excluded[c.name] for c in t_items.c if c.name not in _KEEP}
        changed = or_(*(c.is_distinct_from(stmt.excluded[c.name])
                        for c in t_items.c if c.name not in _NOT_A_CHANGE))
        upsert: Insert = stmt.on_conflict_do_update(
            index_elements=[t_items.c.id], set_=update, where=changed)
        inserted = (literal_column("xmax = 0") if self._dialect == "postgresql"
                    else false())
        return upsert.returning(t_items.c.id, inserted.label("inserted"))

    def _link_items(self) -> Insert:
        stmt = self._insert(t_links)
        link: Insert = stmt.on_conflict_do_nothing(
            index_elements=[t_links.c.item_id, t_links.c.source_id])
        return link

    def _items_where(self, conn: Connection,
                     where: Callable[[list[str]], ColumnElement[bool]],
                     keys: Iterable[str], *,
                     first: tuple[ColumnElement[Any], ...] = ()) -> list[Item]:
        """The items `where` selects among `keys` (in chunks), ordered by `first` if given
        (within each chunk; callers give keys whose rows fall in one chunk together)."""
        rows = chunked_select(
            conn, lambda part: select(t_items).where(where(part)).order_by(*first), keys)
        sources = _sources_of(conn, [row.id for row in rows])
        return [item_from_row(row, sources.get(row.id, "")) for row in rows]

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
        self._write("save the backfill state of " + state.source_id,
                    lambda conn: conn.execute(upsert, row))


def linked_to(source_ids: Sequence[str]) -> ColumnElement[bool]:
    """EXISTS a link to one of the sources: one row per item, however many sources saw it."""
    return (select(t_links.c.item_id)
            .where(t_links.c.item_id == t_items.c.id,
                   t_links.c.source_id.in_(list(source_ids)))
            .exists())


def existing_ids(conn: Connection, ids: list[str]) -> set[str]:
    rows = chunked_select(
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

    rows = chunked_select(conn, make, ids)
    rows.sort(key=lambda row: (row.first_seen, row.source_id))
    first: dict[str, str] = {}
    for row in rows:
        first.setdefault(row.item_id, row.source_id)
    return first



# -- rows <-> records -------------------------------------------------------------------------

def item_row(item: Item, seen_at: datetime) -> dict[str, Any]:
    return {
        "id": item.id, "url": item.url, "title": item.title, "summary": item.summary,
        "content": item.content, "image": item.image, "author": item.author,
        "categories": list(item.categories), "language": item.language,
        "published": item.published, "published_precision": item.published_precision,
        "updated": item.updated, "content_hash": item.content_hash,
        "first_seen": seen_at, "last_seen": seen_at, "entry_key": item.entry_key,
        "url_key": uri_key(item.url),
    }


def item_from_row(row: Row[Any], source_id: str) -> Item:
    return Item(
        id=row.id, source_id=source_id, url=row.url, title=row.title,
        published=row.published, updated=row.updated, summary=row.summary,
        content=row.content, image=row.image, author=row.author,
        categories=tuple(row.categories), language=row.language,
        published_precision=row.published_precision, content_hash=row.content_hash,
        entry_key=row.entry_key,
    )


def run_row(result: RunResult, *, new: int, updated: int) -> dict[str, Any]:
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
