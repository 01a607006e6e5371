"""The one writer of feed documents: RSS 2.0, Atom 1.0 and JSON Feed 1.1, for current feeds,
archive pages and query answers alike.

    Item ──render_item──▶ Rendered (its entry in all three formats, UTF-8)
    Frame (feed, site, date, language, links) + Rendered… ──document──▶ bytes
    render_feed(ext, feed, items, site, now, links=) = both, entries from a cache

Each item's entry is written once as text for all three formats (xmlfeed.py, jsonfeed.py)
and a document joins the entries between its head and tail. A service rebuilds a feed after
every run that brought something new, so the current documents differ from the previous
build's by an entry or two: `entry` keeps the entries of recent items (ENTRIES), looked up by
everything they are rendered from, so an edited item is simply a new key. An archive pass
renders its own items once per pass (pagerender.py) without filling that cache.

Items arrive newest first and stay in that order. The feed-level date is the newest entry's
(the clock's only for an empty feed), so the same items give the same bytes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syndicator.config import FeedConfig, SiteConfig
from syndicator.model import Item
from syndicator.publish import common, jsonfeed, xmlfeed
from syndicator.publish.links import EntryLink, FeedLinks, Frame

# Items whose entries are kept between builds (~6-9 KB each, three formats): a few times what
# the current documents of a typical configuration hold.
ENTRY_CACHE_SIZE = 1500


@dataclass(frozen=True, slots=True)
class Rendered:
    """One item's entry in every format (UTF-8: encoded once per item, not once per document
    that holds it), plus what the document head needs from it."""

    id: str
    published: datetime      # UTC, whole seconds
    updated: datetime
    language: str | None
    digest_entry: tuple[str, str, str, str]     # id, content hash, published, updated
    rss: bytes
    atom: bytes
    json: bytes

    @property
    def size(self) -> int:
        """Bytes held (what a cache of rendered items counts)."""
        return len(self.rss) + len(self.atom) + len(self.json)


def entry_links(item: Item) -> tuple[EntryLink, ...]:
    """The links an item's entry carries besides its URL and its image: the other language
    versions of its story (`Item.versions`, which the build fills for current documents),
    each `rel="alternate"` with its language and title. One per language other than the
    item's own: Atom allows one alternate link per hreflang, and a version without a
    language could not say what it is. `entry_key` includes them."""
    languages = {item.language}
    links: list[EntryLink] = []
    for version in item.versions:
        if version.language and version.language not in languages:
            languages.add(version.language)
            links.append(EntryLink(href=version.url, hreflang=version.language,
                                   title=version.title))
    return tuple(links)


def render_item(item: Item, links: Sequence[EntryLink] | None = None) -> Rendered:
    """The item's entry in RSS, Atom and JSON Feed, each indented for its place in the
    document. Text is cleaned and dates are converted once for all three. `links`: the
    entry's extra links (default: entry_links(item))."""
    if links is None:
        links = entry_links(item)
    title, summary, content = (common.clean(item.title), common.clean(item.summary),
                               common.clean(item.content))
    author = common.clean(item.author) if item.author else None
    categories = common.unique(item.categories)
    published, updated = common.utc(item.published), common.utc(item.updated)
    # ISO 8601 with +00:00 (Atom), and the same as RFC 3339 with Z (JSON Feed, digests).
    published_iso, updated_iso = published.isoformat(), updated.isoformat()
    published_z, updated_z = published_iso[:19] + "Z", updated_iso[:19] + "Z"
    shown = xmlfeed.Shown(
        title=title, summary=summary, content_xml=xmlfeed.text(content), author=author,
        categories=categories, image_type=common.image_type(item.image) if item.image else "",
        published=published_iso, updated=updated_iso, pub_date=xmlfeed.rfc2822(published),
        links=links)
    return Rendered(
        id=item.id, published=published, updated=updated, language=item.language,
        digest_entry=(item.id, item.content_hash, published_z, updated_z),
        rss=xmlfeed.rss_item(item, shown).encode("utf-8"),
        atom=xmlfeed.atom_entry(item, shown).encode("utf-8"),
        json=jsonfeed.item_bytes(item, title=title, summary=summary, content=content,
                                 author=author, tags=categories, published=published_z,
                                 updated=updated_z, links=links))


# --- entries of recent items -------------------------------------------------------------------

# What an entry's bytes depend on: the item's shown fields (not its source or content hash).
_EntryKey = tuple[Any, ...]


class _EntryCache:
    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[_EntryKey, Rendered] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: _EntryKey) -> Rendered | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: _EntryKey, entry: Rendered) -> None:
        with self._lock:
            self._entries[key] = entry
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


ENTRIES = _EntryCache(ENTRY_CACHE_SIZE)


def entry_key(item: Item) -> _EntryKey:
    """What an item's entry depends on. The dates as stored: equal values render equally (a
    difference that rendering drops, such as microseconds, only costs a miss), and
    converting them here cost more than the rest of a lookup. The content hash rides along
    for Rendered.digest_entry."""
    return (item.id, item.url, item.title, item.summary, item.content, item.image, item.author,
            item.categories, item.language, item.published, item.updated, item.content_hash,
            item.versions)


def entry(item: Item) -> Rendered:
    """render_item(item), from ENTRIES when a recent document rendered it already."""
    key = entry_key(item)
    found = ENTRIES.get(key)
    if found is None:
        found = render_item(item)
        ENTRIES.put(key, found)
    return found


# --- documents ---------------------------------------------------------------------------------

def frame_for(feed: FeedConfig, site: SiteConfig, entries: Sequence[Rendered], now: datetime,
              links: FeedLinks | None = None) -> Frame:
    """The frame of a document of these entries: dated by the newest entry (`now` for none);
    the feed's language, else the one language all entries share."""
    updated = max((r.updated for r in entries), default=common.utc(now))
    if feed.language:
        language: str | None = feed.language
    else:
        languages = {r.language for r in entries}
        language = languages.pop() if len(languages) == 1 else None
    return Frame(feed=feed, site=site, updated=updated, language=language, links=links)


def document(ext: str, frame: Frame, entries: Iterable[Rendered]) -> bytes:
    """A whole document of format `ext` ("rss", "atom", "json") with these entries, in order.
    The entries' bytes are copied once, into the document."""
    if ext == "rss":
        parts: list[bytes] = [r.rss for r in entries]
        head, tail = xmlfeed.rss_head(frame), xmlfeed.RSS_TAIL
    elif ext == "atom":
        parts = [r.atom for r in entries]
        head, tail = xmlfeed.atom_head(frame), xmlfeed.ATOM_TAIL
    elif ext == "json":
        parts = []
        for r in entries:
            parts += (r.json, jsonfeed.SEPARATOR)
        del parts[-1:]      # separators go between the items only
        head = jsonfeed.head(frame, has_items=bool(parts))
        tail = jsonfeed.tail(has_items=bool(parts))
    else:
        raise ValueError(f"unknown format {ext!r}")
    return b"".join([head.encode("utf-8"), *parts, tail.encode("utf-8")])


def render_feed(ext: str, feed: FeedConfig, items: Sequence[Item], site: SiteConfig,
                now: datetime, *, links: FeedLinks | None = None) -> bytes:
    """The document of format `ext` holding `items` (newest first): a current feed or a query
    answer. `links`: hub / archive links besides self and the home page."""
    entries = [entry(item) for item in items]
    return document(ext, frame_for(feed, site, entries, now, links), entries)
