"""Build every configured feed from the store and write it, the index and the OPML atomically.

    store (newest items) ──filter (include/exclude)──▶ window ──render──▶ .rss .atom .json
                                                               └──────▶ index.html feeds.opml
    archive state + what changed since ──archive.py──▶ archive/<feed id>/<n>.rss .atom .json

The filter and the newest-N loop are selection.py's, shared with query answers and push.
Archive pages are written (and made durable) before the current documents that link to them.
Every document carries the WebSub hub (`websub.hub`) next to its self link.

A file whose bytes did not change is not rewritten, so its mtime (and the validators a web
server derives from it) only move when the feed really changed.

On a store that shares build output (PostgreSQL, publish/shared.py) the build first writes
what other instances shared since the output folder's marker (so it starts from the
cluster's archive state and feed summaries), and, after rendering, shares what it wrote and
what it found unchanged through the store, where every serving process of the cluster picks
it up. The site-wide files (index, OPML, summaries: publish/site.py) are rendered again in
the share, from every feed's summary as the cluster shares it, so that builds of different
feeds at once keep each other's lines. It holds the folder's lock while it catches up,
and again from writing its current documents until the share commits, so that the folder's
follower never writes an older shared file over them; rendering does not hold it up.
Archive pages are written before that (a full page's items never change, so a page the
follower writes meanwhile is another build's rendering of the same items).

With `only`, the other feeds are not read at all: the index lists them as their last build
left them (`.state/summaries.json`), so a service rebuilding one source's feeds after a run
does not pay for every feed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from syndicator.config import Config, FeedConfig
from syndicator.errors import ConfigError
from syndicator.model import Item
from syndicator.publish import archive, common, pagerender, parallel, shared, site
from syndicator.publish.feeds import render_feed
from syndicator.publish.links import FeedLinks
from syndicator.publish.pages import FeedSummary
from syndicator.publish.pagewriter import replace_file
from syndicator.publish.writer import fsync_threads, write_atomic
from syndicator.selection import Filter, leaving_out, newest
from syndicator.stories import left_out, with_versions

log = logging.getLogger(__name__)

# Filtered feeds page through the store; stop after this many items even if fewer than
# `limit` passed, so that a rarely matching `include` does not scan all history every build.
MAX_SCANNED = 20_000
_MIN_PAGE = 100


class FeedItemSource(Protocol):
    """What the build needs from the store: items of some sources, newest first."""

    def latest(self, source_ids: Sequence[str], *, limit: int,
               offset: int = 0) -> list[Item]: ...


@runtime_checkable
class _FastSource(Protocol):
    """The store's light reads (Store has them): choose by heads, then read only the chosen."""

    def latest_heads(self, source_ids: Sequence[str], *, limit: int, offset: int = 0,
                     text: bool = True) -> list[_Head]: ...

    def items_for_build(self, ids: Iterable[str]) -> dict[str, Item]: ...


class _Head(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def summary(self) -> str: ...


@dataclass(frozen=True)
class BuildResult:
    written: tuple[Path, ...]
    unchanged: tuple[Path, ...]
    feeds: tuple[FeedSummary, ...]
    # Peak memory (MB) of each worker process that shared the archive pass (a full build),
    # to count beside this process's own.
    worker_peaks_mb: tuple[float, ...] = ()
    # The archive state files (not published) and the stale archive pages deleted.
    states: tuple[Path, ...] = ()
    removed: tuple[Path, ...] = ()
    # The version the build's files were shared under (None: not shared, or nothing new).
    shared_version: int | None = None
    # Every configured feed's summary (publish/site.py), the site-wide files' source.
    entries: Mapping[str, site.Entry] = field(default_factory=dict)


def select_items(feed: FeedConfig, store: FeedItemSource) -> list[Item]:
    """The newest `feed.limit` items of the feed's sources that pass its filter, newest first.

    Without a filter one query suffices; with one the store is read in pages until enough
    items passed, the store runs out, or MAX_SCANNED items were looked at. A store with light
    reads (`latest_heads`) is asked for the content of the chosen items only.
    """
    keep = Filter.of(feed)
    text_passes: Callable[[_Head], bool] | None = keep.accepts if keep.active else None
    accepts = leaving_out(left_out(feed, store), text_passes)
    if not isinstance(store, _FastSource):
        page = feed.limit if accepts is None else max(feed.limit * 2, _MIN_PAGE)
        return newest(lambda limit, offset: store.latest(feed.sources, limit=limit,
                                                         offset=offset),
                      feed.limit, accepts=accepts, page=page, max_scanned=MAX_SCANNED)
    # Heads are light: a filtered feed reads more per round trip.
    page = feed.limit if accepts is None else max(feed.limit * 10, 5 * _MIN_PAGE)
    heads = newest(lambda limit, offset: store.latest_heads(feed.sources, limit=limit,
                                                            offset=offset, text=keep.active),
                   feed.limit, accepts=accepts, page=page, max_scanned=MAX_SCANNED)
    found = store.items_for_build([head.id for head in heads])
    # An item could vanish between the two reads only if items were deleted; skip it then.
    return [found[head.id] for head in heads if head.id in found]


def build_feeds(config: Config, store: FeedItemSource, now: datetime, *,
                only: Iterable[str] | None = None,
                workers: parallel.Lender | None = None,
                prune_removed: bool = False) -> BuildResult:
    """Render and write every feed (or only the feeds with ids in `only`) plus the index and
    the OPML list. Archives are kept up to date when the store can tell what changed
    (archive.ArchiveSource). `workers`: running worker processes (the App's page workers)
    that a large archive pass may borrow, e.g. after a crawl, when they sit idle.

    On a store that shares build output, the files are then shared through it (see the
    module docstring); its StoreError is the build's. `prune_removed` (a full build only):
    also remove, in every instance's folder, the shared files of feeds this configuration
    does not have; an ordinary build never does (the cluster may run a newer one)."""
    share = shared.sharing(store)
    if share is None:
        with pagerender.no_gc():
            return _build(config, store, now, only, workers)
    output = config.output_path
    # Taken before anything is read: the share never replaces what a build that read
    # from a newer mark shared (a late build: paused and swept, or outside the job lock).
    mark = share.build_mark()
    with pagerender.no_gc(), contextlib.ExitStack() as held:
        # From the cluster's latest archive state and feed summaries, whoever built them.
        with shared.folder_lock(output):
            shared.apply_shared(output, share)
        # Rendered without the lock, so that the folder's follower is not held up by it;
        # held again from the current documents' writes until the share commits.
        result = _build(config, store, now, only, workers,
                        lambda: held.enter_context(shared.folder_lock(output)), mark=mark)
        prune = prune_removed and only is None
        # The site-wide files are rendered again inside the share, from every feed's
        # summary as the cluster shares it, and written here as the share rendered them.
        rendered = site.SharedSite(config, result.entries, now, prune=prune)
        files = [path for path in (*result.written, *result.states, *result.unchanged)
                 if shared.relative(output, path) not in site.SITE_PATHS]
        version = shared.share_build(config, share, files, result.removed, now,
                                     prune=prune, mark=mark, site=rendered)
        for name, data in rendered.files.items():
            write_atomic(output / name, data)
        # What a newer build shared of the same paths replaces this build's files here too.
        shared.take_back(output, share,
                         [shared.relative(output, path) for path in (*files, *result.removed)],
                         mark)
    return replace(result, shared_version=version)


def _build(config: Config, store: FeedItemSource, now: datetime,
           only: Iterable[str] | None, workers: parallel.Lender | None,
           before_writing: Callable[[], object] = lambda: None, *, mark: int = 0) -> BuildResult:
    """The build; `before_writing` is called before the state files and the current
    documents are written (after the archive pages). `mark`: the build mark the feeds'
    summaries are recorded with (taken before the build read the store)."""
    selected = _selected_ids(config, only)
    built = [feed for feed in config.feeds if feed.id in selected]
    # A grouped feed's items change as translations arrive (a story's preferred version
    # replaces the one shown): it keeps no archive, its window is chosen afresh.
    archived = [feed for feed in built if feed.translations == "all"]
    prepared = (archive.Prepared(config, archived, store,
                                 {f.id: Filter.of(f).accepts for f in archived})
                if isinstance(store, archive.ArchiveSource) else None)
    windows: dict[str, list[Item]] = {}
    for feed in built:
        found = (prepared.window(feed, store) if prepared is not None
                 and feed.id in prepared.plans
                 and isinstance(store, archive.ArchiveSource) else None)
        windows[feed.id] = found if found is not None else select_items(feed, store)
    # Only a store that keeps archives gets the summaries record (and a .state folder).
    keeps_state = isinstance(store, archive.ArchiveSource)
    entries = _summaries(config, store, windows, mark, remembered=keeps_state)
    site_files = site.site_files(config, entries, now)
    written: list[Path] = []
    unchanged: list[Path] = []
    # Written after the archive pages are durable (Archives.finish returns then), together:
    # the state files (not published, so not reported) and the current documents.
    state_writes: list[tuple[Path, bytes]] = []
    pages: archive.Archives | None = None
    if prepared is not None and isinstance(store, archive.ArchiveSource) and archived:
        pages = archive.build_archives(config, prepared, store, windows,
                                       lambda path, data: state_writes.append((path, data)),
                                       now, lender=workers)
    if keeps_state:
        state_writes.append((config.output_path / site.SUMMARIES_PATH,
                             site_files[site.SUMMARIES_PATH]))
    try:
        # Rendered while the archive pages' fsyncs wait for the disk.
        jobs = _documents(config, built, windows, pages.feeds if pages else {}, now, store)
        jobs += [(config.output_path / name, site_files[name])
                 for name in (shared.INDEX_FILE, shared.OPML_FILE)]
    finally:
        if pages is not None:
            pages_written, pages_unchanged = pages.finish()
            written += pages_written
            unchanged += pages_unchanged
    # State files are not fsynced: a lost or stale one only makes the next build re-read
    # more (an older mark) or re-plan the feed, and they follow the durable pages. They are
    # written beside the current documents, whose fsyncs wait for the disk.
    before_writing()
    pool = fsync_threads()
    states = [pool.submit(replace_file, path, data) for path, data in state_writes]
    try:
        changes = list(pool.map(lambda job: write_atomic(*job), jobs))
    finally:
        futures.wait(states)
    for state in states:
        state.result()      # raises the first failure, if any
    for (path, _), changed in zip(jobs, changes, strict=True):
        (written if changed else unchanged).append(path)
    return BuildResult(written=tuple(written), unchanged=tuple(unchanged),
                       feeds=tuple(s for s in site.summaries(config, entries, now)
                                   if s.feed.id in selected),
                       worker_peaks_mb=tuple(pages.worker_peaks_mb) if pages else (),
                       states=tuple(path for path, _ in state_writes),
                       removed=tuple(pages.removed) if pages else (), entries=entries)


def _documents(config: Config, built: Sequence[FeedConfig], windows: dict[str, list[Item]],
               archives: dict[str, archive.FeedArchive],
               now: datetime, store: FeedItemSource) -> list[tuple[Path, bytes]]:
    """The current documents of the built feeds: (path, bytes).
    Their items link the other language versions of their stories (archive pages, written
    once, do not: a translation published later would never reach them)."""
    output = config.output_path
    jobs: list[tuple[Path, bytes]] = []
    hub = config.websub.hub
    for feed in built:
        items = windows[feed.id]
        outcome = archives.get(feed.id)
        if outcome is not None:
            items = outcome.current_items(items)
        items = with_versions(items, store)
        for ext in common.FORMATS:
            links = (archive.current_links(config.site, feed, outcome.pages, ext, hub=hub)
                     if outcome is not None else FeedLinks(hub=hub))
            jobs.append((output / f"{feed.id}.{ext}",
                         render_feed(ext, feed, items, config.site, now, links=links)))
    return jobs


def _summaries(config: Config, store: FeedItemSource, windows: dict[str, list[Item]],
               mark: int, *, remembered: bool) -> dict[str, site.Entry]:
    """Every configured feed's summary: from its window when built now, else from the last
    build's record if `remembered` (read from the store when there is none)."""
    known = site.read_entries(config) if remembered else {}
    entries: dict[str, site.Entry] = {}
    for feed in config.feeds:
        items = windows.get(feed.id)
        if items is None and feed.id in known:
            entries[feed.id] = known[feed.id]
            continue
        if items is None:
            items = select_items(feed, store)
        entries[feed.id] = site.entry(feed, items, mark)
    return entries


def _selected_ids(config: Config, only: Iterable[str] | None) -> set[str]:
    known = {feed.id for feed in config.feeds}
    if only is None:
        return known
    wanted = set(only)
    unknown = sorted(wanted - known)
    if unknown:
        raise ConfigError(f"unknown feed {', '.join(map(repr, unknown))} "
                          f"(known: {', '.join(sorted(known)) or 'none'})")
    return wanted
