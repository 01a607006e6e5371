"""Extraction: fetched pages → Articles (raw strings, absolute URLs). Pure, no I/O.

    html.py        the selectolax adapter (parsing, `css@attr` selectors, cleaning)
    selectors.py   listing and article pages by the operator's CSS selectors
    structured.py  JSON-LD / OpenGraph / meta fallbacks
    feed.py        RSS / RDF / Atom (feedparser) and JSON Feed
    sitemap.py     XML sitemaps and sitemap indexes (news and image extensions)
"""

from syndicator.extract.feed import check_xml_safety, parse_feed
from syndicator.extract.html import (
    drop_tracking_pixels,
    parse_html,
    remove_selectors,
    select_value,
    select_values,
    selector_error,
    split_selector,
)
from syndicator.extract.selectors import extract_article, extract_listing, guess_content
from syndicator.extract.sitemap import Sitemap, parse_sitemap
from syndicator.extract.structured import extract_structured

__all__ = [
    "Sitemap",
    "check_xml_safety",
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
    "selector_error",
    "split_selector",
]
