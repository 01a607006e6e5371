"""The tables of the store, as SQLAlchemy Core metadata, and the two column types they need.

The Alembic migrations in `migrations/versions/` create exactly these tables; this module is
what the queries in `store.py` are written against. `tests/test_store.py` checks that the
two agree.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so later migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back as a UTC-aware datetime.

    SQLite has no time-zone type and drops tzinfo; PostgreSQL's timestamptz returns values in
    the session time zone. Both come back as UTC here. Naive input is refused (ValueError):
    a naive datetime is a bug upstream, and guessing its zone would corrupt the data silently.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: pass an aware datetime")
        value = value.astimezone(UTC)
        # SQLite stores text; a fixed UTC wall-clock form keeps string order == time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JSONText(TypeDecorator[Any]):
    """A JSON value kept as text: the same bytes on SQLite and PostgreSQL, no JSON operators."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


metadata = MetaData(naming_convention=NAMING_CONVENTION)

items = Table(
    "items",
    metadata,
    Column("id", Text, primary_key=True),
    Column("url", Text, nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("image", Text),
    Column("author", Text),
    Column("categories", JSONText, nullable=False),   # JSON list of strings
    Column("language", Text),
    Column("published", UTCDateTime, nullable=False),
    Column("published_precision", Text, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    # What the source names the story by among those on its page (Item.entry_key; 0010).
    Column("entry_key", Text),
    # uris.uri_key of `url`, which every spelling of it shares: what a run looks its
    # entries' stored items up by (store/items.py, items_by_url; 0016). Every write sets it.
    Column("url_key", Text),
    Index("ix_items_url_key", "url_key"),
    # The feed query: newest first, ties broken by id, so paging is stable.
    Index("ix_items_published_id", "published", "id"),
    # Incremental builds: what was stored or seen since the previous build (migration 0004).
    Index("ix_items_last_seen", "last_seen"),
)

# An article may show up in several sources' listings (news + a category page); it is one
# item, linked to every source that saw it, so it appears in each source's feed.
item_sources = Table(
    "item_sources",
    metadata,
    Column("item_id", Text, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("source_id", Text, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("item_id", "source_id"),
    Index("ix_item_sources_source_id", "source_id"),
)

url_state = Table(
    "url_state",
    metadata,
    Column("url", Text, primary_key=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("listing_hash", Text),
    Column("fetched_at", UTCDateTime),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_id", Text, nullable=False),
    Column("started", UTCDateTime, nullable=False),
    Column("finished", UTCDateTime, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("pages", Integer, nullable=False),
    Column("not_modified", Integer, nullable=False),
    Column("items_seen", Integer, nullable=False),
    Column("new", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("errors", JSONText, nullable=False),          # JSON list of strings
    Column("warnings", JSONText, nullable=False),        # JSON list of strings
    Column("missing_fields", JSONText, nullable=False),  # JSON object field -> count
    # PostgreSQL: the id of the transaction that wrote the run (migration 0014), which build
    # marks compare against (builds.py); NULL on SQLite, whose marks are run ids.
    Column("xid", BigInteger),
    Index("ix_runs_source_id_started", "source_id", "started"),
    Index("ix_runs_xid", "xid"),
)

# Progress of `syndicator fetch --backfill`, so an interrupted walk resumes where it stopped.
backfill_state = Table(
    "backfill_state",
    metadata,
    Column("source_id", Text, primary_key=True),
    Column("next_url", Text),                            # None once the walk is complete
    Column("pages_done", Integer, nullable=False),
    Column("started", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Column("finished", UTCDateTime),
)

# --- push (migration 0003) ---------------------------------------------------------------------

# The outbox: one row per item and push target (and, for email, per subscriber address;
# Telegram rows have recipient ""). Written in the transaction that stores the item, so an
# item is never stored without its deliveries nor a delivery written for an unstored item.
# state: pending → sending → sent | failed (retried at next_at) | dead | unknown; suppressed.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Text, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("target_id", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("action", Text, nullable=False),               # "send" | "edit" (on_update: edit)
    Column("attempts", Integer, nullable=False),
    Column("next_at", UTCDateTime),                       # not before; None = at once
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Column("claimed_at", UTCDateTime),                    # when a push job took it
    Column("claim", Text),                                # which job took it
    Column("message_ids", JSONText, nullable=False),      # JSON list of sent message ids
    Column("error", Text),                                # last failure, or why suppressed
    UniqueConstraint("item_id", "target_id", "recipient"),
    Index("ix_deliveries_target_id_state_next_at", "target_id", "state", "next_at"),
)

# What a push target remembers between runs: when it was first seen, a Telegram chat id it
# migrated to, whether it is paused (and why), and a 429 hold for the whole chat.
push_targets = Table(
    "push_targets",
    metadata,
    Column("target_id", Text, primary_key=True),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("chat_id", Text),
    Column("paused", Boolean, nullable=False),
    Column("paused_reason", Text),
    Column("paused_at", UTCDateTime),
    Column("hold_until", UTCDateTime),
)

# Which sources each target has already seen: a source's first run for a target (a new
# target, a new source in its feeds, a fresh database) is suppressed instead of flooding.
push_sources = Table(
    "push_sources",
    metadata,
    Column("target_id", Text, nullable=False),
    Column("source_id", Text, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("target_id", "source_id"),
)

# Email subscribers per email target. status: pending (awaiting confirmation), confirmed,
# unsubscribed, bounced (a 5xx refusal suppressed the address).
subscribers = Table(
    "subscribers",
    metadata,
    Column("target_id", Text, nullable=False),
    Column("email", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime),
    Column("reason", Text),
    # The languages the subscriber reads, in order (migration 0007): each story once, in
    # the first of them it exists in. JSON list; NULL: every item, whatever its language.
    Column("languages", JSONText),
    # How the subscriber reads (migration 0009): item | daily | weekly; NULL: the target's
    # `mode` (push/rhythm.py).
    Column("rhythm", Text),
    PrimaryKeyConstraint("target_id", "email"),
)

# Confirmation mails of sign-ups through the web forms (migration 0005): the request only
# adds a row, the push job decides and sends, so a sign-up's answer never waits on SMTP nor
# depends on the address's state. state: queued → sending → sent | failed (retried at
# next_at) | dead | unknown (no answer mid-transfer: not resent) | skipped (no mail needed).
signups = Table(
    "signups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("target_id", Text, nullable=False),
    Column("email", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_at", UTCDateTime),                       # not before; None = at once
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Column("claimed_at", UTCDateTime),
    Column("claim", Text),
    Column("error", Text),
    # The choice made on the form (migration 0009), given to the address when it is
    # confirmed: languages (JSON list; NULL: every item) and rhythm (NULL: the target's).
    Column("languages", JSONText),
    Column("rhythm", Text),
    Index("ix_signups_target_id_state_next_at", "target_id", "state", "next_at"),
    Index("ix_signups_target_id_email", "target_id", "email"),
)

# --- translations (migration 0006) -------------------------------------------------------------

# What each item's page names as its other-language versions (store/translations.py): its
# claims, by the URL named, so that a claim waits for an item not stored yet. Replaced
# whenever the page is read again.
translation_claims = Table(
    "translation_claims",
    metadata,
    Column("item_id", Text, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("url", Text, nullable=False),
    Column("language", Text),
    PrimaryKeyConstraint("item_id", "url"),
    Index("ix_translation_claims_url", "url"),
)

# The stories: items joined by claims both sides make, one row per member of a group of two
# or more; group_id is the smallest member id. Rebuilt for the groups a save touches.
translation_groups = Table(
    "translation_groups",
    metadata,
    Column("item_id", Text, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", Text, nullable=False),
    Index("ix_translation_groups_group_id", "group_id"),
)

# --- jobs (migration 0011) ---------------------------------------------------------------------

# When each scheduled job of the cluster engine is due next (syndicator/jobs/): one row per
# key, "source:<id>" or "push". The dispatcher claims due rows with
# FOR UPDATE SKIP LOCKED and moves them on in the transaction that queues their jobs.
job_schedule = Table(
    "job_schedule",
    metadata,
    Column("key", Text, primary_key=True),
    Column("next_due_at", UTCDateTime, nullable=False),
    Index("ix_job_schedule_next_due_at", "next_due_at"),
)

# The job engine's own tables, functions and types (procrastinate_*, created by migration
# 0011 on PostgreSQL) are not described here: procrastinate's SQL owns them.
FOREIGN_PREFIX = "procrastinate_"


def described_here(name: str | None, type_: str, _parent: object) -> bool:
    """Alembic's include_name: whether a database object is one this metadata describes."""
    return not (type_ == "table" and name is not None and name.startswith(FOREIGN_PREFIX))

# --- shared pacing (migration 0012) -------------------------------------------------------------

# Rate state every instance on one PostgreSQL database shares (store/rates.py): per key (a
# host, a Telegram bot, a chat), the last starts given out, in seconds since the epoch on the
# database's clock, oldest first. UNLOGGED on PostgreSQL (see the migration). One process on
# SQLite keeps this in memory; the table is there, empty, so that both schemas are the same.
pacing = Table(
    "pacing",
    metadata,
    Column("key", Text, primary_key=True),
    Column("starts", ARRAY(Float(precision=53)).with_variant(Text(), "sqlite"), nullable=False),
)

# --- shared build output (migration 0013) ------------------------------------------------------

# On PostgreSQL every file a build writes into its output folder, so that every serving
# process of the cluster writes it into its own folder (publish/shared.py, outputsync.py).
# One row per path: its latest bytes (NULL: the file was removed), their SHA-256 and the
# version of the build that wrote it, and the build mark (store/builds.py) it was rendered
# from (migration 0015): a share never replaces a path rendered from a newer mark. Unused on
# SQLite (one process: its folder is the truth).
published_files = Table(
    "published_files",
    metadata,
    Column("path", Text, primary_key=True),           # relative to the output folder
    Column("version", BigInteger, nullable=False),
    Column("data", LargeBinary),
    Column("sha256", Text),
    Column("published", UTCDateTime, nullable=False),
    Column("mark", BigInteger, nullable=False, server_default="0"),
    Index("ix_published_files_version_path", "version", "path"),
)

# One row (id 1): the last version given to a build's files, and a random name of this
# database, so that a folder filled from another database is filled again. Publishing
# increments the version under this row's lock: versions commit in the order they are given.
published_state = Table(
    "published_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
    Column("database_id", Text, nullable=False),
)
