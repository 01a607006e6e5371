"""Publishing: render the stored items as RSS 2.0, Atom 1.0 and JSON Feed 1.1, plus an
index page and an OPML list, and write them atomically into the output directory.

The names below are imported on first use (PEP 562), so that a build's archive worker
process, which imports publish.parallel and publish.pagerender, is spared jinja2 and what
the index page needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from syndicator.publish.build import BuildResult, FeedItemSource, build_feeds, select_items
    from syndicator.publish.feeds import render_feed
    from syndicator.publish.pages import FeedSummary, render_index, render_opml
    from syndicator.publish.writer import write_atomic

_MODULES = {
    "BuildResult": "build", "FeedItemSource": "build", "build_feeds": "build",
    "select_items": "build", "render_feed": "feeds", "FeedSummary": "pages",
    "render_index": "pages", "render_opml": "pages", "write_atomic": "writer",
}

__all__ = [
    "BuildResult",
    "FeedItemSource",
    "FeedSummary",
    "build_feeds",
    "render_feed",
    "render_index",
    "render_opml",
    "select_items",
    "write_atomic",
]


def __getattr__(name: str) -> object:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
