"""What a feed build reads (publish/archive.py): light rows of the items linked to a feed's
sources, decoded without the SQLAlchemy column types. The feed-links query and the row
decoders are reader.py's, which a build's worker process on an SQLite file runs with
sqlite3 alone (reader.SqliteItems)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Text, bindparam, func, select, type_coerce
from sqlalchemy import text as sql

from syndicator.model import FeedLink, Item
from syndicator.store.database import SNAPSHOT_HORIZON, Database, chunked_select
from syndicator.store.items import linked_to
from syndicator.store.reader import (
    BUILD_COLUMNS,
    RAW_COLUMNS,
    ItemDecoder,
    feed_link,
    feed_links_query,
    time_key,
)
from syndicator.store.schema import item_sources as t_links
from syndicator.store.schema import items as t_items
from syndicator.store.schema import runs as t_runs


class BuildReads(Database):
    """The build's reads: links with the items' light fields, changes since a run, items."""

    def build_mark(self) -> int:
        """Where the runs a build is about to read end: `feed_links_changed(sources, mark)`
        later returns what every run after it stored or saw. Every item or link a run
        writes carries the run's `finished` time as `last_seen`/`first_seen`.

        SQLite: the newest run's id (0 before the first run); one writer at a time, so runs
        commit in id order. PostgreSQL: run ids are handed out when a run's row is
        inserted, and runs commit in any order (a run numbered 10 may commit after 11), so
        a mark is a transaction horizon instead: the oldest transaction still running now
        (every run whose transaction id is below it has committed or rolled back, and is
        read by a build that takes the mark first). Runs at or above it may be read again
        by the next build, never missed; a writing transaction left open for long holds
        the mark back, and builds read again what runs stored since it began."""
        with self._read_tx("read the build mark") as conn:
            return _mark(conn)

    def feed_links(self, source_ids: Sequence[str], *, text: bool = True,
                   first_id: str | None = None, below_id: str | None = None,
                   batch: int = 2000) -> Iterator[FeedLink]:
        """Every link of an item to one of the sources, with the item's light fields; the
        links of one item are adjacent. `text` False leaves title and summary empty.
        `first_id`, `below_id`: only the items with ids in [first_id, below_id) (a bound
        left out: unbounded), so that two processes can read a history's halves.

        A generator: its connection stays checked out until it is exhausted or closed."""
        if not source_ids:
            return
        query, params = feed_links_query(source_ids, text=text, first_id=first_id,
                                         below_id=below_id)
        with self._read_stream("read the feed links") as conn:
            result = conn.execute(sql(query), params)
            while rows := result.fetchmany(batch):
                yield from map(feed_link, rows)

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
        """(mark, links): a new build mark (as build_mark) and the links to the sources of
        every item that a run after the mark `after` stored, edited or saw (grouped by
        item, as feed_links)."""
        with self._read_tx("read the changed items") as conn:
            mark = _mark(conn)
            after_mark = (t_runs.c.xid >= after if conn.dialect.name == "postgresql"
                          else t_runs.c.id > after)
            since = conn.execute(select(func.min(t_runs.c.finished)).where(after_mark)).scalar()
            if since is None or not source_ids:
                return mark, []
            query, params = feed_links_query(
                source_ids, condition="l.item_id IN (SELECT id FROM items"
                                      " WHERE last_seen >= :since)")
            stmt = sql(query).bindparams(bindparam("since", since,
                                                   type_=t_items.c.last_seen.type))
            return mark, [feed_link(row) for row in conn.execute(stmt, params)]

    def feed_links_entered(self, source_ids: Sequence[str], first: str,
                           last: str) -> list[FeedLink]:
        """Links to the sources of the items whose earliest link to them was made between the
        time keys `first` and `last` (inclusive; FeedLink.first_seen values)."""
        if not source_ids:
            return []
        query, params = feed_links_query(
            source_ids, condition="l.item_id IN (SELECT item_id FROM item_sources"
                                  " WHERE source_id IN ({sources}) GROUP BY item_id"
                                  " HAVING MIN(first_seen) BETWEEN :first AND :last)")
        seen = t_links.c.first_seen.type
        stmt = sql(query).bindparams(bindparam("first", _key_time(first), type_=seen),
                                     bindparam("last", _key_time(last), type_=seen))
        with self._read_stream("read the feed links") as conn:
            return [feed_link(row) for row in conn.execute(stmt, params)]

    def items_for_build(self, ids: Iterable[str]) -> dict[str, Item]:
        """Stored items by id, as items_by_id but without their source (left empty) and
        decoded without the SQLAlchemy column types: archive pages read every item."""
        columns: list[Any] = [t_items.c[name] for name in BUILD_COLUMNS]
        columns += [type_coerce(t_items.c[name], Text).label(name) for name in RAW_COLUMNS]
        with self._read_tx("read items") as conn:
            rows = chunked_select(conn, lambda part: select(*columns).where(
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
        stmt = (select(*columns).where(linked_to(source_ids))
                .order_by(t_items.c.published.desc(), t_items.c.id.desc())
                .limit(limit).offset(offset))
        with self._read_tx("read the latest items") as conn:
            return [ItemHead(id=row.id, published=time_key(row.published),
                             title=row.title if text else "", summary=row.summary if text else "")
                    for row in conn.execute(stmt)]



def _mark(conn: Connection) -> int:
    """The build mark (BuildReads.build_mark), read first in a read transaction."""
    if conn.dialect.name == "postgresql":
        return int(conn.execute(select(SNAPSHOT_HORIZON)).scalar_one())
    return int(conn.execute(select(func.max(t_runs.c.id))).scalar() or 0)


@dataclass(frozen=True, slots=True)
class ItemHead:
    """An item's id, publication time key and the text feed filters read."""

    id: str
    published: str
    title: str
    summary: str


def _key_time(key: str) -> datetime:
    return datetime.fromisoformat(key).replace(tzinfo=UTC)
