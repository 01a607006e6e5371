"""A feed's history as join keys: which stored items are in a feed (its sources, its
include/exclude filter: selection.Filter) and in what order they joined it.

Light on imports (no SQLAlchemy): a full build's worker process (parallel.py)
reads half of a long history with it while the build reads the other half.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from syndicator.publish.pagerender import Key
from syndicator.selection import Filter

if TYPE_CHECKING:   # types only: the worker process unpickles configs, it need not build them
    from syndicator.config import FeedConfig
    from syndicator.model import FeedLink


Accepts = Callable[["FeedLink"], bool]


def entries_by_item(links: Iterable[FeedLink]) -> Iterator[list[FeedLink]]:
    """Group adjacent links of the same item."""
    group: list[FeedLink] = []
    for link in links:
        if group and link.item_id != group[0].item_id:
            yield group
            group = []
        group.append(link)
    if group:
        yield group


def key_in(feed: FeedConfig, accepts: Accepts, links: list[FeedLink]) -> Key | None:
    """The item's join key in `feed`, or None when it is not in the feed."""
    sources = feed.sources
    mine = [link for link in links if link.source_id in sources]
    if not mine or not accepts(mine[0]):
        return None
    return (min(link.first_seen for link in mine), mine[0].published, mine[0].item_id)


def history_keys(feeds: Sequence[tuple[FeedConfig, Accepts]],
                 links: Iterable[FeedLink]) -> dict[str, list[Key]]:
    """Each feed's join keys among `links` (grouped by item, as Store.feed_links reads
    them), by feed id, unsorted."""
    by_source: dict[str, list[tuple[FeedConfig, Accepts]]] = {}
    for feed, accepts in feeds:
        for source in feed.sources:
            by_source.setdefault(source, []).append((feed, accepts))
    keys: dict[str, list[Key]] = {feed.id: [] for feed, _ in feeds}
    filtered = {feed.id for feed, _ in feeds if feed.include or feed.exclude}
    # A run stamps every link it makes with one time: each distinct first_seen is kept once
    # (the keys of a whole history are a build's largest structure).
    times: dict[str, str] = {}
    for group in entries_by_item(links):
        if len(group) == 1:
            # The usual case, an item seen by one source: the same key in every feed.
            link = group[0]
            single = (times.setdefault(link.first_seen, link.first_seen), link.published,
                      link.item_id)
            for feed, accepts in by_source.get(link.source_id, ()):
                if feed.id not in filtered or accepts(link):
                    keys[feed.id].append(single)
            continue
        seen: set[str] = set()
        for link in group:
            for feed, accepts in by_source.get(link.source_id, ()):
                if feed.id in seen:
                    continue
                seen.add(feed.id)
                key = key_in(feed, accepts, group)
                if key is not None:
                    keys[feed.id].append((times.setdefault(key[0], key[0]), key[1], key[2]))
    return keys


def filtered_feeds(feeds: Sequence[FeedConfig]) -> list[tuple[FeedConfig, Accepts]]:
    """The feeds with their filters (what history_keys takes), as another process makes
    them from the configuration alone."""
    return [(feed, Filter.of(feed).accepts) for feed in feeds]


def needs_text(feeds: Iterable[FeedConfig]) -> bool:
    """Whether reading these feeds' histories needs the items' text (a filter reads it)."""
    return any(feed.include or feed.exclude for feed in feeds)
