"""Item URLs as they are published: every stored item URL in its URI form (uris.uri).

Items stored before URLs were published percent-encoded keep the URL as it was found
(`…/insert value here`, `…/новости`), while a run looks its cards up by the published form:
such an item was not found until its listing card changed. This rewrites each stored URL to
its published form, so the next poll finds it. Ids do not change (an item's id is made once,
from the URL as first found, and stays).

When two stored items have one published URL (the site linked the story unencoded on one
run and encoded on another), they become one: the older item (first seen earlier) keeps its
id, first sighting, publication date, source links, push deliveries and translation group,
and takes the content last seen of the two. The other's source links, deliveries and
translation claims join it; where the older one already has the same (a delivery to the
same target and recipient, a claim of the same URL, a translation group), the older one's
stays; a source link keeps the earlier first sighting.

Downgrade leaves the URLs encoded and merged items merged: both are valid at 0007.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from syndicator.uris import uri

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

# The tables as they are at 0007, with untyped columns: values are copied as the database
# returns them, so SQLite's timestamp text and PostgreSQL's timestamptz both pass unchanged.
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


def upgrade() -> None:
    conn = op.get_bind()
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


def downgrade() -> None:
    """Nothing to undo: encoded URLs and merged items are valid at 0007 too."""


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
