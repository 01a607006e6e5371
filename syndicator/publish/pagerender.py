"""Rendering archive pages: `render_pages` and what it needs, and no more, because a full
build's worker process (parallel.py) imports this module and its imports are that process's
memory.

The pages themselves, how they are cut and kept up to date: archive.py.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from syndicator.errors import PublishError
from syndicator.model import Item
from syndicator.publish import common, feeds
from syndicator.publish.links import FeedLinks
from syndicator.publish.pagewriter import PageWriter

if TYPE_CHECKING:  # types only: the worker process unpickles configs, it need not build them
    from syndicator.config import Config, FeedConfig, SiteConfig

ARCHIVE_DIR = "archive"
# Bump to re-render every archive page once (e.g. after a fix in how pages are written).
LAYOUT_VERSION = 1
# Upper bound on the rendered items kept for later pages of a pass (bytes of their three
# entries): normally an item leaves the cache after the last page that holds it, long
# before this.
CACHE_BYTES = 8_000_000
# Items fetched from the store per round trip during a full pass.
FETCH_BATCH = 500

# A position in a feed's join order: (entered, published, item id); times are store time keys.
Key = tuple[str, str, str]


class ItemReader(Protocol):
    """What rendering pages reads from the store: the items, by id."""

    def items_for_build(self, ids: Iterable[str]) -> dict[str, Item]: ...


@dataclass
class PageJob:
    """One archive page to render."""

    feed: FeedConfig
    identity: str
    number: int
    ids: list[str]
    last: Key


def page_digest(identity: str, page_size: int, number: int,
                entries: Iterable[tuple[str, str, str, str]]) -> str:
    """Digest of a page from its entries' (id, content hash, published, updated); dates as
    RFC 3339 UTC whole seconds, as the documents show them.

    Written as lines of space-separated fields (none can hold a space or a newline: the
    identity, ids and content hashes are hexadecimal, the dates RFC 3339), not as JSON: a
    full build digests thousands of pages, and this is several times faster than json.dumps."""
    lines = [f"{LAYOUT_VERSION} {identity} {page_size} {number}"]
    lines += (" ".join(entry) for entry in entries)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def archive_url(site: SiteConfig, feed: FeedConfig, number: int, ext: str) -> str:
    return f"{site.base_url}{ARCHIVE_DIR}/{feed.id}/{number}.{ext}"


def archive_path(output: Path, feed: FeedConfig, number: int, ext: str) -> Path:
    return output / ARCHIVE_DIR / feed.id / f"{number}.{ext}"


def page_links(site: SiteConfig, feed: FeedConfig, number: int, ext: str) -> FeedLinks:
    """Links of archive page `number`: itself, the subscription document, the older page."""
    return FeedLinks(self_url=archive_url(site, feed, number, ext),
                     current=common.feed_url(site, feed, ext),
                     prev_archive=archive_url(site, feed, number - 1, ext) if number > 1
                     else None,
                     archive=True)


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """The cyclic collector off during a build: a full build allocates millions of
    short-lived objects (no cycles among them) and the collections they trigger cost ~10 % of
    it, each gen-2 pass walking every object alive; an incremental build is over before a
    collection would free anything worth the walk. Garbage with cycles is collected after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def render_pages(config: Config, output: Path, jobs: Sequence[PageJob], store: ItemReader,
                 writer: PageWriter, now: datetime,
                 known: Mapping[str, Item]) -> list[tuple[str, int, str]]:
    """Render the pages of `jobs` (sorted by their last join keys) into `writer`; returns
    (feed id, page number, digest) of each.

    Pages of overlapping feeds that hold the same items come close together in that order, so
    each item is rendered once and kept only until the last page of this pass that holds it
    (an "everything" feed and a source's feed share every item). The cache is also capped in
    size (CACHE_BYTES) for feeds whose join orders disagree; an item evicted early is read
    and rendered again when a later page needs it."""
    last_use: dict[str, int] = {}
    for index, job in enumerate(jobs):
        for item_id in job.ids:
            last_use[item_id] = index
    cache: dict[str, feeds.Rendered] = {}
    size = 0
    done: list[tuple[str, int, str]] = []
    start = 0
    while start < len(jobs):
        # Fetch the missing items of the next few pages in one round trip; each is rendered
        # when its first page is (a rendered item holds ~3 times its text).
        end, wanted = start, set[str]()
        while end < len(jobs) and len(wanted) < FETCH_BATCH:
            wanted.update(i for i in jobs[end].ids if i not in cache)
            end += 1
        # Items of the current windows (read already) are not read again: a page that just
        # completed is mostly the previous window.
        fetched = store.items_for_build([i for i in wanted if i not in known])
        for index in range(start, end):
            job = jobs[index]
            entries = []
            for item_id in job.ids:
                entry = cache.get(item_id)
                if entry is None:
                    entry = _render_item(item_id, known, fetched, job)
                    cache[item_id] = entry
                    size += entry.size
                entries.append(entry)
            done.append((job.feed.id, job.number, _write_page(config, output, job, entries,
                                                              writer, now)))
            for item_id in job.ids:
                if last_use[item_id] == index and item_id in cache:
                    size -= cache.pop(item_id).size
        del fetched
        while size > CACHE_BYTES and cache:   # oldest first (dicts keep insertion order)
            size -= cache.pop(next(iter(cache))).size
        start = end
    return done


def _render_item(item_id: str, known: Mapping[str, Item], fetched: dict[str, Item],
                 job: PageJob) -> feeds.Rendered:
    """The item rendered; a fetched Item is dropped once rendered (the cache holds that).
    An item of a current window is taken from the entries the current documents keep (a page
    that completes is mostly the previous current document)."""
    item = known.get(item_id)
    if item is not None:
        return feeds.entry(item)
    item = fetched.pop(item_id, None)
    if item is None:
        raise PublishError(f"item {item_id} vanished while its archive page was being "
                           "written; build again", feed=job.feed.id)
    return feeds.render_item(item)


def _write_page(config: Config, output: Path, job: PageJob, entries: list[feeds.Rendered],
                writer: PageWriter, now: datetime) -> str:
    """Queue the page's documents; returns its digest (over the join order)."""
    digest = page_digest(job.identity, job.feed.limit, job.number,
                         [r.digest_entry for r in entries])
    # The document newest first, as the current one.
    entries.sort(key=lambda r: (r.published, r.id), reverse=True)
    frame = feeds.frame_for(job.feed, config.site, entries, now)   # once for 3 formats
    for ext in common.FORMATS:
        links = page_links(config.site, job.feed, job.number, ext)
        writer.submit(archive_path(output, job.feed, job.number, ext),
                      feeds.document(ext, replace(frame, links=links), entries))
    return digest
