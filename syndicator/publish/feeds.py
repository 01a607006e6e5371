"""RSS 2.0 and Atom 1.0 documents. The only feedgen user.

Items arrive newest first and stay in that order. Every datetime is made UTC-aware before it
reaches feedgen (feedgen refuses naive ones), and the channel/feed date is taken from the
items, never from the clock unless the feed is empty, so the same items give the same bytes.
"""

from __future__ import annotations

import html
import itertools
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from syndicator.config import FeedConfig, SiteConfig
from syndicator.errors import PublishError
from syndicator.model import Item
from syndicator.publish import common
from syndicator.publish.entries import ENTRIES, entry_key
from syndicator.publish.links import ATOM_NS, HISTORY_NS, FeedLinks

# feedgen formats RSS dates through `util.formatRFC2822`, which switches the *process-wide*
# locale to "C" with `locale.setlocale` and back. That is not thread-safe: two renders running
# at once could restore each other's locale, or a thread formatting dates meanwhile could see
# "C". We serialise our own renders with this lock; code elsewhere that depends on the locale
# must not run feed builds in parallel threads with it (or must take this lock too).
RENDER_LOCK = threading.Lock()

_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

def render_rss(feed: FeedConfig, items: Sequence[Item], site: SiteConfig,
               now: datetime, *, links: FeedLinks | None = None) -> bytes:
    """An RSS 2.0 channel with content:encoded, dc:creator and image enclosures; `links`
    adds hub / archive links as atom:link elements (RFC 5005 Appendix B)."""
    return _spliced("rss", feed, items, site, now, links, _render_rss)


def render_atom(feed: FeedConfig, items: Sequence[Item], site: SiteConfig,
                now: datetime, *, links: FeedLinks | None = None) -> bytes:
    """An Atom 1.0 feed whose id is its (subscription) URL; the site is the feed-level author.
    `links` adds hub / archive links (an archive page keeps the feed's id: same feed)."""
    return _spliced("atom", feed, items, site, now, links, _render_atom)


_Render = Callable[[FeedConfig, Sequence[Item], SiteConfig, datetime, "FeedLinks | None",
                    datetime, "str | None"], bytes]
# Where an entry starts in feedgen's pretty-printed output. "<" is always escaped in text, so
# these byte strings occur only as the entries' own start tags.
_ENTRY_START = {"rss": b"\n    <item>\n", "atom": b"\n  <entry"}
_ENTRY_END = {"rss": b"\n  </channel>\n", "atom": b"\n</feed>\n"}


def _spliced(ext: str, feed: FeedConfig, items: Sequence[Item], site: SiteConfig,
             now: datetime, links: FeedLinks | None, render: _Render) -> bytes:
    """feedgen's document for `items`, rendering through feedgen only the entries not in
    ENTRIES (plus the first, which carries the document around it) and splicing the cached
    entries' bytes in between: the same bytes as one feedgen call (tests/test_fragments.py)."""
    updated, language = common.feed_updated(items, now), common.feed_language(feed, items)
    keys = [entry_key(item) for item in items]
    cached = [ENTRIES.get(ext, key) if index else None for index, key in enumerate(keys)]
    fresh = [index for index, entry in enumerate(cached) if entry is None]
    data = render(feed, [items[i] for i in fresh], site, now, links, updated, language)
    if not items:
        return data
    start, end = data.find(_ENTRY_START[ext]) + 1, data.rfind(_ENTRY_END[ext]) + 1
    cuts = [start]
    while (found := data.find(_ENTRY_START[ext], cuts[-1])) != -1:
        cuts.append(found + 1)
    cuts.append(end)
    if start == 0 or end == 0 or len(cuts) != len(fresh) + 1:
        return render(feed, items, site, now, links, updated, language)  # not our layout
    for index, (begin, stop) in zip(fresh, itertools.pairwise(cuts), strict=True):
        cached[index] = data[begin:stop]
        ENTRIES.put(ext, keys[index], data[begin:stop])
    return data[:start] + b"".join(e for e in cached if e is not None) + data[end:]


def _render_rss(feed: FeedConfig, items: Sequence[Item], site: SiteConfig, now: datetime,
                links: FeedLinks | None, updated: datetime, language: str | None) -> bytes:
    try:
        generator = _channel(feed, items, site, now, "rss", links, updated, language)
        generator.load_extension("dc", atom=False, rss=True)
        for item in items:
            _rss_entry(generator.add_entry(order="append"), item)
        with RENDER_LOCK:
            data: bytes = generator.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    except ValueError as exc:  # feedgen's way to reject a field
        raise PublishError(f"cannot render RSS: {exc}", feed=feed.id) from exc
    return _hex_references(data)


def _render_atom(feed: FeedConfig, items: Sequence[Item], site: SiteConfig, now: datetime,
                 links: FeedLinks | None, updated: datetime, language: str | None) -> bytes:
    try:
        generator = _channel(feed, items, site, now, "atom", links, updated, language)
        generator.author({"name": common.clean(site.title)})
        generator.register_extension("extras", BaseExtension, _AtomExtras,
                                     atom=True, rss=False)
        for item in items:
            _atom_entry(generator.add_entry(order="append"), item)
        with RENDER_LOCK:
            data: bytes = generator.atom_str(pretty=True, encoding="UTF-8",
                                             xml_declaration=True)
    except ValueError as exc:
        raise PublishError(f"cannot render Atom: {exc}", feed=feed.id) from exc
    return data


def _channel(feed: FeedConfig, items: Sequence[Item], site: SiteConfig, now: datetime,
             ext: str, links: FeedLinks | None, updated: datetime,
             language: str | None) -> FeedGenerator:
    """The feed-level fields common to both formats; `updated` and `language` are derived
    from all the document's items (common.feed_updated / feed_language), which may be more
    than the `items` rendered here."""
    del items, now
    generator = FeedGenerator()
    feed_url = common.feed_url(site, feed, ext)
    self_url = links.self_url if links is not None and links.self_url else feed_url
    generator.id(feed_url)
    generator.title(common.clean(feed.title))
    generator.description(common.description(feed))
    # feedgen emits links in the order given; for RSS only the self link and the last
    # alternate (the channel <link>) are used.
    generator.link(href=self_url, rel="self", type=common.FORMATS[ext])
    generator.link(href=common.home_url(feed, site), rel="alternate", type="text/html")
    if language:
        generator.language(language)
    generator.lastBuildDate(updated)
    generator.generator(common.GENERATOR, version=common.GENERATOR_VERSION,
                        uri=common.GENERATOR_URI)
    if links is not None and (links.extra() or links.archive):
        # feedgen writes only self/alternate as RSS links and takes the *last* link as the
        # channel <link>, so every other rel goes through a small extension instead.
        generator.register_extension("history", _FeedLinksExtension, atom=True, rss=True)
        generator.history.links = links
    return generator


def _rss_entry(entry: FeedEntry, item: Item) -> None:
    entry.title(common.clean(item.title))
    entry.link(href=item.url, rel="alternate")
    entry.guid(item.url, permalink=True)
    entry.pubDate(common.utc(item.published))
    entry.updated(common.utc(item.updated))
    summary, content = common.clean(item.summary), common.clean(item.content)
    if summary:
        # <description> is HTML to RSS readers: escape the plain text so that a literal
        # "<b>" or "&" in it is shown, not interpreted.
        entry.description(html.escape(summary, quote=False))
    if content:
        # With a description set this becomes content:encoded; without one feedgen puts the
        # HTML into <description>, which RSS readers also accept.
        entry.content(content)
    if item.author:
        # RSS <author> must be an e-mail address; Dublin Core carries a plain name.
        entry.dc.dc_creator(common.clean(item.author))
    if item.language:
        entry.dc.dc_language(item.language)
    for category in common.unique(item.categories):
        entry.category(term=category)
    if item.image:
        entry.enclosure(item.image, 0, common.image_type(item.image))


def _atom_entry(entry: FeedEntry, item: Item) -> None:
    entry.id(item.url)
    entry.title(common.clean(item.title))
    # feedgen 1.0 drops rel/type/length of entry links (it reads them from the new element
    # instead of the dict), so only the alternate link goes through it: a bare <link href>
    # is rel="alternate" by RFC 4287. The enclosure is written by _AtomExtras.
    entry.link(href=item.url)
    entry.published(common.utc(item.published))
    entry.updated(common.utc(item.updated))
    summary, content = common.clean(item.summary), common.clean(item.content)
    if not summary and not content:
        # Readers show an entry's summary or content; an entry with neither draws the
        # validator's "missing textual content" warning, so repeat the title.
        summary = common.clean(item.title)
    if summary:
        entry.summary(summary, type="text")
    if content:
        entry.content(content, type="html")
    if item.author:
        entry.author({"name": common.clean(item.author)})
    for category in common.unique(item.categories):
        entry.category(term=category)
    if item.image:
        # No length: Atom makes it optional and "0" would claim an empty file.
        entry.extras.links.append({"href": item.image, "rel": "enclosure",
                                   "type": common.image_type(item.image)})
    entry.extras.language = item.language


class _AtomExtras(BaseEntryExtension):  # type: ignore[misc]  # feedgen is untyped
    """What feedgen cannot express in an Atom entry: `<link rel="enclosure">` with its rel and
    type intact, and the entry's own `xml:lang` (feeds mix languages)."""

    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []
        self.language: str | None = None

    def extend_atom(self, entry: Any) -> Any:
        if self.language:
            entry.set(_XML_LANG, self.language)
        for link in self.links:
            xml_elem("link", entry, **link)
        return entry


class _FeedLinksExtension(BaseExtension):  # type: ignore[misc]  # feedgen is untyped
    """Feed-level `hub`, `current` and `prev-archive` links and RFC 5005's `fh:archive`:
    `<link>` in Atom, `<atom:link>` in the RSS channel."""

    def __init__(self) -> None:
        self.links = FeedLinks()

    def extend_ns(self) -> dict[str, str]:
        return {"fh": HISTORY_NS} if self.links.archive else {}

    def extend_atom(self, feed: Any) -> Any:
        self._add(feed, "link")
        return feed

    def extend_rss(self, feed: Any) -> Any:
        self._add(feed.find("channel"), f"{{{ATOM_NS}}}link")
        return feed

    def _add(self, parent: Any, tag: str) -> None:
        for rel, href in self.links.extra():
            xml_elem(tag, parent, href=href, rel=rel)
        if self.links.archive:
            xml_elem(f"{{{HISTORY_NS}}}archive", parent)


def _hex_references(document: bytes) -> bytes:
    """Write "&" and "<" as hexadecimal character references, as the RSS Profile recommends.

    RSS never said whether <title> is text or HTML; readers that decode entities once more
    are not confused by `&#x26;`/`&#x3C;`, and the W3C validator stops warning about plain
    text containing "&" or "<". Both spellings are the same XML, and the serialised document
    has no CDATA sections or comments in which the substitution could change meaning.
    """
    return document.replace(b"&amp;", b"&#x26;").replace(b"&lt;", b"&#x3C;")
