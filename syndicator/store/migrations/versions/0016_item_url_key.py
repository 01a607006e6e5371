"""Items are found by the key every spelling of their URL shares.

`items.url_key`: `uris.uri_key` of the item's URL (the hex of each `%xx` in upper case, an
escaped unreserved character as itself, an IRI as its URI), indexed. A run looks its
entries' stored items up by it (store/items.py, items_by_url), so an item stored under
`/caf%c3%a9` is the item of a link spelt `/café` or `/caf%C3%A9` now: an item whose id was
made before ids came from that key (from the URL as it was found) is no longer stored a
second time when its link turns up in another spelling. Existing rows get their key here.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from syndicator.uris import uri_key

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None

_ITEMS = sa.table("items", sa.column("id"), sa.column("url"), sa.column("url_key"))
_BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("url_key", sa.Text(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.select(_ITEMS.c.id, _ITEMS.c.url)).all()
    update = (_ITEMS.update().where(_ITEMS.c.id == sa.bindparam("item_id"))
              .values(url_key=sa.bindparam("key")))
    for start in range(0, len(rows), _BATCH):
        conn.execute(update, [{"item_id": item_id, "key": uri_key(url)}
                              for item_id, url in rows[start:start + _BATCH]])
    # No NOT NULL and the index made on its own: on SQLite either in a batch would copy
    # the table, and dropping the old copy would take the rows that refer to it (ON
    # DELETE CASCADE) with it. Every item written sets the key (store/items.py).
    op.create_index("ix_items_url_key", "items", ["url_key"])


def downgrade() -> None:
    op.drop_index("ix_items_url_key", table_name="items")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("url_key")
