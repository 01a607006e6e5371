"""XML sitemaps (sitemaps.org, with the Google News and image extensions) → Articles.

A sitemap lists article URLs, sometimes with a title and publication date (news sitemaps),
an image, and the page's other language versions (`<xhtml:link rel="alternate"
hreflang="be" href="…">` inside `<url>`, as multilingual sites write them): these are the
page's translation claims, kept as a page's own are (store/translations.py joins two items
only when each names the other). The pipeline fetches the article pages for everything
else. A sitemap index lists further sitemaps, which the pipeline follows (newest first,
bounded).

Decoded by decode.py like every other body; parsed with the standard library after
`check_xml_safety` has refused any document that declares entities, so neither entity
expansion nor external entities can happen.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from xml.etree import ElementTree

from syndicator.decode import decode, xml_utf8
from syndicator.errors import ExtractError
from syndicator.extract.feed import check_xml_safety
from syndicator.extract.structured import language_code
from syndicator.model import Article, Page, Translations
from syndicator.sanitise import resolve_url as urljoin  # as a browser reads a link

MAX_UNCOMPRESSED = 50 * 1024 * 1024   # the sitemaps.org limit for one sitemap file


@dataclass(frozen=True)
class Sitemap:
    """Articles of a `urlset`, or (for a `sitemapindex`) the child sitemaps, newest first."""

    articles: tuple[Article, ...] = ()
    sitemaps: tuple[str, ...] = ()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(node: ElementTree.Element, *path: str) -> str | None:
    """Text of the first descendant following local names `path` (namespaces ignored)."""
    current: ElementTree.Element | None = node
    for name in path:
        if current is None:
            return None
        current = next((c for c in current if _local(c.tag) == name), None)
    if current is None or current.text is None:
        return None
    return " ".join(current.text.split()) or None


def _alternates(node: ElementTree.Element, base: str) -> Translations | None:
    """The `<xhtml:link rel="alternate" hreflang>` children of a `<url>` (`x-default` left
    out); None when it has none (the sitemap says nothing of translations)."""
    found = tuple((code, urljoin(base, href)) for link in node
                  if _local(link.tag) == "link"
                  and (link.get("rel") or "").strip().lower() == "alternate"
                  and (code := language_code(link.get("hreflang")))
                  and (href := (link.get("href") or "").strip()))
    return found or None


def _raw_xml(page: Page) -> bytes:
    """The sitemap as UTF-8 bytes declared so: the text decode.py decoded, or for a gzip
    file the decompressed bytes decoded by the same rules."""
    if page.raw[:2] != b"\x1f\x8b":
        return xml_utf8(page.text)
    # sitemap.xml.gz served without Content-Encoding
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        raw = decompressor.decompress(page.raw, MAX_UNCOMPRESSED)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise ExtractError(f"broken gzip sitemap: {exc}", url=page.final_url) from None
    if decompressor.unconsumed_tail:
        raise ExtractError("sitemap larger than 50 MB uncompressed", url=page.final_url)
    return xml_utf8(decode(raw, "application/xml").text)


def parse_sitemap(page: Page) -> Sitemap:
    raw = _raw_xml(page)
    check_xml_safety(raw, url=page.final_url)
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError as exc:
        raise ExtractError(f"not a sitemap (XML error: {exc})", url=page.final_url) from None
    kind = _local(root.tag)
    base = page.final_url
    if kind == "sitemapindex":
        children: list[tuple[str, str]] = []
        for node in root:
            loc = _child_text(node, "loc")
            if _local(node.tag) == "sitemap" and loc:
                children.append((_child_text(node, "lastmod") or "", urljoin(base, loc)))
        # Newest first when lastmod is given (ISO 8601 sorts as text); else document order.
        children.sort(key=lambda pair: pair[0], reverse=True)
        return Sitemap(sitemaps=tuple(url for _, url in children))
    if kind != "urlset":
        raise ExtractError(f"not a sitemap (root element <{kind}>)", url=page.final_url)
    articles: list[Article] = []
    for node in root:
        loc = _child_text(node, "loc")
        if _local(node.tag) != "url" or not loc:
            continue
        published = _child_text(node, "news", "publication_date")
        lastmod = _child_text(node, "lastmod")
        articles.append(Article(
            url=urljoin(base, loc),
            title=_child_text(node, "news", "title"),
            dates=tuple(d for d in (published,) if d),
            updated=lastmod,
            image=(lambda src: urljoin(base, src) if src else None)(
                _child_text(node, "image", "loc")),
            language=_child_text(node, "news", "publication", "language"),
            translations=_alternates(node, base),
        ))
    return Sitemap(articles=tuple(articles))
