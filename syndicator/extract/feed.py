"""Feeds → Articles. The one feedparser user.

RSS 0.9x / 2.0, RSS 1.0 (RDF) and Atom go through feedparser, from the text decode.py
decoded (BOM, HTTP charset, XML declaration, detection), handed over as UTF-8 bytes that say
so: feedparser does not decode anything a second time. JSON Feed 1.0 / 1.1 is parsed here
with `json` (feedparser 6.0 does not read JSON Feed).

XML that declares entities is refused before any parser sees it: entity expansion ("billion
laughs") exhausts memory and external entities (XXE) read local files or reach the network.
No legitimate news feed needs an internal DTD subset.
"""

from __future__ import annotations

import html as html_lib
import io
import json
import re
import time
from collections.abc import Mapping
from typing import Any

import feedparser

from syndicator.dates import has_full_year
from syndicator.decode import xml_utf8
from syndicator.errors import ExtractError, UnsafeDocument
from syndicator.extract.entries import FeedRead, collect
from syndicator.extract.html import absolute_url
from syndicator.extract.values import unique
from syndicator.locales import language_key
from syndicator.model import Article, Page, Translations
from syndicator.sanitise import tiny_file, tiny_length

__all__ = ["FeedRead", "check_xml_safety", "parse_feed", "read_feed"]

_ENTITY = b"<!entity"
_HAS_TIME = re.compile(r"\d:\d")
_ISO_WITHOUT_OFFSET = re.compile(r"^\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*$")
_ISO_WEEK = re.compile(r"^\s*\d{4}-?W\d")      # feedparser makes 1 December of any week date
_LOOKS_HTML = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9]*)(?:\s[^>]*)?/?>|&(?:[a-zA-Z]+|#\d+);")
_IMAGE_EXT = re.compile(r"\.(?:jpe?g|png|gif|webp|avif)(?:[?#]|$)", re.IGNORECASE)


def parse_feed(page: Page) -> tuple[Article, ...]:
    """All entries of an RSS / RDF / Atom / JSON feed, as Articles with absolute URLs."""
    return read_feed(page).articles


def read_feed(page: Page) -> FeedRead:
    """The entries of a feed as Articles (see entries.py: titles derived where missing,
    identity where the URL is not enough), and the entries skipped, by reason."""
    if _is_json(page):
        return _parse_json_feed(page)
    raw = xml_utf8(page.text)
    check_xml_safety(raw, url=page.final_url)
    parsed = _feedparser(page, raw)
    entries = parsed.get("entries") or []
    if not entries and not parsed.get("version"):
        if page.decode_problem:
            # Not the publisher's XML that is at fault when we could not read the bytes.
            raise ExtractError(f"feed could not be decoded: {page.decode_problem}",
                               url=page.final_url)
        problem = parsed.get("bozo_exception") or "no RSS, Atom or RDF root element"
        raise ExtractError(f"not a feed: {_one_line(problem)}", url=page.final_url)
    feed_language = language_key(_str((parsed.get("feed") or {}).get("language")))
    base = page.final_url
    return collect((_entry_article(entry, base, feed_language), _str(entry.get("id")))
                   for entry in entries)


# --- safety ----------------------------------------------------------------------------------

def check_xml_safety(raw: bytes, *, url: str = "") -> None:
    """Raise UnsafeDocument when the document declares entities.

    An entity declaration can only sit in the prolog, but the prolog may be padded past any
    fixed window and a quoted literal can look like the root element; so the whole document is
    scanned (a byte search, cheap next to parsing). The price: a feed quoting `<!ENTITY` in a
    CDATA section is refused too.
    """
    # NUL bytes removed: UTF-16/32 documents then read as ASCII for this purpose.
    if _ENTITY in raw.replace(b"\x00", b"").lower():
        raise UnsafeDocument("entity declarations are refused (entity expansion / external "
                             "entities)", url=url)


# --- XML feeds (feedparser) ------------------------------------------------------------------

def _feedparser(page: Page, raw: bytes) -> Mapping[str, Any]:
    # UTF-8 bytes, declared UTF-8 in the header and the document alike (decode.xml_utf8).
    headers = {"content-location": page.final_url,
               "content-type": "application/xml; charset=utf-8"}
    try:
        # A BytesIO, never a str: feedparser treats strings as URLs or file names.
        result: Mapping[str, Any] = feedparser.parse(io.BytesIO(raw), response_headers=headers)
    except Exception as exc:  # feedparser is meant not to raise; if it does, input caused it
        raise ExtractError(f"feed could not be parsed: {_one_line(exc)}",
                           url=page.final_url) from exc
    return result


def _entry_article(entry: Mapping[str, Any], base: str,
                   feed_language: str | None) -> Article | None:
    url = _entry_url(entry, base)
    if url is None:
        return None
    key = "published" if _str(entry.get("published")) else "updated"
    published = _feed_date(_own(entry, key), _own(entry, f"{key}_parsed"))
    # The string as written follows feedparser's reading, for when that one is unusable.
    raw = _str(_own(entry, key)) if published != _str(_own(entry, key)) else None
    summary = _str(entry.get("summary"))
    content = _content(entry) or (summary if summary and _LOOKS_HTML.search(summary) else None)
    return Article(
        url=url,
        title=_str(entry.get("title")),
        dates=unique([published, raw]),
        updated=_updated(entry),
        summary=summary,
        content=content,
        image=absolute_url(base, _entry_image(entry)),
        author=_author(entry),
        categories=unique(_str(t.get("term")) or _str(t.get("label"))
                           for t in entry.get("tags") or () if isinstance(t, Mapping)),
        language=language_key(_entry_language(entry)) or feed_language,
        translations=_entry_translations(entry, base),
    )


def _entry_translations(entry: Mapping[str, Any], base: str) -> Translations:
    """The entry's `<link rel="alternate" hreflang="xx">` links: its language versions (its
    own link among them, which normalisation leaves out)."""
    found: list[tuple[str | None, str]] = []
    for link in entry.get("links") or ():
        if isinstance(link, Mapping) and link.get("rel", "alternate") == "alternate":
            language = language_key(_str(link.get("hreflang")))
            url = absolute_url(base, _str(link.get("href")))
            if language is not None and url is not None:
                found.append((language, url))
    return tuple(found)


def _entry_url(entry: Mapping[str, Any], base: str) -> str | None:
    # feedparser's `link` is the entry's *last* alternate link: with hreflang alternates
    # (its translations) that is another language's page. The entry's own is the first
    # without hreflang, else the one in the entry's language.
    alternates = [link for link in entry.get("links") or () if isinstance(link, Mapping)
                  and link.get("rel", "alternate") == "alternate"]
    language = language_key(_entry_language(entry))
    own = ([link for link in alternates if not link.get("hreflang")]
           or [link for link in alternates if language
               and language_key(_str(link.get("hreflang"))) == language])
    url = absolute_url(base, _str(own[0].get("href")) if own else _str(entry.get("link")),
                       anchors=True)
    if url:
        return url
    for link in entry.get("links") or ():
        if isinstance(link, Mapping) and link.get("rel", "alternate") == "alternate":
            url = absolute_url(base, _str(link.get("href")), anchors=True)
            if url:
                return url
    entry_id = _str(entry.get("id")) or ""
    if re.match(r"^https?://", entry_id, re.IGNORECASE):
        return entry_id
    # A podcast-style entry: its enclosure is what it links to.
    for link in [*(entry.get("links") or ()), *(entry.get("enclosures") or ())]:
        if isinstance(link, Mapping) and link.get("rel", "enclosure") == "enclosure":
            url = absolute_url(base, _str(link.get("href")) or _str(link.get("url")))
            if url:
                return url
    return None


def _updated(entry: Mapping[str, Any]) -> str | None:
    return _feed_date(_own(entry, "updated"), _own(entry, "updated_parsed"))


def _feed_date(raw: Any, parsed: Any) -> str | None:
    """An entry's date: feedparser's parse of a timestamp as given (ISO 8601, UTC), unless
    the string leaves the year to be guessed (`03-12-31`, `-03-12`: feedparser makes 2003
    of them); then the string itself, which normalisation reads strictly (no year: no date).

    A string without a time of day is the string too: feedparser fills in a day it does
    not name (`2021-06` is 1 June, `2021-Q2` and `2021-W23` 1 December), while
    normalisation reads a date only where a day is written (and knows the time of day is
    unknown). A time without an offset ("2024-05-06T07:00:00") is the string too:
    feedparser takes it for UTC, but it is in the source's time zone, which normalisation
    knows. A week date (`2021-W22-4T14:30Z`) is the string too: feedparser reads 1 December
    of it.
    """
    text = _str(raw)
    if text is None:
        return None
    iso = _iso(parsed)
    if (iso is None or not has_full_year(text) or not _HAS_TIME.search(text)
            or _ISO_WITHOUT_OFFSET.match(text) or _ISO_WEEK.match(text)):
        return text
    return iso


def _own(entry: Mapping[str, Any], key: str) -> Any:
    """A key the entry really has: feedparser's dict answers `updated` with `published`
    (deprecated fallback) when the feed gave no modification date."""
    return dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)


def _content(entry: Mapping[str, Any]) -> str | None:
    for block in entry.get("content") or ():
        if isinstance(block, Mapping):
            value = _str(block.get("value"))
            if value:
                return value
    return None


def _entry_image(entry: Mapping[str, Any]) -> str | None:
    """The entry's picture: media:content, media:thumbnail, then an image enclosure; those
    their own markup shows to be tracking pixels (1×1, or a few bytes long) are skipped."""
    for media in entry.get("media_content") or ():
        if isinstance(media, Mapping) and _is_image(media) and not _pixel(media):
            return _str(media.get("url"))
    for thumb in entry.get("media_thumbnail") or ():
        if isinstance(thumb, Mapping) and _str(thumb.get("url")) and not _pixel(thumb):
            return _str(thumb.get("url"))
    for link in [*(entry.get("enclosures") or ()), *(entry.get("links") or ())]:
        if not isinstance(link, Mapping):
            continue
        kind = _str(link.get("type")) or ""
        if (link.get("rel", "enclosure") == "enclosure" and kind.startswith("image/")
                and not _pixel(link)):
            return _str(link.get("href")) or _str(link.get("url"))
    return None


def _pixel(media: Mapping[str, Any]) -> bool:
    return (tiny_length(media.get("width")) or tiny_length(media.get("height"))
            or tiny_file(media.get("length") or media.get("filesize")))


def _is_image(media: Mapping[str, Any]) -> bool:
    kind = _str(media.get("type")) or ""
    medium = _str(media.get("medium")) or ""
    url = _str(media.get("url")) or ""
    if kind or medium:
        return kind.startswith("image/") or medium == "image"
    return bool(url and _IMAGE_EXT.search(url))


def _author(entry: Mapping[str, Any]) -> str | None:
    names = [_str(a.get("name")) for a in entry.get("authors") or () if isinstance(a, Mapping)]
    return ", ".join(unique(names)) or _str(entry.get("author"))


def _entry_language(entry: Mapping[str, Any]) -> str | None:
    for key in ("content", "summary_detail", "title_detail"):
        detail = entry.get(key)
        blocks = detail if isinstance(detail, list) else [detail]
        for block in blocks:
            if isinstance(block, Mapping) and _str(block.get("language")):
                return _str(block.get("language"))
    return None


# --- JSON Feed -------------------------------------------------------------------------------

def _is_json(page: Page) -> bool:
    if page.content_type in ("application/feed+json", "application/json"):
        return True
    return page.text.lstrip("\ufeff \t\r\n")[:1] == "{"


def _parse_json_feed(page: Page) -> FeedRead:
    try:
        data = json.loads(page.text.lstrip("\ufeff"))
    except (ValueError, RecursionError) as exc:
        raise ExtractError(f"not a feed: invalid JSON ({_one_line(exc)})",
                           url=page.final_url) from None
    version = str(data.get("version", "")) if isinstance(data, dict) else ""
    items = data.get("items") if isinstance(data, dict) else None
    if "jsonfeed.org" not in version or not isinstance(items, list):
        raise ExtractError("not a feed: JSON without a JSON Feed version and items",
                           url=page.final_url)
    base = _str(data.get("feed_url")) or page.final_url
    base = absolute_url(page.final_url, base) or page.final_url
    feed_language = language_key(_str(data.get("language")))
    feed_authors = _json_authors(data)
    return collect((_json_item(item, base, feed_language, feed_authors), _json_id(item))
                   for item in items if isinstance(item, dict))


def _json_id(item: Mapping[str, Any]) -> str | None:
    """A JSON Feed item's id: a string, or a number coerced to one (JSON Feed 1.1 says
    readers do; feeds write `"id": 123`)."""
    value = item.get("id")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return _str(value)


def _json_item(item: Mapping[str, Any], base: str, feed_language: str | None,
               feed_authors: str | None) -> Article | None:
    url = absolute_url(base, _str(item.get("url")))
    if url is None:
        item_id = _json_id(item) or ""
        url = item_id if re.match(r"^https?://", item_id, re.IGNORECASE) else None
    for other in (item.get("external_url"), *(a.get("url") for a in item.get("attachments")
                                              or () if isinstance(a, dict))):
        url = url or absolute_url(base, _str(other))
    if url is None:
        return None
    text = _str(item.get("content_text"))
    content = _str(item.get("content_html")) or (_text_to_html(text) if text else None)
    return Article(
        url=url,
        title=_str(item.get("title")),
        dates=unique([_str(item.get("date_published"))]),
        updated=_str(item.get("date_modified")),
        summary=_str(item.get("summary")),
        content=content,
        image=absolute_url(base, _str(item.get("image")) or _str(item.get("banner_image"))),
        author=_json_authors(item) or feed_authors,
        categories=unique(_str(t) for t in item.get("tags") or () if isinstance(t, str)),
        language=language_key(_str(item.get("language"))) or feed_language,
    )


def _json_authors(node: Mapping[str, Any]) -> str | None:
    authors = node.get("authors")
    if not isinstance(authors, list):
        authors = [node.get("author")]  # JSON Feed 1.0
    names = [_str(a.get("name")) for a in authors if isinstance(a, dict)]
    return ", ".join(unique(names)) or None


def _text_to_html(text: str) -> str:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "\n".join(f"<p>{html_lib.escape(p)}</p>" for p in paragraphs)


# --- helpers ---------------------------------------------------------------------------------

def _str(value: Any) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def _iso(parsed: Any) -> str | None:
    """feedparser's UTC struct_time → `2024-05-06T07:00:00Z`."""
    if not isinstance(parsed, time.struct_time):
        return None
    # Formatted by hand: strftime writes the year 100 as "100", which no ISO parser reads.
    return (f"{parsed.tm_year:04d}-{parsed.tm_mon:02d}-{parsed.tm_mday:02d}T"
            f"{parsed.tm_hour:02d}:{parsed.tm_min:02d}:{min(parsed.tm_sec, 59):02d}Z")


def _one_line(value: object) -> str:
    text = " ".join(str(value).split())
    return text[:200] + ("…" if len(text) > 200 else "")
