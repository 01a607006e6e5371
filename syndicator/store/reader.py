"""What a build reads, as SQL text and row decoders shared by the Store (builds.py, through
SQLAlchemy) and `SqliteItems`, a reader of an SQLite file with the standard library's
sqlite3 alone: a build's worker process (publish/parallel.py) reads through it and is spared
SQLAlchemy's imports (~20 MB, on top of a page worker it may be lent from). No SQLAlchemy
imports here.

`feed_links_query` is the one feed-links query (Store.feed_links and its variants,
SqliteItems.feed_links) and `feed_link` the one decoder of its rows; `ItemDecoder` turns the
raw item rows into Items for both SqliteItems and Store.items_for_build, which select the
same columns (tests/test_store.py compares them).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from syndicator.errors import StoreError
from syndicator.model import FeedLink, Item

# Columns of `items` a build reads, then categories, published and updated as stored (text).
BUILD_COLUMNS = ("id", "url", "title", "summary", "content", "image", "author", "language",
                 "published_precision", "content_hash")
RAW_COLUMNS = ("categories", "published", "updated")
# Ids per IN (...) list: well under SQLite's bound-parameter limit (as the Store's).
CHUNK = 500
_SELECT = f"SELECT {', '.join(BUILD_COLUMNS + RAW_COLUMNS)} FROM items WHERE id IN "
_LINK_COLUMNS = "l.item_id, l.source_id, l.first_seen, i.published, i.updated, i.content_hash"
_NO_TEXT = ("", "")


def feed_links_query(source_ids: Sequence[str], *, text: bool = True,
                     first_id: str | None = None, below_id: str | None = None,
                     condition: str = "") -> tuple[str, dict[str, Any]]:
    """The query of every link of an item to one of the sources (`l`, item_sources) with
    the item's light fields (`i`, items), grouped by item (in item id order), and its named
    parameters. `text` False leaves title and summary out; `first_id`, `below_id`: only the
    items with ids in [first_id, below_id) (a bound left out: unbounded), so that two
    processes can read a history's halves; `condition`: more SQL ANDed to the filter, in
    which `{sources}` is the list of the sources' parameters.

    Named parameters (`:name`) and plain SQL: sqlite3 and SQLAlchemy's text() both run it.
    Times come back as stored (text on SQLite, datetimes on PostgreSQL): `feed_link`
    decodes a row either way."""
    params: dict[str, Any] = {f"s{n}": source for n, source in enumerate(source_ids)}
    sources = ", ".join(f":{name}" for name in params)
    where = f"l.source_id IN ({sources})"
    if first_id is not None:
        where, params["first_id"] = where + " AND l.item_id >= :first_id", first_id
    if below_id is not None:
        where, params["below_id"] = where + " AND l.item_id < :below_id", below_id
    if condition:
        where += " AND " + condition.format(sources=sources)
    columns = _LINK_COLUMNS + (", i.title, i.summary" if text else "")
    return (f"SELECT {columns} FROM item_sources AS l JOIN items AS i ON i.id = l.item_id"
            f" WHERE {where} ORDER BY l.item_id", params)


def feed_link(row: Sequence[Any]) -> FeedLink:
    """A row of feed_links_query as a FeedLink (title and summary empty without `text`).
    By position: name look-ups on a row cost more than the rest of a link, and a full
    build reads every link of the history."""
    item_id, source_id, first_seen, published, updated, content_hash, *text = row
    if first_seen.__class__ is not str:     # PostgreSQL hands back datetimes
        first_seen, published, updated = (time_key(first_seen), time_key(published),
                                          time_key(updated))
    title, summary = text or _NO_TEXT
    return FeedLink(item_id, source_id, first_seen, published, updated, content_hash, title,
                    summary)


def time_key(value: str | datetime) -> str:
    """A stored time as the text SQLite keeps (a time key): PostgreSQL hands back a
    datetime."""
    if isinstance(value, str):
        return value
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class ItemDecoder:
    """Rows of BUILD_COLUMNS + RAW_COLUMNS as raw values → Items.
    Category lists repeat across items (a site has few), so their JSON is decoded once."""

    def __init__(self) -> None:
        self._categories: dict[str, tuple[str, ...]] = {}

    def __call__(self, row: Sequence[Any]) -> Item:
        (item_id, url, title, summary, content, image, author, language, precision,
         content_hash, categories, published, updated) = tuple(row)
        if isinstance(categories, str):
            found = self._categories.get(categories)
            if found is None:
                found = self._categories[categories] = tuple(json.loads(categories))
            categories = found
        published_at = as_utc(published)
        # Most items were never edited: the same stored time, decoded once.
        updated_at = published_at if updated == published else as_utc(updated)
        return Item(
            id=item_id, source_id="", url=url, title=title, published=published_at,
            updated=updated_at, summary=summary, content=content, image=image,
            author=author, categories=tuple(categories), language=language,
            published_precision=precision, content_hash=content_hash)


def as_utc(value: str | datetime) -> datetime:
    """A stored time: text on SQLite (UTC, naive), an aware datetime on PostgreSQL."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.astimezone(UTC)


class SqliteItems:
    """Store.items_for_build on an SQLite database file (an absolute path), read only. The
    connection opens at the first read."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None

    def items_for_build(self, ids: Iterable[str]) -> dict[str, Item]:
        """Stored items by id, their source left empty; ids not stored are left out."""
        unique = list(dict.fromkeys(ids))
        decode = ItemDecoder()
        found: dict[str, Item] = {}
        try:
            conn = self._connect()
            # One transaction: every chunk reads the same snapshot, as the Store's read does.
            conn.execute("BEGIN")
            try:
                for start in range(0, len(unique), CHUNK):
                    part = unique[start:start + CHUNK]
                    query = f"{_SELECT}({', '.join('?' * len(part))})"
                    for row in conn.execute(query, part):
                        found[row[0]] = decode(row)
            finally:
                conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise StoreError(f"{self._path}: cannot read items: {exc}") from exc
        return found

    def feed_links(self, source_ids: Sequence[str], *, text: bool = True,
                   first_id: str | None = None, below_id: str | None = None,
                   batch: int = 2000) -> Iterator[FeedLink]:
        """Store.feed_links on this file."""
        if not source_ids:
            return
        query, params = feed_links_query(source_ids, text=text, first_id=first_id,
                                         below_id=below_id)
        try:
            conn = self._connect()
            conn.execute("BEGIN")
            try:
                cursor = conn.execute(query, params)
                while rows := cursor.fetchmany(batch):
                    for row in rows:
                        yield feed_link(row)
            finally:
                conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise StoreError(f"{self._path}: cannot read the feed links: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            # isolation_level None: no implicit transactions, ours are explicit. query_only:
            # this reader cannot write, whatever it is asked.
            conn = sqlite3.connect(self._path, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute("PRAGMA query_only=ON")
            self._connection = conn
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
