"""Publishing: render the stored items as RSS 2.0, Atom 1.0 and JSON Feed 1.1, plus an
index page and an OPML list, and write them atomically into the output directory.

The names below are imported on first use (PEP 562), so that a build's archive worker
process, which imports publish.parallel and publish.pagerender, is spared feedgen, lxml and
jinja2 (~8 MB of its memory).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from syndicator.publish.build import BuildResult, FeedItemSource, build_feeds, select_items
    from syndicator.publish.feeds import render_atom, render_rss
    from syndicator.publish.jsonfeed import render_json
    from syndicator.publish.pages import FeedSummary, render_index, render_opml
    from syndicator.publish.writer import write_atomic

_MODULES = {
    "BuildResult": "build", "FeedItemSource": "build", "build_feeds": "build",
    "select_items": "build", "render_atom": "feeds", "render_rss": "feeds",
    "render_json": "jsonfeed", "FeedSummary": "pages", "render_index": "pages",
    "render_opml": "pages", "write_atomic": "writer",
}

__all__ = [
    "BuildResult",
    "FeedItemSource",
    "FeedSummary",
    "build_feeds",
    "render_atom",
    "render_index",
    "render_json",
    "render_opml",
    "render_rss",
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
