"""Stored item URLs rewritten in the form `uris.uri` publishes (migrations 0008 and 0015).

A run finds a stored item by its id, else by its URL as published. Items stored while that
form was another (before URLs were published percent-encoded; before escapes were written
as RFC 3986 compares them, `%c3%a9` as `%C3%A9` and `%7E` as `~`) keep the URL they were
stored with: the next run would not find them by URL and would store the story a second
time. This rewrites each stored item URL, and each URL a translation claim names, to the
form published now. Ids do not change (an item's id is made once and stays).

When two stored items have one published URL (the site linked the story in one spelling on
one run and in another on the next), they become one: the older item (first seen earlier)
keeps its id, first sighting, publication date, source links, push deliveries and
translation group, and takes the content last seen of the two. The other's source links,
deliveries and translation claims join it; where the older one already has the same (a
delivery to the same target and recipient, a claim of the same URL, a translation group),
the older one's stays; a source link keeps the earlier first sighting. Two claims of one
item that name one URL become one.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from syndicator.uris import uri

# The columns this reads and writes (all there from 0007 on), untyped: values are copied as
# the database returns them, so SQLite's timestamp text and PostgreSQL's timestamptz both
# pass unchanged.
_CONTENT = ("title", "summary", "content", "image", "author", "categories", "language",
            "content_hash")
_ITEMS = sa.table("items", *(sa.column(name) for name in (
    "id", "url", *_CONTENT, "published", "published_precision", "updated", "first_seen",
    "last_seen")))
_LINKS = sa.table("item_sources", sa.column("item_id"), sa.column("source_id"),
                  sa.column("first_seen"))
# What refers to an item, with the columns that tell one of its rows from another.
_REFERRERS = (
    (_LINKS, ("source_id",)),
    (sa.table("deliveries", sa.column("item_id"), sa.column("target_id"),
              sa.column("recipient")), ("target_id", "recipient")),
    (sa.table("translation_claims", sa.column("item_id"), sa.column("url")), ("url",)),
    (sa.table("translation_groups", sa.column("item_id")), ()),
)


def publish_item_urls(conn: sa.Connection) -> None:
    """Rewrite every stored item URL and claimed URL to its published form, merging the
    items that then share one (see the module docstring)."""
    for item_id, url in conn.execute(sa.select(_ITEMS.c.id, _ITEMS.c.url)).all():
        published = uri(url)
        if published == url:
            continue
        other = conn.execute(sa.select(_ITEMS).where(_ITEMS.c.url == published)).first()
        if other is None or other.id == item_id:
            conn.execute(_ITEMS.update().where(_ITEMS.c.id == item_id).values(url=published))
            continue
        this = conn.execute(sa.select(_ITEMS).where(_ITEMS.c.id == item_id)).one()
        _merge(conn, this, other, published)

    _publish_claims(conn)

def _merge(conn: sa.Connection, one: sa.Row[Any], two: sa.Row[Any], url: str) -> None:
    """Make two stored items of one published URL one item (see the module docstring)."""
    keep, drop = sorted((one, two), key=lambda row: (row.first_seen, row.id))
    latest = max((one, two), key=lambda row: (row.last_seen, row.id))
    for table, keys in _REFERRERS:
        for row in conn.execute(sa.select(table).where(table.c.item_id == drop.id)).all():
            same = sa.and_(sa.true(), *(table.c[key] == row._mapping[key] for key in keys))
            known = conn.execute(sa.select(table).where(
                (table.c.item_id == keep.id) & same)).first()
            if known is None:
                conn.execute(table.update().where((table.c.item_id == drop.id) & same)
                             .values(item_id=keep.id))
            elif table is _LINKS and row.first_seen < known.first_seen:
                conn.execute(table.update().where((table.c.item_id == keep.id) & same)
                             .values(first_seen=row.first_seen))
        conn.execute(table.delete().where(table.c.item_id == drop.id))
    conn.execute(_ITEMS.delete().where(_ITEMS.c.id == drop.id))
    conn.execute(_ITEMS.update().where(_ITEMS.c.id == keep.id).values(
        url=url, **{name: getattr(latest, name) for name in _CONTENT},
        updated=max(one.updated, two.updated, keep.published),
        last_seen=max(one.last_seen, two.last_seen)))


def _publish_claims(conn: sa.Connection) -> None:
    """Each claimed URL in its published form; a claim the item already makes of that form
    is kept, the other dropped."""
    claims = sa.table("translation_claims", sa.column("item_id"), sa.column("url"))
    for item_id, url in conn.execute(sa.select(claims.c.item_id, claims.c.url)).all():
        published = uri(url)
        if published == url:
            continue
        this = (claims.c.item_id == item_id) & (claims.c.url == url)
        known = conn.execute(sa.select(claims.c.url).where(
            (claims.c.item_id == item_id) & (claims.c.url == published))).first()
        if known is None:
            conn.execute(claims.update().where(this).values(url=published))
        else:
            conn.execute(claims.delete().where(this))
