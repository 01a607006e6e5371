"""An article page's main text, found by trafilatura, as HTML. Pure, no I/O.

The only user of trafilatura. It is the body extractor for article pages whose source gives
no `content` selector (selectors.py decides when): on the article-extraction benchmark's
181 news pages those bodies score F1 0.96, where the old guess among the usual containers
scored 0.79 (bench/extraction.py, bench/README.md).

trafilatura and its dependencies take ~0.3 s to import and ~20-50 ms a page to run, so it
is imported on first use: a source with a `content` selector never loads it.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

__all__ = ["main_text_html"]


def main_text_html(document: str) -> str | None:
    """The main text of an HTML document as an HTML fragment: paragraphs, headings, lists,
    tables, quotes, images and links, with URLs as the page wrote them (the caller resolves
    them against the page's <base>); None when trafilatura finds no main text.

    No page URL is given to trafilatura: it would resolve links against the site's root
    instead of the page, and it is only used for metadata, which is not asked for here.
    """
    import trafilatura

    try:
        result = trafilatura.extract(
            document,
            output_format="html",
            include_comments=False,      # reader comments are not the article
            include_tables=True,
            include_images=True,
            include_links=True,
            include_formatting=True,
            # Body F1 0.962 on the benchmark with the order of selectors._body, where the
            # default balance scores 0.956 and favor_recall 0.955 (more sidebar text).
            favor_precision=True,
            with_metadata=False,
        )
    except Exception as exc:  # a third-party parser: any failure means "no main text found"
        log.debug("trafilatura failed on a page: %s: %s", type(exc).__name__, exc)
        return None
    return result or None
