"""Build every configured feed from the store and write it, the index and the OPML atomically.

    store.latest(sources) ──filter (include/exclude)──▶ items ──render──▶ .rss .atom .json
                                                               └──────▶ index.html feeds.opml
    store.feed_history(sources) ──archive.py──▶ archive/<feed id>/<n>.rss .atom .json

Archive pages are written before the current documents that link to them. Every document
carries the WebSub hub (`websub.hub`) next to its self link.

A file whose bytes did not change is not rewritten, so its mtime (and the validators a web
server derives from it) only move when the feed really changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from syndicator.config import Config, FeedConfig, SiteConfig
from syndicator.errors import ConfigError
from syndicator.model import Item
from syndicator.publish import archive, common
from syndicator.publish.feeds import render_atom, render_rss
from syndicator.publish.jsonfeed import render_json
from syndicator.publish.links import FeedLinks
from syndicator.publish.pages import FeedSummary, render_index, render_opml
from syndicator.publish.writer import write_atomic

INDEX_FILE = "index.html"
OPML_FILE = "feeds.opml"
# Filtered feeds page through the store; stop after this many items even if fewer than
# `limit` passed, so that a rarely matching `include` does not scan all history every build.
MAX_SCANNED = 20_000
_MIN_PAGE = 100

Renderer = Callable[[FeedConfig, Sequence[Item], SiteConfig, datetime], bytes]
RENDERERS: dict[str, Renderer] = {"rss": render_rss, "atom": render_atom, "json": render_json}


class FeedItemSource(Protocol):
    """What the build needs from the store: items of some sources, newest first."""

    def latest(self, source_ids: Sequence[str], *, limit: int,
               offset: int = 0) -> list[Item]: ...


@dataclass(frozen=True)
class BuildResult:
    written: tuple[Path, ...]
    unchanged: tuple[Path, ...]
    feeds: tuple[FeedSummary, ...]


class _Text(Protocol):
    """What a filter reads: an Item, or a store.HistoryEntry when archives are planned."""

    @property
    def title(self) -> str: ...

    @property
    def summary(self) -> str: ...


class _Filter:
    """A feed's include/exclude patterns: case-insensitive regexes searched in title + summary.

    No include pattern means everything is included; an exclude match always wins.
    """

    def __init__(self, feed: FeedConfig) -> None:
        self._include = [re.compile(p, re.IGNORECASE) for p in feed.include]
        self._exclude = [re.compile(p, re.IGNORECASE) for p in feed.exclude]

    @property
    def active(self) -> bool:
        return bool(self._include or self._exclude)

    def accepts(self, item: _Text) -> bool:
        text = f"{item.title} {item.summary}"
        if any(p.search(text) for p in self._exclude):
            return False
        return not self._include or any(p.search(text) for p in self._include)


def select_items(feed: FeedConfig, store: FeedItemSource) -> list[Item]:
    """The newest `feed.limit` items of the feed's sources that pass its filters, newest first.

    Without filters one query suffices; with filters the store is read in pages until enough
    items passed, the store runs out, or MAX_SCANNED items were looked at.
    """
    keep = _Filter(feed)
    page = feed.limit if not keep.active else max(feed.limit * 2, _MIN_PAGE)
    chosen: dict[str, Item] = {}   # by id: paging may see an item twice if new ones arrive
    offset = 0
    while len(chosen) < feed.limit and offset < MAX_SCANNED:
        batch = store.latest(feed.sources, limit=page, offset=offset)
        for item in batch:
            if item.id not in chosen and keep.accepts(item):
                chosen[item.id] = item
                if len(chosen) == feed.limit:
                    break
        if len(batch) < page:
            break
        offset += len(batch)
    return list(chosen.values())


def build_feeds(config: Config, store: FeedItemSource, now: datetime, *,
                only: Iterable[str] | None = None) -> BuildResult:
    """Render and write every feed (or only the feeds with ids in `only`) plus the index and
    the OPML list. The index always lists every feed, so all feeds' items are read."""
    selected = _selected_ids(config, only)
    output = config.output_path
    written: list[Path] = []
    unchanged: list[Path] = []
    summaries: list[FeedSummary] = []
    built: list[FeedSummary] = []

    def write(path: Path, data: bytes) -> None:
        (written if write_atomic(path, data) else unchanged).append(path)

    for feed in config.feeds:
        items = select_items(feed, store)
        newest = max((common.utc(item.published) for item in items), default=None)
        summary = FeedSummary(feed=feed, items=len(items), newest=newest, built=now)
        summaries.append(summary)
        if feed.id not in selected:
            continue
        built.append(summary)
        hub = config.websub.hub
        history = None
        if isinstance(store, archive.FeedHistorySource):
            history = archive.build_archive(config, feed, store, items, _Filter(feed).accepts,
                                            write, now)
            items = history.current_items(items)
        for ext, render in archive.FORMATS.items():
            links = (archive.current_links(config.site, feed, history.plan, ext, hub=hub)
                     if history is not None else FeedLinks(hub=hub))
            write(output / f"{feed.id}.{ext}", render(feed, items, config.site, now,
                                                      links=links))
    write(output / INDEX_FILE, render_index(config, summaries))
    write(output / OPML_FILE, render_opml(config))
    return BuildResult(written=tuple(written), unchanged=tuple(unchanged), feeds=tuple(built))


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

