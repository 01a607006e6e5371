"""Feed archives (RFC 5005 §4, "archived feeds"): a feed's whole history as immutable pages.

    store.feed_history(sources) ──filter──▶ entries in the order they joined the feed
        ──plan_archive──▶ pages 1..m of `feed.limit` items (1 = oldest), complete pages only
        ──render (feeds.py / jsonfeed.py)──▶ archive/<feed id>/<n>.rss .atom .json

Why the pages are cut this way:

- The order is the order items *joined* the feed (then published, id), not their publication
  date: a backfill adds old stories, and sorting by date would shift every later page, while
  the join order only ever grows at its end. So a full page never changes membership.
- Only complete pages are written, and only once at least one of their items has left the
  current document (the newest `limit` items); before that an archive page would repeat the
  subscription document. Page m (the newest archive) may still share items with the current
  document; RFC 5005 §4.2 lets readers keep the copy from the document nearest the current
  one, and every item is in exactly one archive page or only in the current document.
- Items that joined after the newest archive page but are older than the current window
  (possible right after a backfill) are added to the current document, so no item is ever
  out of reach.
- A page's bytes change only when one of its items is edited (a correction should reach
  archive readers too; caches that keep the old copy serve a stale but valid page). The
  build knows this without rendering: each page's digest over its items' ids and content
  hashes is kept in `.state/archive-<feed id>.json` (outside `archive/`, whose files are
  served as immutable); a page is rendered only when its digest changed or a file is missing.
  Changing a feed's `limit`, `sources`, filters or the site's `base_url` re-cuts the pages
  (and removes page files beyond the new count).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from syndicator.config import Config, FeedConfig, SiteConfig
from syndicator.errors import PublishError
from syndicator.model import Item
from syndicator.publish import common
from syndicator.publish.feeds import render_atom, render_rss
from syndicator.publish.jsonfeed import render_json
from syndicator.publish.links import FeedLinks

if TYPE_CHECKING:  # a type only: publishing does not depend on the database layer
    from syndicator.store.store import HistoryEntry

log = logging.getLogger(__name__)

ARCHIVE_DIR = "archive"
STATE_DIR = ".state"
# Bump to re-render every archive page once (e.g. after a fix in how pages are written).
LAYOUT_VERSION = 1


class Renderer(Protocol):
    def __call__(self, feed: FeedConfig, items: Sequence[Item], site: SiteConfig,
                 now: datetime, *, links: FeedLinks | None = None) -> bytes: ...


FORMATS: dict[str, Renderer] = {"rss": render_rss, "atom": render_atom, "json": render_json}


@runtime_checkable
class FeedHistorySource(Protocol):
    """What archiving needs from the store (Store has it; simple item sources need not)."""

    def feed_history(self, source_ids: Sequence[str]) -> list[HistoryEntry]: ...

    def items_by_id(self, ids: Iterable[str]) -> dict[str, Item]: ...


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
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    complete = len(entries) // page_size
    archived = 0
    for number in range(complete, 0, -1):
        chunk = entries[(number - 1) * page_size:number * page_size]
        if any(entry.id not in window for entry in chunk):
            archived = number
            break
    pages = tuple(
        _page(number, entries[(number - 1) * page_size:number * page_size], page_size, identity)
        for number in range(1, archived + 1))
    rest = tuple(entry.id for entry in entries[archived * page_size:])
    return ArchivePlan(pages=pages, unarchived=rest)


def _page(number: int, chunk: Sequence[HistoryEntry], page_size: int,
          identity: str) -> ArchivePage:
    key = [LAYOUT_VERSION, identity, page_size, number,
           [[e.id, e.content_hash, common.rfc3339(e.published), common.rfc3339(e.updated)]
            for e in chunk]]
    digest = hashlib.sha256(json.dumps(key).encode("utf-8")).hexdigest()
    return ArchivePage(number=number, ids=tuple(e.id for e in chunk), digest=digest)


# --- URLs and links --------------------------------------------------------------------------

def archive_url(site: SiteConfig, feed: FeedConfig, number: int, ext: str) -> str:
    return f"{site.base_url}{ARCHIVE_DIR}/{feed.id}/{number}.{ext}"


def archive_path(output: Path, feed: FeedConfig, number: int, ext: str) -> Path:
    return output / ARCHIVE_DIR / feed.id / f"{number}.{ext}"


def current_links(site: SiteConfig, feed: FeedConfig, plan: ArchivePlan | None, ext: str, *,
                  hub: str | None) -> FeedLinks:
    """Links of the subscription document: hub and the newest archive page."""
    newest = plan.pages[-1].number if plan is not None and plan.pages else None
    return FeedLinks(hub=hub, prev_archive=archive_url(site, feed, newest, ext)
                     if newest is not None else None)


def page_links(site: SiteConfig, feed: FeedConfig, number: int, ext: str) -> FeedLinks:
    """Links of archive page `number`: itself, the subscription document, the older page."""
    return FeedLinks(self_url=archive_url(site, feed, number, ext),
                     current=common.feed_url(site, feed, ext),
                     prev_archive=archive_url(site, feed, number - 1, ext) if number > 1
                     else None,
                     archive=True)


# --- building --------------------------------------------------------------------------------

@dataclass(frozen=True)
class FeedArchive:
    """The outcome for one feed: its plan and the items the current document must add."""

    plan: ArchivePlan
    extra: tuple[Item, ...]     # unarchived items outside the window (after a backfill)
    rendered: int               # archive pages rendered by this build (0 when up to date)

    def current_items(self, window: Sequence[Item]) -> list[Item]:
        """The current document's items: the window plus `extra`, newest first."""
        if not self.extra:
            return list(window)
        merged = {item.id: item for item in (*window, *self.extra)}
        return sorted(merged.values(),
                      key=lambda i: (common.utc(i.published), i.id), reverse=True)


def build_archive(config: Config, feed: FeedConfig, store: FeedHistorySource,
                  window: Sequence[Item], accepts: Callable[[HistoryEntry], bool],
                  write: Callable[[Path, bytes], None], now: datetime) -> FeedArchive:
    """Plan one feed's archive and write the pages that are missing or changed."""
    entries = [e for e in store.feed_history(feed.sources) if accepts(e)]
    identity = common.feed_url(config.site, feed, "atom")
    plan = plan_archive(entries, {item.id for item in window}, feed.limit, identity=identity)
    folder = config.output_path / ARCHIVE_DIR / feed.id
    digests_file = config.output_path / STATE_DIR / f"archive-{feed.id}.json"
    known = _read_digests(digests_file)
    rendered = 0
    for page in plan.pages:
        paths = {ext: archive_path(config.output_path, feed, page.number, ext) for ext in FORMATS}
        if known.get(str(page.number)) == page.digest and all(p.exists() for p in paths.values()):
            continue
        found = store.items_by_id(page.ids)
        items = sorted(found.values(), key=lambda i: (common.utc(i.published), i.id),
                       reverse=True)
        for ext, render in FORMATS.items():
            write(paths[ext], render(feed, items, config.site, now,
                                     links=page_links(config.site, feed, page.number, ext)))
        rendered += 1
    _remove_beyond(folder, len(plan.pages))
    digests = {str(page.number): page.digest for page in plan.pages}
    if digests != known and (plan.pages or digests_file.exists()):
        write(digests_file, (json.dumps(digests, indent=1) + "\n").encode("utf-8"))
    window_ids = {item.id for item in window}
    missing = [i for i in plan.unarchived if i not in window_ids]
    extra = tuple(store.items_by_id(missing).values()) if missing else ()
    if rendered:
        log.info("feed %s: %d archive page(s) written, %d in all", feed.id, rendered,
                 len(plan.pages))
    return FeedArchive(plan=plan, extra=extra, rendered=rendered)


def _read_digests(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        # A damaged file only costs a re-render of every page.
        log.warning("%s unreadable (%s); re-rendering the archive pages", path, exc)
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items()}


def _remove_beyond(folder: Path, count: int) -> None:
    """Delete page files numbered above `count` (left by a larger history or page size)."""
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        stem, _, ext = path.name.partition(".")
        if ext in FORMATS and stem.isdigit() and int(stem) > count:
            try:
                path.unlink()
            except OSError as exc:
                raise PublishError(f"cannot remove a stale archive page: {exc}",
                                   path=str(path)) from exc
