"""Extraction: fetched pages → Articles (raw strings, absolute URLs). Pure, no I/O.

    html.py        the selectolax adapter (parsing, `css@attr` selectors, cleaning)
    selectors.py   listing and article pages by the operator's CSS selectors
    structured.py  JSON-LD / OpenGraph / meta fallbacks
    jsonld.py      the article-typed JSON-LD node of a page, repaired where cheap
    maintext.py    the main text of a page without a `content` selector (trafilatura)
    feed.py        RSS / RDF / Atom (feedparser) and JSON Feed
    sitemap.py     XML sitemaps and sitemap indexes (news and image extensions)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from syndicator.extract.feed import check_xml_safety, parse_feed
    from syndicator.extract.html import (
        Selector,
        compile_selector,
        drop_tracking_pixels,
        parse_html,
        remove_selectors,
        select_value,
        select_values,
        split_selector,
    )
    from syndicator.extract.selectors import extract_article, extract_listing, guess_content
    from syndicator.extract.sitemap import Sitemap, parse_sitemap
    from syndicator.extract.structured import extract_structured

# Where each name lives. Imported on first use (PEP 562), not with the package: a page
# worker imports extract.html and extract.selectors, and should not pay for feedparser
# (~30 modules, ~6 MB) and the sitemap reader, which only the main process uses.
_HOMES = {
    "check_xml_safety": "feed", "parse_feed": "feed",
    "Selector": "html", "compile_selector": "html", "drop_tracking_pixels": "html",
    "parse_html": "html", "remove_selectors": "html",
    "select_value": "html", "select_values": "html",
    "split_selector": "html",
    "extract_article": "selectors", "extract_listing": "selectors",
    "guess_content": "selectors",
    "Sitemap": "sitemap", "parse_sitemap": "sitemap",
    "extract_structured": "structured",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value         # found directly from now on
    return value


__all__ = [
    "Selector",
    "Sitemap",
    "check_xml_safety",
    "compile_selector",
    "drop_tracking_pixels",
    "extract_article",
    "extract_listing",
    "extract_structured",
    "guess_content",
    "parse_feed",
    "parse_html",
    "parse_sitemap",
    "remove_selectors",
    "select_value",
    "select_values",
    "split_selector",
]
