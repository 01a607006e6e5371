"""The RSS 2.0 and Atom 1.0 syntax of feed documents: an entry as text, a document's head and
tail. feeds.py puts them together (the one writer of feed documents).

Documents are written as text, not built as element trees: a full build writes every stored
item into archive pages, and an lxml tree per document (feedgen's way) costs ~150-350 µs per
entry against a few µs here. The layout is the one feedgen (lxml's pretty printer) writes, so
that tests/test_feed_writer.py can hold the output to feedgen's as the reference:

- `&`, `<`, `>` and CR escaped in text; additionally `"`, TAB and LF in attributes; two
  spaces of indentation per level; an element without text or children self-closed;
- RSS writes `&` and `<` as hexadecimal character references (`&#x26;`, `&#x3C;`), as the
  RSS Profile recommends: RSS never said whether <title> is text or HTML, readers that
  decode entities once more are not confused, and the W3C validator stops warning about
  plain text containing "&" or "<".
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from syndicator.errors import PublishError
from syndicator.model import Item
from syndicator.publish import common
from syndicator.publish.links import ATOM_NS, HISTORY_NS, EntryLink, Frame

RSS_DOCS = "http://www.rssboard.org/rss-specification"
DC_NS = "http://purl.org/dc/elements/1.1/"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>\n"
RSS_TAIL = "  </channel>\n</rss>\n"
ATOM_TAIL = "</feed>\n"


# --- escaping (see the module docstring) -------------------------------------------------------

def text(value: str) -> str:
    """`value` escaped as XML text."""
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#13;"))


def _attr(value: str) -> str:
    return _attr_of_text(text(value))


def _attr_of_text(escaped: str) -> str:
    """An attribute value from a value already escaped by `text`."""
    return escaped.replace('"', "&quot;").replace("\t", "&#9;").replace("\n", "&#10;")


def _rss_text(value: str) -> str:
    return (value.replace("&", "&#x26;").replace("<", "&#x3C;").replace(">", "&gt;")
            .replace("\r", "&#13;"))


def _rss_of_text(escaped: str) -> str:
    """_rss_text(value) from text(value): in the latter every "&amp;" and "&lt;" stands for
    an original "&" and "<" (each "&" there starts one of its four references), so two
    scans instead of four for a text escaped for both formats (an item's content)."""
    return escaped.replace("&amp;", "&#x26;").replace("&lt;", "&#x3C;")


def _rss_attr(value: str) -> str:
    return (_rss_text(value).replace('"', "&quot;").replace("\t", "&#9;")
            .replace("\n", "&#10;"))


def rfc2822(value: datetime) -> str:
    """An RSS date: '%a, %d %b %Y %H:%M:%S +0000' in UTC with English names, whatever the
    process's locale."""
    d = common.utc(value)   # returns a UTC whole-second value as it is
    return (f"{_DAYS[d.weekday()]}, {d.day:02d} {_MONTHS[d.month - 1]} {d.year} "
            f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} +0000")


# --- entries -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Shown:
    """What an entry shows, cleaned and formatted once for both XML formats."""

    title: str
    summary: str
    content_xml: str            # the content escaped by `text` (RSS: _rss_of_text)
    author: str | None
    categories: list[str]
    image_type: str
    published: str              # ISO 8601 with +00:00 (Atom)
    updated: str
    pub_date: str               # RFC 2822 (RSS <pubDate>)
    links: Sequence[EntryLink]


def rss_item(item: Item, shown: Shown) -> str:
    """The item's `<item>` element, indented for its place in the channel."""
    title, summary, content_xml = shown.title, shown.summary, shown.content_xml
    if not (title or summary or content_xml):
        raise PublishError(f"cannot render RSS: item {item.url} has no title, summary or content")
    parts = ["    <item>\n"]
    if title:
        parts.append(f"      <title>{_rss_text(title)}</title>\n")
    url = _rss_text(item.url)
    if url:
        parts.append(f"      <link>{url}</link>\n")
    # <description> is HTML to RSS readers: the plain summary is escaped so that a literal
    # "<b>" or "&" in it is shown, not interpreted. With a summary the content goes into
    # content:encoded; without one into <description>, which RSS readers also accept.
    description = html.escape(summary, quote=False) if summary else ""
    if description:
        parts.append(f"      <description>{_rss_text(description)}</description>\n")
        if content_xml:
            parts.append(f"      <content:encoded>{_rss_of_text(content_xml)}"
                         "</content:encoded>\n")
    elif content_xml:
        parts.append(f"      <description>{_rss_of_text(content_xml)}</description>\n")
    if url:
        parts.append(f'      <guid isPermaLink="true">{url}</guid>\n')
    for category in shown.categories:
        parts.append(f"      <category>{_rss_text(category)}</category>\n")
    if item.image:
        parts.append(f'      <enclosure url="{_rss_attr(item.image)}" length="0" '
                     f'type="{_rss_attr(shown.image_type)}"/>\n')
    parts.append(f"      <pubDate>{shown.pub_date}</pubDate>\n")
    # RSS <author> must be an e-mail address; Dublin Core carries a plain name.
    if shown.author is not None:
        parts.append(f"      <dc:creator>{_rss_text(shown.author)}</dc:creator>\n")
    if item.language:
        parts.append(f"      <dc:language>{_rss_text(item.language)}</dc:language>\n")
    if shown.links:
        parts += (f"      <atom:link{_link_attributes(link, _rss_attr)}/>\n"
                  for link in shown.links)
    parts.append("    </item>\n")
    return "".join(parts)


def atom_entry(item: Item, shown: Shown) -> str:
    """The item's `<entry>` element (with its own `xml:lang`: feeds mix languages)."""
    title, summary, content_xml = shown.title, shown.summary, shown.content_xml
    if not (item.url and title):
        raise PublishError(f"cannot render Atom: item {item.url!r} has no id or title")
    if not summary and not content_xml:
        # Readers show an entry's summary or content; an entry with neither draws the
        # validator's "missing textual content" warning, so repeat the title.
        summary = title
    lang = f' xml:lang="{_attr(item.language)}"' if item.language else ""
    url = text(item.url)
    parts = [f"  <entry{lang}>\n"
             f"    <id>{url}</id>\n"
             f"    <title>{text(title)}</title>\n"
             f"    <updated>{shown.updated}</updated>\n"]
    if shown.author:
        parts.append(f"    <author>\n      <name>{text(shown.author)}</name>\n    </author>\n")
    if content_xml:
        parts.append(f'    <content type="html">{content_xml}</content>\n')
    # A bare <link href> is rel="alternate" (RFC 4287).
    parts.append(f'    <link href="{_attr_of_text(url)}"/>\n')
    if summary:
        parts.append(f'    <summary type="text">{text(summary)}</summary>\n')
    for category in shown.categories:
        parts.append(f'    <category term="{_attr(category)}"/>\n')
    parts.append(f"    <published>{shown.published}</published>\n")
    if item.image:
        # No length: Atom makes it optional and "0" would claim an empty file.
        parts.append(f'    <link href="{_attr(item.image)}" rel="enclosure" '
                     f'type="{_attr(shown.image_type)}"/>\n')
    if shown.links:
        parts += (f"    <link{_link_attributes(link, _attr)}/>\n" for link in shown.links)
    parts.append("  </entry>\n")
    return "".join(parts)


def _link_attributes(link: EntryLink, escape: Callable[[str], str]) -> str:
    found = f' href="{escape(link.href)}" rel="{escape(link.rel)}"'
    if link.media_type:
        found += f' type="{escape(link.media_type)}"'
    if link.hreflang:
        found += f' hreflang="{escape(link.hreflang)}"'
    if link.title:
        found += f' title="{escape(link.title)}"'
    return found


# --- document heads ----------------------------------------------------------------------------

def _self_url(frame: Frame, ext: str) -> str:
    links = frame.links
    return links.self_url if links is not None and links.self_url else common.feed_url(
        frame.site, frame.feed, ext)


def _history(frame: Frame) -> tuple[list[tuple[str, str]], bool]:
    links = frame.links
    if links is None:
        return [], False
    return links.extra(), links.archive


def rss_head(frame: Frame) -> str:
    """The document up to its first `<item>`: the channel's fields and links (hub, current,
    prev-archive as atom:link, RFC 5005 Appendix B)."""
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
    return "".join(parts)


def atom_head(frame: Frame) -> str:
    """The document up to its first `<entry>`. Its id is the subscription URL, also on
    archive pages (same feed); the site is the feed-level author."""
    feed, site = frame.feed, frame.site
    extra, archive = _history(frame)
    namespaces = (f'xmlns:fh="{HISTORY_NS}" ' if archive else "") + f'xmlns="{ATOM_NS}"'
    lang = f' xml:lang="{_attr(frame.language)}"' if frame.language else ""
    parts = [_DECLARATION,
             f"<feed {namespaces}{lang}>\n",
             f"  <id>{text(common.feed_url(site, feed, 'atom'))}</id>\n",
             f"  <title>{text(common.clean(feed.title))}</title>\n",
             f"  <updated>{common.utc(frame.updated).isoformat()}</updated>\n"]
    author = common.clean(site.title)
    if author:
        parts.append(f"  <author>\n    <name>{text(author)}</name>\n  </author>\n")
    parts += [f'  <link href="{_attr(_self_url(frame, "atom"))}" rel="self" '
              f'type="{common.FORMATS["atom"]}"/>\n',
              f'  <link href="{_attr(common.home_url(feed, site))}" rel="alternate" '
              'type="text/html"/>\n',
              f'  <generator uri="{_attr(common.GENERATOR_URI)}" '
              f'version="{_attr(common.GENERATOR_VERSION)}">{text(common.GENERATOR)}'
              "</generator>\n",
              f"  <subtitle>{text(common.description(feed))}</subtitle>\n"]
    for rel, href in extra:
        parts.append(f'  <link href="{_attr(href)}" rel="{rel}"/>\n')
    if archive:
        parts.append("  <fh:archive/>\n")
    return "".join(parts)
