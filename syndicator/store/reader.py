"""Items for a build's archive worker process (publish/parallel.py), read from an SQLite
file with the standard library's sqlite3 instead of SQLAlchemy: the worker only ever reads
items by id, and is spared ~20 MB of imports. No SQLAlchemy imports here.

`ItemDecoder` turns the raw rows into Items for both this reader and
Store.items_for_build, which select the same columns (tests/test_store.py compares them).
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
# Store.feed_links's query (builds._feed_link_select), as text.
_LINKS = ("SELECT l.item_id, l.source_id, l.first_seen, i.published, i.updated, i.content_hash"
          "{text} FROM item_sources AS l JOIN items AS i ON i.id = l.item_id"
          " WHERE l.source_id IN ({sources}){range} ORDER BY l.item_id")


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
        """Store.feed_links on this file: the links to the sources of the items with ids in
        [first_id, below_id) (either bound left out: unbounded), grouped by item."""
        if not source_ids:
            return
        where, values = "", list(source_ids)
        if first_id is not None:
            where, values = where + " AND l.item_id >= ?", [*values, first_id]
        if below_id is not None:
            where, values = where + " AND l.item_id < ?", [*values, below_id]
        query = _LINKS.format(text=", i.title, i.summary" if text else "",
                              sources=", ".join("?" * len(source_ids)), range=where)
        try:
            conn = self._connect()
            conn.execute("BEGIN")
            try:
                cursor = conn.execute(query, values)
                while rows := cursor.fetchmany(batch):
                    for row in rows:
                        yield FeedLink._make(row if text else (*row, "", ""))
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
