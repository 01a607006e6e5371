"""Machine-readable metadata of an article page: JSON-LD, OpenGraph, `article:*`, plain meta.

Every field comes from the most reliable source that has it, in this order:

    JSON-LD (NewsArticle / Article / BlogPosting / ..., also inside @graph and lists)
    OpenGraph and article:* meta
    <meta name=description>, <title>, <time datetime>, <link rel=canonical>, <html lang>

JSON-LD is found and repaired by jsonld.py; nothing here raises on bad input.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from syndicator.extract.html import (
    Node,
    absolute_url,
    ancestors,
    attr,
    collapse,
    element_text,
    is_inside,
    node_key,
    select_all,
    select_one,
    tag_name,
)
from syndicator.extract.jsonld import json_ld_article
from syndicator.extract.values import unique
from syndicator.locales import language_key
from syndicator.model import Article
from syndicator.sanitise import tiny_length

__all__ = ["extract_structured", "json_ld_article", "language_code", "page_language"]

_MILLISECONDS = 10**12           # a Unix time this large is in milliseconds (13 digits)

class _Heads:
    """The elements the metadata lives in, found in one pass over the page (each CSS query
    walks the whole tree: one query instead of eight is most of this module's cost)."""

    QUERY = ("script[type], meta[content], title, link[rel][href], [itemprop], "
             "time[datetime], article, abbr[title]")

    def __init__(self, soup: Node) -> None:
        self.scripts: list[Node] = []
        self.metas: list[Node] = []
        self.titles: list[Node] = []
        self.links: list[Node] = []
        self.itemprops: list[Node] = []
        self.times: list[Node] = []
        self.articles: list[Node] = []
        self.abbrs: list[Node] = []
        seen: set[int] = set()
        for element in select_all(soup, self.QUERY):
            key = node_key(element)
            if key in seen:        # an element matching several parts comes once per part
                continue
            seen.add(key)
            name = tag_name(element)
            if name == "script":
                self.scripts.append(element)
            elif name == "meta" and attr(element, "content") is not None:
                self.metas.append(element)
            elif name == "title":
                self.titles.append(element)
            elif name == "link":
                self.links.append(element)
            elif name == "time" and attr(element, "datetime") is not None:
                self.times.append(element)
            elif name == "article":
                self.articles.append(element)
            elif name == "abbr":
                self.abbrs.append(element)
            if attr(element, "itemprop") is not None:
                self.itemprops.append(element)


# Article.origins of the values found here.
JSON_LD = "JSON-LD"
OPENGRAPH = "OpenGraph"             # og:* and its article:* namespace
TWITTER = "Twitter card"
META = "<meta>"
MICRODATA = "microdata"
HATOM = "hAtom"

Candidate = tuple[str, str | None]  # where a value would come from, and the value


def extract_structured(soup: Node, base_url: str) -> Article:
    """An Article (url=base_url) from the page's structured metadata; fields may be empty.
    Its `origins` say which kind of metadata gave each field."""
    heads = _Heads(soup)
    ld = json_ld_article(soup, heads.scripts)
    meta = _meta_index(heads)
    origins: dict[str, str] = {}
    title = _pick(origins, "title", (JSON_LD, _text(ld.get("headline"))),
                  (JSON_LD, _text(ld.get("name"))), (OPENGRAPH, meta.first("og:title")),
                  (TWITTER, meta.first("twitter:title")), ("<title>", _title(heads)))
    dates = [
        (JSON_LD, _ld_date(ld.get("datePublished"))), (JSON_LD, _ld_date(ld.get("dateCreated"))),
        (OPENGRAPH, meta.first("article:published_time")),
        (OPENGRAPH, meta.first("og:published_time")),
        (MICRODATA, _microdata_date(heads, "datePublished")),
        (HATOM, _hatom_date(heads, "published")),
        (META, meta.first("pubdate")), (META, meta.first("publishdate")),
        (META, meta.first("dc.date.issued")), (META, meta.first("date")),
        ("<time datetime>", _time_datetime(heads)),
    ]
    _pick(origins, "date", *dates)
    updated = _pick(origins, "updated", (JSON_LD, _ld_date(ld.get("dateModified"))),
                    (OPENGRAPH, meta.first("article:modified_time")),
                    (OPENGRAPH, meta.first("og:updated_time")),
                    (MICRODATA, _microdata_date(heads, "dateModified")),
                    (HATOM, _hatom_date(heads, "updated")))
    summary = _pick(origins, "summary", (JSON_LD, _text(ld.get("description"))),
                    (OPENGRAPH, meta.first("og:description")),
                    (META, meta.first("description")),
                    (TWITTER, meta.first("twitter:description")))
    image = absolute_url(base_url, _pick(
        origins, "image", (JSON_LD, _image(ld.get("image"))),
        (JSON_LD, _image(ld.get("thumbnailUrl"))), (OPENGRAPH, _og_image(meta)),
        (TWITTER, meta.first("twitter:image"))))
    canonical = absolute_url(base_url, _pick(
        origins, "canonical", ("<link rel=canonical>", _canonical_link(heads)),
        (OPENGRAPH, meta.first("og:url"))))
    author = _pick(origins, "author", _author(soup, ld, meta, heads))
    categories, origins["category"] = _categories(ld, meta)
    for field, value in (("image", image), ("canonical", canonical), ("category", categories)):
        if not value:
            origins.pop(field, None)
    return Article(
        url=base_url,
        title=title,
        dates=unique([value for _origin, value in dates]),
        updated=updated,
        summary=summary,
        content=_body_html(ld.get("articleBody")),
        image=image,
        author=author,
        categories=categories,
        canonical=canonical,
        language=_first(page_language(soup), language_code(meta.first("og:locale")),
                        language_code(_text(ld.get("inLanguage")))),
        translations=(*_hreflang_alternates(heads, base_url), *_ld_translations(ld, base_url)),
        origins=origins,
    )


def _pick(origins: dict[str, str], field: str, *candidates: Candidate) -> str | None:
    """The first candidate with a value; its origin is recorded as the field's."""
    for origin, value in candidates:
        if value:
            origins[field] = origin
            return value
    return None


def page_language(soup: Node) -> str | None:
    """The language of `<html lang>` / `xml:lang`, as `language_code` writes it ("en")."""
    root = soup if tag_name(soup) == "html" else select_one(soup, "html")
    if root is not None:
        return language_code(attr(root, "lang") or attr(root, "xml:lang") or "")
    return None


def language_code(value: str | None) -> str | None:
    """A language tag as items keep it, locales.language_key's form ("be-BY" → "be",
    "zh-TW" → "zh-Hant"); None for anything that is not one ("x-default", "")."""
    return language_key(value)


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("@value") or value.get("name")
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return collapse(html_lib.unescape(str(value))) or None
    return None


def _ld_date(value: Any) -> str | None:
    """A JSON-LD date: a string as written; a number is a Unix time (some CMSs write one),
    in milliseconds when it has 13 digits, given as ISO 8601 in UTC (an implausible one,
    such as 20210603 read as seconds, is refused by the date's checks as any other)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) >= _MILLISECONDS else value
        try:
            return datetime.fromtimestamp(seconds, UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    return _text(value)


def _image(value: Any) -> str | None:
    if isinstance(value, list):
        for item in value:
            found = _image(item)
            if found:
                return found
        return None
    if isinstance(value, dict):
        if tiny_length(_size(value.get("width"))) or tiny_length(_size(value.get("height"))):
            return None                               # an ImageObject that is a pixel
        return _image(value.get("url") or value.get("contentUrl"))
    if isinstance(value, str):
        return value.strip() or None
    return None


def _size(value: Any) -> Any:
    """A JSON-LD width/height: a number, a string or a QuantitativeValue."""
    return value.get("value") if isinstance(value, dict) else value


def _og_image(meta: _Meta) -> str | None:
    """og:image, unless og:image:width/height (of the first image) say it is a pixel."""
    if tiny_length(meta.first("og:image:width")) or tiny_length(meta.first("og:image:height")):
        return None
    return meta.first("og:image") or meta.first("og:image:url")


def _names(value: Any) -> str | None:
    """Author names from a string, a Person/Organization, or a list of them, joined by ", "."""
    items = value if isinstance(value, list) else [value]
    names: list[str] = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else item
        text = _text(name)
        if text and not _is_url(text) and text not in names:
            names.append(text)
    return ", ".join(names) or None


def _body_html(value: Any) -> str | None:
    """JSON-LD articleBody is plain text: escape it and keep its paragraphs."""
    if not isinstance(value, str) or not value.strip():
        return None
    paragraphs = [collapse(p) for p in re.split(r"\n\s*\n|\r\n\s*\r\n", value)]
    return "\n".join(f"<p>{html_lib.escape(p)}</p>" for p in paragraphs if p) or None


def _categories(ld: dict[str, Any], meta: _Meta) -> tuple[tuple[str, ...], str]:
    """The page's categories and where they came from."""
    values: list[str | None] = []
    for key in ("articleSection", "keywords"):
        raw = ld.get(key)
        items = raw if isinstance(raw, list) else [raw]
        for item in items:
            text = _text(item)
            if text and key == "keywords" and not isinstance(raw, list):
                values.extend(part.strip() for part in text.split(","))
            else:
                values.append(text)
    if any(values):
        return unique(values, fold_case=True), JSON_LD
    values.extend(meta.all("article:section"))
    values.extend(meta.all("article:tag"))
    return unique(values, fold_case=True), OPENGRAPH


# --- translations ----------------------------------------------------------------------------

_TRANSLATION_KEYS = ("workTranslation", "translationOfWork")


def _hreflang_alternates(heads: _Heads, base_url: str) -> list[tuple[str | None, str]]:
    """`<link rel="alternate" hreflang="xx" href>` of the page (WordPress multilingual
    plugins write one per language version, the page's own included; `x-default` is no
    language and is skipped)."""
    found: list[tuple[str | None, str]] = []
    for link in heads.links:
        rels = (attr(link, "rel") or "").lower().split()
        language = language_code(attr(link, "hreflang"))
        url = absolute_url(base_url, attr(link, "href"))
        if "alternate" in rels and language is not None and url is not None:
            found.append((language, url))
    return found


def _ld_translations(ld: dict[str, Any], base_url: str) -> list[tuple[str | None, str]]:
    """JSON-LD `workTranslation` / `translationOfWork`: a URL, an `@id`, or a node with
    `url` (or `@id`) and `inLanguage`; one or a list."""
    found: list[tuple[str | None, str]] = []
    for key in _TRANSLATION_KEYS:
        raw = ld.get(key)
        for value in raw if isinstance(raw, list) else [raw]:
            language: str | None = None
            if isinstance(value, dict):
                language = language_code(_text(value.get("inLanguage")))
                value = value.get("url") or value.get("@id")
            url = absolute_url(base_url, value.strip()) if isinstance(value, str) else None
            if url is not None:
                found.append((language, url))
    return found


# --- meta, link, time ------------------------------------------------------------------------

class _Meta:
    """`<meta property|name|itemprop=... content=...>` by lower-cased key, in document order."""

    def __init__(self) -> None:
        self.values: dict[str, list[str]] = {}

    def add(self, key: str, value: str) -> None:
        self.values.setdefault(key, []).append(value)

    def first(self, key: str) -> str | None:
        found = self.values.get(key)
        return found[0] if found else None

    def all(self, key: str) -> list[str]:
        return list(self.values.get(key, ()))


def _meta_index(heads: _Heads) -> _Meta:
    meta = _Meta()
    for tag in heads.metas:
        content = collapse(attr(tag, "content") or "")
        if not content:
            continue
        for name in ("property", "name"):
            key = collapse(attr(tag, name) or "").lower()
            if key:
                meta.add(key, content)
    return meta


# Where a page names its author when the metadata does not: hCard/rel=author links and the
# usual byline classes. Read only when the metadata has no name.
_BYLINES = ('a[rel~="author"], [itemprop="author"] [itemprop="name"], .byline .author, '
            '.byline, .author-name, .post-author, .entry-author, .vcard .fn')
_BY = re.compile(r"^(?:by|von|par|por|автор|аўтар)[:\s]+", re.IGNORECASE)
_HANDLE = re.compile(r"^@?[A-Za-z0-9_]{1,30}$")
_MAX_BYLINE = 80


def _author(soup: Node, ld: dict[str, Any], meta: _Meta, heads: _Heads) -> Candidate:
    """The byline and where it came from: JSON-LD `author` names, `article:author` (a name;
    it is often the author's profile URL), `<meta name=author>`, `itemprop=author`, then a
    `rel=author` link or byline on the page. A social handle (`twitter:creator`, or a name
    that is only `@BBCWorld`) is never the byline unless it is all there is; then it is
    shown as the handle it is, with its `@`."""
    handles: list[Candidate] = []
    for origin, found in _author_candidates(soup, ld, meta, heads):
        if not found:
            continue
        if found.startswith("@") and _HANDLE.match(found):
            handles.append((origin, found))
            continue
        return origin, found
    handles.extend((TWITTER, f"@{value.lstrip('@')}") for value in meta.all("twitter:creator")
                   if _HANDLE.match(value))
    return handles[0] if handles else (JSON_LD, None)


def _author_candidates(soup: Node, ld: dict[str, Any], meta: _Meta,
                       heads: _Heads) -> Iterator[Candidate]:
    yield JSON_LD, _names(ld.get("author"))
    for key, origin in (("article:author", OPENGRAPH), ("author", META), ("dc.creator", META)):
        for value in meta.all(key):
            if not _is_url(value):
                yield origin, value
    for tag in heads.itemprops:
        if attr(tag, "itemprop") == "author":
            name = select_one(tag, '[itemprop="name"]')
            yield MICRODATA, _byline(attr(name, "content") or element_text(name)
                                     if name is not None
                                     else attr(tag, "content") or element_text(tag))
    for element in select_all(soup, _BYLINES):
        yield "byline on the page", _byline(element_text(element))


def _byline(text: str | None) -> str | None:
    """A byline's name: "By Jane Doe" → "Jane Doe"; None for what is too long to be one."""
    name = _BY.sub("", collapse(text or "")).strip(" ,;|·-–—")
    return name if name and len(name) <= _MAX_BYLINE and not _is_url(name) else None


def _title(heads: _Heads) -> str | None:
    return element_text(heads.titles[0]) or None if heads.titles else None


def _canonical_link(heads: _Heads) -> str | None:
    for link in heads.links:
        rels = (attr(link, "rel") or "").lower().split()
        if "canonical" in rels:
            return collapse(attr(link, "href") or "") or None
    return None


def _microdata_date(heads: _Heads, prop: str) -> str | None:
    """The machine-readable value first (`datetime`, `content`, an abbr's `title`): the text
    is what readers see ("2:33 PM" on Blogger), often without the day."""
    for tag in heads.itemprops:
        if attr(tag, "itemprop") != prop:
            continue
        value = (attr(tag, "datetime") or attr(tag, "content") or attr(tag, "title")
                 or element_text(tag))
        if value:
            return collapse(value) or None
    return None


def _hatom_date(heads: _Heads, name: str) -> str | None:
    """hAtom's `<abbr class="published" title="2008-03-12T14:33:00-07:00">` (Blogger,
    older WordPress themes): the date is the title, the text only its time of day."""
    for tag in heads.abbrs:
        if name in (attr(tag, "class") or "").split():
            value = collapse(attr(tag, "title") or "")
            if value:
                return value
    return None


_NOT_ARTICLE_TIME = frozenset({"nav", "aside", "footer"})


def _time_datetime(heads: _Heads) -> str | None:
    """`<time datetime>` of the article, not of a sidebar: inside <article> when there is one,
    else the first one outside navigation, asides and footers."""
    article = heads.articles[0] if heads.articles else None
    inside = [t for t in heads.times if article is not None and is_inside(t, article)]
    for times in (inside, heads.times):
        for time in times:
            if any(tag_name(parent) in _NOT_ARTICLE_TIME for parent in ancestors(time)):
                continue
            value = collapse(attr(time, "datetime") or "")
            if value:
                return value
    return None


# --- helpers ---------------------------------------------------------------------------------

def _first(*values: str | None) -> str | None:
    for value in values:
        if value:
            return value
    return None


def _is_url(text: str) -> bool:
    return bool(re.match(r"^(?:https?:)?//", text.strip(), re.IGNORECASE))
