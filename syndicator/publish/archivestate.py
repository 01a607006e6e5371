"""A feed archive's pages and state, without rendering: cutting a history into pages
(plan_archive, pure) and the per-feed state file `.state/archive-<feed id>.json` (its pages'
digests and last join keys, the unarchived tail, the current window and the newest run id
accounted for). archive.py builds the archives from these; see its docstring for why the
pages are cut this way.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from syndicator.config import Config, FeedConfig
from syndicator.publish import common
from syndicator.publish.pagerender import (
    LAYOUT_VERSION,
    Key,
    page_digest,
)

if TYPE_CHECKING:  # types only: publishing does not depend on the database layer
    from syndicator.model import FeedLink, HistoryEntry

log = logging.getLogger(__name__)

STATE_DIR = ".state"
# 3: marks are the store's build marks (Store.build_mark: a transaction horizon on
# PostgreSQL), no longer run ids; a state of version 2 is re-planned from the history once.
STATE_VERSION = 3


# --- planning (pure) ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ArchivePage:
    number: int                 # 1 = oldest
    ids: tuple[str, ...]        # in join order
    digest: str                 # changes iff the page's rendered content would


@dataclass(frozen=True)
class ArchivePlan:
    pages: tuple[ArchivePage, ...]      # archived pages, oldest first
    unarchived: tuple[str, ...]         # ids in no archive page: they belong in the current


def plan_archive(entries: Sequence[HistoryEntry], window: Collection[str], page_size: int, *,
                 identity: str = "") -> ArchivePlan:
    """Cut the feed's history (already filtered, in join order) into archive pages.

    `window` holds the ids of the current document. Pages 1..m are archived, where m is the
    newest complete page holding an item outside the window. `identity` (the feed's URL)
    goes into every digest so that a new base URL re-renders the pages.
    """
    ids = [entry.id for entry in entries]
    archived = archived_count(ids, window, page_size)
    pages = tuple(
        ArchivePage(number=number, ids=tuple(ids[(number - 1) * page_size:number * page_size]),
                    digest=page_digest(identity, page_size, number, [
                        (e.id, e.content_hash, common.rfc3339(e.published),
                         common.rfc3339(e.updated))
                        for e in entries[(number - 1) * page_size:number * page_size]]))
        for number in range(1, archived + 1))
    return ArchivePlan(pages=pages, unarchived=tuple(ids[archived * page_size:]))


def archived_count(ids: Sequence[str], window: Collection[str], page_size: int) -> int:
    """How many leading complete pages are archived: up to the newest complete page that has
    an item outside the window."""
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    for number in range(len(ids) // page_size, 0, -1):
        if any(i not in window for i in ids[(number - 1) * page_size:number * page_size]):
            return number
    return 0


def time_key(value: datetime) -> str:
    """A datetime as the store's time key (FeedLink times); naive means UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def key_rfc3339(key: str) -> str:
    return f"{key[:10]}T{key[11:19]}Z"


def link_digest_entry(link: FeedLink) -> tuple[str, str, str, str]:
    return (link.item_id, link.content_hash, key_rfc3339(link.published),
            key_rfc3339(link.updated))


# --- per-feed state ------------------------------------------------------------------------------

@dataclass
class State:
    identity: str
    mark: int                                   # Store.build_mark accounted for
    digests: list[str] = field(default_factory=list)    # archived pages, oldest first
    lasts: list[Key] = field(default_factory=list)      # each page's last join key
    tail: list[Key] = field(default_factory=list)       # unarchived entries, join order
    window: list[tuple[str, str]] = field(default_factory=list)   # current: (published, id)

    def dump(self) -> bytes:
        data = {"version": STATE_VERSION, "identity": self.identity, "mark": self.mark,
                "pages": [[d, *k] for d, k in zip(self.digests, self.lasts, strict=True)],
                "tail": [list(k) for k in self.tail],
                "window": [list(k) for k in self.window]}
        return (json.dumps(data, separators=(",", ":")) + "\n").encode("utf-8")


def feed_identity(config: Config, feed: FeedConfig) -> str:
    """What cuts the pages, and the site the pages link to; a change re-plans the feed from
    its whole history (and so re-renders every page)."""
    key = [LAYOUT_VERSION, common.feed_url(config.site, feed, "atom"), feed.limit,
           sorted(feed.sources), list(feed.include), list(feed.exclude), feed.link]
    return hashlib.sha256(json.dumps(key).encode("utf-8")).hexdigest()


def state_path(config: Config, feed: FeedConfig) -> Path:
    return config.output_path / STATE_DIR / f"archive-{feed.id}.json"


def read_state(path: Path, identity: str) -> State | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != STATE_VERSION or data.get("identity") != identity:
            return None
        pages = data["pages"]
        return State(identity=identity, mark=int(data["mark"]),
                     digests=[str(p[0]) for p in pages],
                     lasts=[(str(p[1]), str(p[2]), str(p[3])) for p in pages],
                     tail=[(str(k[0]), str(k[1]), str(k[2])) for k in data["tail"]],
                     window=[(str(k[0]), str(k[1])) for k in data["window"]])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        # A damaged file only costs planning the feed from its whole history once.
        log.warning("%s unreadable (%s); planning the archive again", path, exc)
        return None
