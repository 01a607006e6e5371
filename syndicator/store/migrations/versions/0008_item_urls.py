"""Item URLs as they are published: every stored item URL in its URI form (uris.uri).

Items stored before URLs were published percent-encoded keep the URL as it was found
(`…/insert value here`, `…/новости`), while a run looks its cards up by the published form:
such an item was not found until its listing card changed. This rewrites each stored URL to
its published form, so the next poll finds it. Ids do not change (an item's id is made once,
from the URL as first found, and stays).

When two stored items have one published URL (the site linked the story unencoded on one
run and encoded on another), they become one (store/migrations/item_urls.py, which 0015
runs again for the form published since).

Downgrade leaves the URLs encoded and merged items merged: both are valid at 0007.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

from syndicator.store.migrations.item_urls import publish_item_urls

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    publish_item_urls(op.get_bind())


def downgrade() -> None:
    """Nothing to undo: encoded URLs and merged items are valid at 0007 too."""
