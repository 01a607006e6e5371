"""Feed archives (RFC 5005 §4, "archived feeds"): a feed's whole history as immutable pages.

    feed's items (its sources, after its include/exclude filters) in the order they joined it
        ──cut──▶ pages 1..m of `feed.limit` items (1 = oldest), complete pages only
        ──render (pagerender.py, feeds.py)──▶ archive/<feed id>/<n>.rss .atom .json

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
  archive readers too; caches that keep the old copy serve a stale but valid page).

How a build stays cheap (docs/history.md, "Build cost"): each feed keeps its archive state in
`.state/archive-<feed id>.json` (outside `archive/`, whose files are served as immutable):
the pages' digests and last join keys, the unarchived tail, and the newest run id it has
seen (`mark`). A build then reads only what runs after the mark stored or saw
(`Store.feed_links_changed`): new items join the tail and may complete a page; an edited item
re-digests (and re-renders) only its page. Without a usable state (first build, a changed
`limit`, `sources`, filter or `base_url`, a damaged file) the feed is planned from its whole
history in one light pass, and the pages of all such feeds are rendered in one pass over the
items in join order, so that an item shared by several feeds is rendered once.
"""

from __future__ import annotations

import bisect
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from syndicator.config import Config, FeedConfig, SiteConfig
from syndicator.errors import PublishError
from syndicator.model import Item
from syndicator.publish import common, parallel
from syndicator.publish.archivestate import (
    State,
    archived_count,
    feed_identity,
    link_digest_entry,
    read_state,
    state_path,
    time_key,
)
from syndicator.publish.history import (
    Accepts,
    entries_by_item,
    history_keys,
    key_in,
    needs_text,
)
from syndicator.publish.links import FeedLinks
from syndicator.publish.pagerender import (
    ARCHIVE_DIR,
    Key,
    PageJob,
    archive_url,
    page_digest,
    render_pages,
)
from syndicator.publish.pagewriter import Finishing, PageWriter

if TYPE_CHECKING:  # types only: publishing does not depend on the database layer
    from syndicator.model import FeedLink

log = logging.getLogger(__name__)

@runtime_checkable
class ArchiveSource(Protocol):
    """What archiving needs from the store (Store has it; simple item sources need not)."""

    def build_mark(self) -> int: ...

    def feed_links(self, source_ids: Sequence[str], *, text: bool = True,
                   first_id: str | None = None, below_id: str | None = None,
                   batch: int = 2000) -> Iterator[FeedLink]: ...

    def feed_links_changed(self, source_ids: Sequence[str],
                           after: int) -> tuple[int, list[FeedLink]]: ...

    def feed_links_entered(self, source_ids: Sequence[str], first: str,
                           last: str) -> list[FeedLink]: ...

    def items_for_build(self, ids: Iterable[str]) -> dict[str, Item]: ...


# --- URLs and links --------------------------------------------------------------------------

def current_links(site: SiteConfig, feed: FeedConfig, pages: int, ext: str, *,
                  hub: str | None) -> FeedLinks:
    """Links of the subscription document: hub and the newest of `pages` archive pages."""
    return FeedLinks(hub=hub, prev_archive=archive_url(site, feed, pages, ext)
                     if pages else None)


# --- building --------------------------------------------------------------------------------

@dataclass(frozen=True)
class FeedArchive:
    """The outcome for one feed: how many pages it has and what the current document adds."""

    pages: int                  # archived pages
    extra: tuple[Item, ...]     # unarchived items outside the window (after a backfill)
    rendered: int               # archive pages rendered by this build (0 when up to date)

    def current_items(self, window: Sequence[Item]) -> list[Item]:
        """The current document's items: the window plus `extra`, newest first."""
        if not self.extra:
            return list(window)
        merged = {item.id: item for item in (*window, *self.extra)}
        return sorted(merged.values(),
                      key=lambda i: (common.utc(i.published), i.id), reverse=True)


@dataclass
class _Feed:
    """One feed's planning during a build."""

    feed: FeedConfig
    identity: str
    window: set[str]
    accepts: Accepts
    state: State | None = None
    changed: list[list[FeedLink]] = field(default_factory=list)   # since state.mark
    new_mark: int = 0
    jobs: list[PageJob] = field(default_factory=list)
    digests: dict[int, str] = field(default_factory=dict)
    fresh: bool = False         # planned from the whole history in this build


class Prepared:
    """The feeds' archive states and what changed in the store since each was written:
    read first, because the current windows can usually be derived from them."""

    def __init__(self, config: Config, feeds: Sequence[FeedConfig], store: ArchiveSource,
                 accepts: Mapping[str, Accepts]) -> None:
        self.plans = {feed.id: _Feed(feed=feed, identity=feed_identity(config, feed),
                                     window=set(), accepts=accepts[feed.id]) for feed in feeds}
        self._output = config.output_path
        by_mark: dict[int, list[_Feed]] = {}
        for plan in self.plans.values():
            plan.state = read_state(state_path(config, plan.feed), plan.identity)
            if plan.state is not None:
                by_mark.setdefault(plan.state.mark, []).append(plan)
        # Feeds built together share their mark: one read of what changed for all of them
        # (a service's rebuild after a run builds a source's feeds, "everything" among them).
        for mark, plans in by_mark.items():
            sources = sorted({s for plan in plans for s in plan.feed.sources})
            new_mark, links = store.feed_links_changed(sources, mark)
            for plan in plans:
                plan.new_mark = new_mark
                mine = plan.feed.sources
                plan.changed = list(entries_by_item(
                    link for link in links if link.source_id in mine))

    def window(self, feed: FeedConfig, store: ArchiveSource) -> list[Item] | None:
        """The feed's current items (newest `limit` that pass its filter) from its previous
        window and what changed since, or None when that cannot tell (then the caller asks
        the store). Items of the previous window come from this process's memory when it
        wrote that state, else from the store."""
        plan = self.plans[feed.id]
        state = plan.state
        if state is None:
            return None
        ranked = {i: p for p, i in state.window}
        for group in plan.changed:
            key = key_in(feed, plan.accepts, group)
            item_id = group[0].item_id
            if item_id in ranked and (key is None or key[1] < ranked[item_id]):
                return None   # left the window or moved down: what follows is unknown
            if key is not None:
                ranked[item_id] = key[1]
        chosen = sorted(((p, i) for i, p in ranked.items()), reverse=True)[:feed.limit]
        changed = {group[0].item_id for group in plan.changed}
        known = _WINDOW_ITEMS.get((str(self._output), feed.id))
        cached = known[1] if known is not None and known[0] == (plan.identity, state.mark) \
            else {}
        wanted = [i for _, i in chosen if i in changed or i not in cached]
        found = {**cached, **store.items_for_build(wanted)} if wanted else cached
        if any(i not in found for _, i in chosen):
            return None
        return [found[i] for _, i in chosen]


# Items of the windows this process last wrote, per (output folder, feed id), valid while
# the feed's state still has the (identity, mark) they were recorded with.
_WINDOW_ITEMS: dict[tuple[str, str], tuple[tuple[str, int], dict[str, Item]]] = {}


@dataclass
class Archives:
    """What build_archives did: each feed's outcome, and the pages on their way to disk."""

    feeds: dict[str, FeedArchive]
    _durable: Finishing
    _stale: list[tuple[Path, int]]          # archive folders and their page counts
    _elsewhere: tuple[list[Path], list[Path]]   # written and unchanged by worker processes
    worker_peaks_mb: list[float]            # peak memory of each worker process of the pass
    removed: list[Path] = field(default_factory=list)   # stale pages deleted by finish()

    def finish(self) -> tuple[list[Path], list[Path]]:
        """Wait until the pages are durable; returns the archive files written and left
        unchanged. Only then may the state files and the current documents follow."""
        written, unchanged = self._durable.wait()
        for folder, count in self._stale:
            self.removed += _remove_beyond(folder, count)
        return written + self._elsewhere[0], unchanged + self._elsewhere[1]


def build_archives(config: Config, prepared: Prepared, store: ArchiveSource,
                   windows: Mapping[str, Sequence[Item]],
                   write: Callable[[Path, bytes], None], now: datetime, *,
                   lender: parallel.Lender | None = None) -> Archives:
    """Bring the archives of the prepared feeds up to date. `windows` are the feeds' current
    items, `write` takes the state files, to be written once `Archives.finish()` returned.
    The pages are made durable in the background meanwhile: the caller renders the current
    documents (they depend on `Archives.feeds` only) while their fsyncs wait for the disk."""
    plans = prepared.plans
    fresh: list[_Feed] = []
    for plan in plans.values():
        plan.window = {item.id for item in windows[plan.feed.id]}
        if plan.state is None or not _update(config, plan, store):
            fresh.append(plan)
    prestarted = parallel.Prestarted()
    pages_writer = PageWriter()
    output = config.output_path    # resolves the path: once, not per page
    try:
        if fresh:
            if lender is None or lender.ready == 0:   # else the pass borrows running ones
                prestarted.start([(p.feed.sources, p.feed.limit) for p in fresh], store)
            _plan_from_history(fresh, store, prestarted, lender)
        known = {item.id: item for window in windows.values() for item in window}
        rendered, elsewhere, unchanged_elsewhere, peaks = _render(
            config, output, [job for p in plans.values() for job in p.jobs], plans, store,
            pages_writer, now, known, prestarted, lender)
    except BaseException:
        pages_writer.close()
        raise
    finally:
        prestarted.close()
    # Pages written by worker processes are made durable together with this process's.
    durable = pages_writer.finish_later(also=elsewhere)
    try:
        results = _outcomes(config, plans, store, windows, write, rendered)
    except BaseException:
        durable.wait()
        raise
    stale = [(output / ARCHIVE_DIR / p.feed.id, len(p.state.digests)) for p in plans.values()
             if p.fresh and p.state is not None]    # only a re-plan can leave fewer pages
    return Archives(feeds=results, _durable=durable, _stale=stale,
                    _elsewhere=(elsewhere, unchanged_elsewhere), worker_peaks_mb=peaks)


def _outcomes(config: Config, plans: Mapping[str, _Feed], store: ArchiveSource,
              windows: Mapping[str, Sequence[Item]], write: Callable[[Path, bytes], None],
              rendered: Mapping[str, int]) -> dict[str, FeedArchive]:
    """Each feed's new state (handed to `write`) and outcome, after its pages rendered."""
    output = config.output_path
    results: dict[str, FeedArchive] = {}
    for plan in plans.values():
        state = plan.state
        assert state is not None
        for number, digest in plan.digests.items():
            state.digests[number - 1] = digest
        window = windows[plan.feed.id]
        state.window = [(time_key(item.published), item.id) for item in window]
        _WINDOW_ITEMS[(str(output), plan.feed.id)] = (
            (plan.identity, state.mark), {item.id: item for item in window})
        write(state_path(config, plan.feed), state.dump())
        missing = [k[2] for k in state.tail if k[2] not in plan.window]
        extra = tuple(store.items_for_build(missing).values()) if missing else ()
        results[plan.feed.id] = FeedArchive(pages=len(state.digests), extra=extra,
                                            rendered=rendered.get(plan.feed.id, 0))
        if rendered.get(plan.feed.id):
            log.info("feed %s: %d archive page(s) written, %d in all", plan.feed.id,
                     rendered[plan.feed.id], len(state.digests))
    return results


def _everything(link: FeedLink) -> bool:
    return True


def _update(config: Config, plan: _Feed, store: ArchiveSource) -> bool:
    """Bring a feed with a usable state up to date from what changed since its mark. False
    when the state turns out inconsistent with the store (then the feed is planned afresh)."""
    state = plan.state
    assert state is not None
    feed, size = plan.feed, plan.feed.limit
    mark = plan.new_mark
    tail = {key[2]: key for key in state.tail}
    dirty: set[int] = set()
    last = state.lasts[-1] if state.lasts else None
    for group in plan.changed:
        key = key_in(feed, plan.accepts, group)
        raw = key or key_in(feed, _everything, group)
        if raw is None:
            continue
        if last is not None and raw <= last:
            # On an archived page (or, if the filter now rejects it, perhaps): re-digest it.
            dirty.add(bisect.bisect_left(state.lasts, raw) + 1)
        elif key is None:
            tail.pop(raw[2], None)
        else:
            tail[key[2]] = key
    missing = _missing_pages(config, feed, len(state.digests))
    for number in sorted(dirty | missing):
        ids = _page_ids(store, plan, number)
        if ids is None:
            return False
        digest = page_digest(plan.identity, size, number, [e for _, e in ids])
        if digest != state.digests[number - 1] or number in missing:
            plan.jobs.append(PageJob(feed=feed, identity=plan.identity, number=number,
                                  ids=[i for i, _ in ids], last=state.lasts[number - 1]))
    keys = sorted(tail.values())
    complete = archived_count([k[2] for k in keys], plan.window, size)
    for index in range(complete):
        chunk = keys[index * size:(index + 1) * size]
        number = len(state.digests) + 1
        state.digests.append("")
        state.lasts.append(chunk[-1])
        plan.jobs.append(PageJob(feed=feed, identity=plan.identity, number=number,
                              ids=[k[2] for k in chunk], last=chunk[-1]))
    state.tail = keys[complete * size:]
    state.mark = mark
    return True


def _page_ids(store: ArchiveSource, plan: _Feed,
              number: int) -> list[tuple[str, tuple[str, str, str, str]]] | None:
    """The ids (and digest entries) of archived page `number` read back from the store, or
    None when the page no longer holds exactly `limit` items (the plan is stale)."""
    state = plan.state
    assert state is not None
    low = state.lasts[number - 2] if number > 1 else None
    high = state.lasts[number - 1]
    links = store.feed_links_entered(plan.feed.sources, low[0] if low else "0001-01-01 00:00:00",
                                     high[0])
    found: list[tuple[Key, FeedLink]] = []
    for group in entries_by_item(links):
        key = key_in(plan.feed, plan.accepts, group)
        if key is not None and (low is None or key > low) and key <= high:
            found.append((key, group[0]))
    if len(found) != plan.feed.limit:
        return None
    found.sort(key=lambda pair: pair[0])
    return [(link.item_id, link_digest_entry(link)) for _, link in found]


# Per archive folder: its mtime and page count at the last look, and the pages missing then.
# A folder whose mtime has not changed since has had no file added or removed, so an
# incremental build (every source run) need not list thousands of names again (a large share
# of a build that otherwise takes tens of milliseconds). A file removed within the same clock
# tick (a few ms) as that look goes unnoticed until the folder next changes: such pages are a
# repair of files deleted by hand, not something a build depends on.
_MISSING: dict[Path, tuple[int, int, frozenset[int]]] = {}


def _missing_pages(config: Config, feed: FeedConfig, count: int) -> set[int]:
    """Archived pages of which some format's file is missing (deleted by hand)."""
    folder = config.output_path / ARCHIVE_DIR / feed.id
    try:
        mtime = os.stat(folder).st_mtime_ns
    except FileNotFoundError:
        _MISSING.pop(folder, None)
        return set(range(1, count + 1))
    seen = _MISSING.get(folder)
    if seen is not None and seen[0] == mtime and seen[1] == count:
        return set(seen[2])
    try:
        names = set(os.listdir(folder))
    except FileNotFoundError:
        names = set()
    missing = {n for n in range(1, count + 1)
               if any(f"{n}.{ext}" not in names for ext in common.FORMATS)}
    _MISSING[folder] = (mtime, count, frozenset(missing))
    return missing


def _plan_from_history(plans: list[_Feed], store: ArchiveSource,
                       prestarted: parallel.Prestarted,
                       lender: parallel.Lender | None) -> None:
    """Plan every page of these feeds from their whole history: one light pass over the
    links of all their sources; a long history is read in two parts, the second by a
    worker process of the pass (parallel.read_keys) while this process reads the first."""
    mark = store.build_mark()   # before the pass: whatever commits meanwhile is seen again
    sources = sorted({s for plan in plans for s in plan.feed.sources})
    feeds = [(plan.feed, plan.accepts) for plan in plans]
    text = needs_text(plan.feed for plan in plans)
    other = parallel.read_keys([plan.feed for plan in plans], sources, text, store,
                               prestarted, lender)
    keys = history_keys(feeds, store.feed_links(
        sources, text=text, below_id=other.first_id if other is not None else None))
    if other is not None:
        # Both parts sorted, each in its own process: the sort of the whole below is then a
        # merge of two runs (Timsort finds them).
        for part in keys.values():
            part.sort()
        found = other.result()
        if found is None:      # the worker failed: this process reads that part too
            found = history_keys(feeds, store.feed_links(sources, text=text,
                                                         first_id=other.first_id))
        for feed_id, more in found.items():
            keys[feed_id] += more
        del found
    for plan in plans:
        plan.fresh = True
        ordered = keys.pop(plan.feed.id)    # sorted in place, and let go feed by feed
        ordered.sort()
        size = plan.feed.limit
        count = archived_count([k[2] for k in ordered], plan.window, size)
        plan.state = State(identity=plan.identity, mark=mark, digests=[""] * count,
                           lasts=[ordered[n * size - 1] for n in range(1, count + 1)],
                           tail=ordered[count * size:])
        plan.jobs = [PageJob(feed=plan.feed, identity=plan.identity, number=n,
                          ids=[k[2] for k in ordered[(n - 1) * size:n * size]],
                          last=ordered[n * size - 1]) for n in range(1, count + 1)]


def _render(config: Config, output: Path, jobs: list[PageJob], plans: Mapping[str, _Feed],
            store: ArchiveSource, writer: PageWriter, now: datetime, known: Mapping[str, Item],
            prestarted: parallel.Prestarted, lender: parallel.Lender | None = None
            ) -> tuple[dict[str, int], list[Path], list[Path], list[float]]:
    """Render and write the pages of `jobs`: in this process, or, for a large pass (a full
    build), shared with a worker process (parallel.py). Records each page's digest in its
    plan; returns pages rendered per feed, the files written and left unchanged by worker
    processes (this process's own writes are in `writer`) and the workers' peak memory."""
    jobs.sort(key=lambda job: job.last)
    if parallel.worth_it(len(jobs), store, lender):
        done, written, unchanged, peaks = parallel.render(config, output, jobs, store, writer,
                                                          now, known, prestarted, lender)
    else:
        done, written, unchanged, peaks = render_pages(config, output, jobs, store, writer, now,
                                                       known), [], [], []
    rendered: dict[str, int] = {}
    for feed_id, number, digest in done:
        plans[feed_id].digests[number] = digest
        rendered[feed_id] = rendered.get(feed_id, 0) + 1
    return rendered, written, unchanged, peaks


def _remove_beyond(folder: Path, count: int) -> list[Path]:
    """Delete page files numbered above `count` (left by a larger history or page size);
    returns the files deleted."""
    if not folder.is_dir():
        return []
    removed = []
    for path in folder.iterdir():
        stem, _, ext = path.name.partition(".")
        if ext in common.FORMATS and stem.isdigit() and int(stem) > count:
            try:
                path.unlink()
            except OSError as exc:
                raise PublishError(f"cannot remove a stale archive page: {exc}",
                                   path=str(path)) from exc
            removed.append(path)
    return removed
