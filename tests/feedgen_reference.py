"""The reference the feed writer (syndicator/publish/feeds.py) is held to: RSS 2.0 and Atom 1.0
documents built with feedgen (an lxml tree per document), and JSON Feed documents built as
dicts and laid out by the standard library's json.dumps. Tests only: the product writes its
documents as text, ten times faster (docs/architecture.md, "One writer per format").
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from syndicator.config import FeedConfig, SiteConfig
from syndicator.model import Item
from syndicator.publish import common
from syndicator.publish.links import ATOM_NS, HISTORY_NS, FeedLinks

_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def reference(ext: str, feed: FeedConfig, items: Sequence[Item], site: SiteConfig,
              now: datetime, links: FeedLinks | None = None) -> bytes:
    """The document of format `ext` as the reference writers make it."""
    updated = max((common.utc(i.updated) for i in items), default=common.utc(now))
    languages = {i.language for i in items}
    language = feed.language or (languages.pop() if len(languages) == 1 else None)
    if ext == "json":
        return _json(feed, items, site, language, links)
    generator = _channel(feed, site, ext, links, updated, language)
    if ext == "rss":
        generator.load_extension("dc", atom=False, rss=True)
        for item in items:
            _rss_entry(generator.add_entry(order="append"), item)
        data: bytes = generator.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)
        # &#x26; and &#x3C; for "&" and "<" in RSS, as the RSS Profile recommends.
        return data.replace(b"&amp;", b"&#x26;").replace(b"&lt;", b"&#x3C;")
    generator.author({"name": common.clean(site.title)})
    generator.register_extension("extras", BaseExtension, _AtomExtras, atom=True, rss=False)
    for item in items:
        _atom_entry(generator.add_entry(order="append"), item)
    atom: bytes = generator.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return atom


def _channel(feed: FeedConfig, site: SiteConfig, ext: str, links: FeedLinks | None,
             updated: datetime, language: str | None) -> FeedGenerator:
    generator = FeedGenerator()
    feed_url = common.feed_url(site, feed, ext)
    generator.id(feed_url)
    generator.title(common.clean(feed.title))
    generator.description(common.description(feed))
    # For RSS feedgen uses the self link and the last alternate (the channel <link>).
    generator.link(href=links.self_url if links is not None and links.self_url else feed_url,
                   rel="self", type=common.FORMATS[ext])
    generator.link(href=common.home_url(feed, site), rel="alternate", type="text/html")
    if language:
        generator.language(language)
    generator.lastBuildDate(updated)
    generator.generator(common.GENERATOR, version=common.GENERATOR_VERSION,
                        uri=common.GENERATOR_URI)
    if links is not None and (links.extra() or links.archive):
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
        entry.description(html.escape(summary, quote=False))
    if content:
        entry.content(content)
    if item.author:
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
    entry.link(href=item.url)
    entry.published(common.utc(item.published))
    entry.updated(common.utc(item.updated))
    summary, content = common.clean(item.summary), common.clean(item.content)
    if not summary and not content:
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
        entry.extras.links.append({"href": item.image, "rel": "enclosure",
                                   "type": common.image_type(item.image)})
    entry.extras.language = item.language


class _AtomExtras(BaseEntryExtension):  # type: ignore[misc]  # feedgen is untyped
    """feedgen 1.0 drops rel/type of entry links and knows no entry xml:lang."""

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
    """Feed-level hub/current/prev-archive links and fh:archive."""

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


def _json(feed: FeedConfig, items: Sequence[Item], site: SiteConfig, language: str | None,
          links: FeedLinks | None) -> bytes:
    document: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": common.clean(feed.title),
        "home_page_url": common.home_url(feed, site),
        "feed_url": common.feed_url(site, feed, "json"),
        "description": common.description(feed),
    }
    if language:
        document["language"] = language
    document["authors"] = [{"name": common.clean(site.title)}]
    if links is not None and links.prev_archive:
        document["next_url"] = links.prev_archive
    if links is not None and links.hub:
        document["hubs"] = [{"type": "WebSub", "url": links.hub}]
    document["items"] = [_json_item(item) for item in items]
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _json_item(item: Item) -> dict[str, Any]:
    title, summary, content = (common.clean(item.title), common.clean(item.summary),
                               common.clean(item.content))
    entry: dict[str, Any] = {"id": item.url, "url": item.url, "title": title}
    if content:
        entry["content_html"] = content
    else:
        entry["content_text"] = summary or title
    if summary:
        entry["summary"] = summary
    if item.image:
        entry["image"] = item.image
    entry["date_published"] = common.rfc3339(item.published)
    entry["date_modified"] = common.rfc3339(item.updated)
    if item.author:
        entry["authors"] = [{"name": common.clean(item.author)}]
    tags = common.unique(item.categories)
    if tags:
        entry["tags"] = tags
    if item.language:
        entry["language"] = item.language
    return entry
