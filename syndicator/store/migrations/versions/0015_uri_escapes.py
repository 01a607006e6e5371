"""Stored item URLs with their escapes written as RFC 3986 compares them.

Items are told apart by their URL as published (uris.uri), which now writes every spelling
of one URL alike: the hex of an escape in upper case (`%c3%a9` is `%C3%A9`) and an escaped
unreserved character as itself (`%7E` is `~`). Items stored before keep the id they were
given; a run finds them by their URL, so each stored item URL (and each URL a translation
claim names) is rewritten to that form here, and two items that were one story linked in
two spellings become one (store/migrations/item_urls.py).

Downgrade leaves the URLs rewritten and merged items merged: both are valid at 0014.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

from syndicator.store.migrations.item_urls import publish_item_urls

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    publish_item_urls(op.get_bind())


def downgrade() -> None:
    """Nothing to undo: rewritten URLs and merged items are valid at 0014 too."""
