"""A fast writer for whole feed documents, for archive pages: RSS 2.0, Atom 1.0, JSON Feed 1.1.

A full build publishes every stored item in three formats (archive pages), several times over
when feeds overlap. feedgen builds an lxml tree per document and costs ~150-350 µs per entry;
this module writes each item's entry once as text (`render_item`, a few µs) and joins the
entries of a page between a document head and tail (`document`). The bytes are the same as
feeds.py (feedgen) and jsonfeed.py write for the same items and links: tests/test_fragments.py
compares them over hostile, multilingual and sparse items, so archive pages and subscription
documents cannot drift apart. feedgen stays the writer of the subscription documents
(design card); this module imitates its output and must follow it when feeds.py changes.

What lxml's serialiser does, and this module repeats: `&`, `<`, `>` and CR escaped in text;
additionally `"`, TAB and LF in attributes; two spaces of indentation per level; an element
without text or children self-closed. RSS additionally writes `&` and `<` as hexadecimal
references (feeds._hex_references).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from syndicator.config import FeedConfig, SiteConfig
from syndicator.errors import PublishError
from syndicator.model import Item
from syndicator.publish import common, jsonfeed
from syndicator.publish.entries import ENTRIES, entry_key
from syndicator.publish.links import ATOM_NS, HISTORY_NS, FeedLinks

RSS_DOCS = "http://www.rssboard.org/rss-specification"   # feedgen's default <docs>
DC_NS = "http://purl.org/dc/elements/1.1/"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>\n"


@dataclass(frozen=True, slots=True)
class Rendered:
    """One item's entry in every format (UTF-8: encoded once per item, not once per page
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


# --- escaping (as lxml, see the module docstring) ----------------------------------------------

def _text(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#13;"))


def _attr(value: str) -> str:
    return _attr_of_text(_text(value))


def _attr_of_text(text: str) -> str:
    """An attribute value from a value already escaped by _text."""
    return text.replace('"', "&quot;").replace("\t", "&#9;").replace("\n", "&#10;")


def _rss_text(value: str) -> str:
    return (value.replace("&", "&#x26;").replace("<", "&#x3C;").replace(">", "&gt;")
            .replace("\r", "&#13;"))


def _rss_of_text(text: str) -> str:
    """_rss_text(value) from _text(value): in the latter every "&amp;" and "&lt;" stands for
    an original "&" and "<" (each "&" there starts one of its four references), so two
    scans instead of four for a text escaped for both formats (an item's content)."""
    return text.replace("&amp;", "&#x26;").replace("&lt;", "&#x3C;")


def _rss_attr(value: str) -> str:
    return (_rss_text(value).replace('"', "&quot;").replace("\t", "&#9;")
            .replace("\n", "&#10;"))


def rfc2822(value: datetime) -> str:
    """What feedgen writes for RSS dates (strftime '%a, %d %b %Y %H:%M:%S %z' in the C locale)."""
    return _rfc2822_utc(common.utc(value))


def _rfc2822_utc(d: datetime) -> str:
    return (f"{_DAYS[d.weekday()]}, {d.day:02d} {_MONTHS[d.month - 1]} {d.year} "
            f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} +0000")


def _iso(value: datetime) -> str:
    return common.utc(value).isoformat()


# --- entries -------------------------------------------------------------------------------------

def render_item(item: Item) -> Rendered:
    """The item's entry in RSS, Atom and JSON Feed, each as the text between (and including)
    its start and end tag lines, indented for its place in the document. Text is cleaned and
    dates are converted once for all three."""
    title, summary, content = (common.clean(item.title), common.clean(item.summary),
                               common.clean(item.content))
    author = common.clean(item.author) if item.author else None
    categories = common.unique(item.categories)
    image_type = common.image_type(item.image) if item.image else ""
    published, updated = common.utc(item.published), common.utc(item.updated)
    dates = _Dates(published.isoformat(), updated.isoformat(), _rfc2822_utc(published))
    published_z, updated_z = dates.published[:19] + "Z", dates.updated[:19] + "Z"
    content_xml = _text(content)    # both XML formats carry it (RSS: _rss_of_text)
    return Rendered(
        id=item.id, published=published, updated=updated, language=item.language,
        digest_entry=(item.id, item.content_hash, published_z, updated_z),
        rss=_rss_item(item, title, summary, content_xml, author, categories, image_type,
                      dates).encode("utf-8"),
        atom=_atom_entry(item, title, summary, content_xml, author, categories, image_type,
                         dates).encode("utf-8"),
        json=jsonfeed.item_bytes(item, title=title, summary=summary, content=content,
                                 author=author, tags=categories, published=published_z,
                                 updated=updated_z))


def render_item_reusing(item: Item) -> Rendered:
    """render_item, taking the entries from publish.entries when the current documents have
    just rendered them (a page that completes is mostly the previous current document): they
    are the same bytes."""
    key = entry_key(item)
    rss, atom, json_text = (ENTRIES.get(ext, key) for ext in ("rss", "atom", "json"))
    if rss is None or atom is None or json_text is None:
        return render_item(item)
    published, updated = common.utc(item.published), common.utc(item.updated)
    return Rendered(id=item.id, published=published, updated=updated, language=item.language,
                    digest_entry=(item.id, item.content_hash, common.rfc3339(published),
                                  common.rfc3339(updated)),
                    rss=rss, atom=atom, json=json_text)


@dataclass(frozen=True, slots=True)
class _Dates:
    published: str      # ISO 8601 with +00:00, as feedgen writes Atom dates
    updated: str
    pub_date: str       # RFC 2822, RSS <pubDate>


def _rss_item(item: Item, title: str, summary: str, content_xml: str, author: str | None,
              categories: list[str], image_type: str, dates: _Dates) -> str:
    """`content_xml`: the content escaped by _text."""
    if not (title or summary or content_xml):
        raise PublishError(f"cannot render RSS: item {item.url} has no title, summary or content")
    parts = ["    <item>\n"]
    if title:
        parts.append(f"      <title>{_rss_text(title)}</title>\n")
    url = _rss_text(item.url)
    if url:
        parts.append(f"      <link>{url}</link>\n")
    description = html.escape(summary, quote=False) if summary else ""
    if description and content_xml:
        parts.append(f"      <description>{_rss_text(description)}</description>\n"
                     f"      <content:encoded>{_rss_of_text(content_xml)}</content:encoded>\n")
    elif description:
        parts.append(f"      <description>{_rss_text(description)}</description>\n")
    elif content_xml:
        parts.append(f"      <description>{_rss_of_text(content_xml)}</description>\n")
    if url:
        parts.append(f'      <guid isPermaLink="true">{url}</guid>\n')
    for category in categories:
        parts.append(f"      <category>{_rss_text(category)}</category>\n")
    if item.image:
        parts.append(f'      <enclosure url="{_rss_attr(item.image)}" length="0" '
                     f'type="{_rss_attr(image_type)}"/>\n')
    parts.append(f"      <pubDate>{dates.pub_date}</pubDate>\n")
    if author is not None:
        parts.append(f"      <dc:creator>{_rss_text(author)}</dc:creator>\n")
    if item.language:
        parts.append(f"      <dc:language>{_rss_text(item.language)}</dc:language>\n")
    parts.append("    </item>\n")
    return "".join(parts)


def _atom_entry(item: Item, title: str, summary: str, content_xml: str, author: str | None,
                categories: list[str], image_type: str, dates: _Dates) -> str:
    """`content_xml`: the content escaped by _text."""
    if not (item.url and title):
        raise PublishError(f"cannot render Atom: item {item.url!r} has no id or title")
    if not summary and not content_xml:
        summary = title   # as feeds._atom_entry: an entry needs some textual content
    lang = f' xml:lang="{_attr(item.language)}"' if item.language else ""
    url = _text(item.url)
    parts = [f"  <entry{lang}>\n"
             f"    <id>{url}</id>\n"
             f"    <title>{_text(title)}</title>\n"
             f"    <updated>{dates.updated}</updated>\n"]
    if author:
        parts.append(f"    <author>\n      <name>{_text(author)}</name>\n    </author>\n")
    if content_xml:
        parts.append(f'    <content type="html">{content_xml}</content>\n')
    parts.append(f'    <link href="{_attr_of_text(url)}"/>\n')
    if summary:
        parts.append(f'    <summary type="text">{_text(summary)}</summary>\n')
    for category in categories:
        parts.append(f'    <category term="{_attr(category)}"/>\n')
    parts.append(f"    <published>{dates.published}</published>\n")
    if item.image:
        parts.append(f'    <link href="{_attr(item.image)}" rel="enclosure" '
                     f'type="{_attr(image_type)}"/>\n')
    parts.append("  </entry>\n")
    return "".join(parts)


# --- documents -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Frame:
    """What a document says besides its entries."""

    feed: FeedConfig
    site: SiteConfig
    updated: datetime            # the feed-level date (common.feed_updated)
    language: str | None         # common.feed_language
    links: FeedLinks | None = None


def frame_for(feed: FeedConfig, site: SiteConfig, entries: Sequence[Rendered], now: datetime,
              links: FeedLinks | None = None) -> Frame:
    """The frame feeds.py would derive from these items (date, language)."""
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
        head, tail = _rss_frame(frame)
        parts: list[bytes] = [r.rss for r in entries]
    elif ext == "atom":
        head, tail = _atom_frame(frame)
        parts = [r.atom for r in entries]
    elif ext == "json":
        parts = []
        for r in entries:
            parts += (r.json, b",\n")
        del parts[-1:]      # the items array's separators go between the entries only
        head, tail = _json_frame(frame, bool(parts))
    else:
        raise ValueError(f"unknown format {ext!r}")
    return b"".join([head.encode("utf-8"), *parts, tail.encode("utf-8")])


def _self_url(frame: Frame, ext: str) -> str:
    links = frame.links
    return links.self_url if links is not None and links.self_url else common.feed_url(
        frame.site, frame.feed, ext)


def _history(frame: Frame) -> tuple[list[tuple[str, str]], bool]:
    links = frame.links
    if links is None:
        return [], False
    return links.extra(), links.archive


def _rss_frame(frame: Frame) -> tuple[str, str]:
    feed, site = frame.feed, frame.site
    extra, archive = _history(frame)
    namespaces = (f'xmlns:fh="{HISTORY_NS}" ' if archive else "") + (
        f'xmlns:dc="{DC_NS}" xmlns:atom="{ATOM_NS}" xmlns:content="{CONTENT_NS}"')
    parts = [_DECLARATION,
             f'<rss {namespaces} version="2.0">\n',
             "  <channel>\n",
             f"    <title>{_rss_text(common.clean(feed.title))}</title>\n",
             f"    <link>{_rss_text(common.home_url(feed, site))}</link>\n",
             f"    <description>{_rss_text(common.description(feed))}</description>\n",
             f'    <atom:link href="{_rss_attr(_self_url(frame, "rss"))}" rel="self" '
             f'type="{common.FORMATS["rss"]}"/>\n',
             f"    <docs>{RSS_DOCS}</docs>\n",
             f"    <generator>{_rss_text(common.GENERATOR)}</generator>\n"]
    if frame.language:
        parts.append(f"    <language>{_rss_text(frame.language)}</language>\n")
    parts.append(f"    <lastBuildDate>{rfc2822(frame.updated)}</lastBuildDate>\n")
    for rel, href in extra:
        parts.append(f'    <atom:link href="{_rss_attr(href)}" rel="{rel}"/>\n')
    if archive:
        parts.append("    <fh:archive/>\n")
    return "".join(parts), "  </channel>\n</rss>\n"


def _atom_frame(frame: Frame) -> tuple[str, str]:
    feed, site = frame.feed, frame.site
    extra, archive = _history(frame)
    namespaces = (f'xmlns:fh="{HISTORY_NS}" ' if archive else "") + f'xmlns="{ATOM_NS}"'
    lang = f' xml:lang="{_attr(frame.language)}"' if frame.language else ""
    parts = [_DECLARATION,
             f"<feed {namespaces}{lang}>\n",
             f"  <id>{_text(common.feed_url(site, feed, 'atom'))}</id>\n",
             f"  <title>{_text(common.clean(feed.title))}</title>\n",
             f"  <updated>{_iso(frame.updated)}</updated>\n"]
    author = common.clean(site.title)
    if author:
        parts.append(f"  <author>\n    <name>{_text(author)}</name>\n  </author>\n")
    parts += [f'  <link href="{_attr(_self_url(frame, "atom"))}" rel="self" '
              f'type="{common.FORMATS["atom"]}"/>\n',
              f'  <link href="{_attr(common.home_url(feed, site))}" rel="alternate" '
              'type="text/html"/>\n',
              f'  <generator uri="{_attr(common.GENERATOR_URI)}" '
              f'version="{_attr(common.GENERATOR_VERSION)}">{_text(common.GENERATOR)}'
              "</generator>\n",
              f"  <subtitle>{_text(common.description(feed))}</subtitle>\n"]
    for rel, href in extra:
        parts.append(f'  <link href="{_attr(href)}" rel="{rel}"/>\n')
    if archive:
        parts.append("  <fh:archive/>\n")
    return "".join(parts), "</feed>\n"


def _json_frame(frame: Frame, has_items: bool) -> tuple[str, str]:
    head = jsonfeed.dump(jsonfeed.head_fields(frame.feed, frame.site, frame.language,
                                                  frame.links))
    # `head` ends with "\n}"; the items array goes in as the last key.
    opening = head[:-2] + ',\n  "items": '
    if not has_items:
        return opening + "[]", "\n}\n"
    return opening + "[\n", "\n  ]\n}\n"
