"""Publishing: render the stored items as RSS 2.0, Atom 1.0 and JSON Feed 1.1, plus an
index page and an OPML list, and write them atomically into the output directory."""

from syndicator.publish.build import BuildResult, FeedItemSource, build_feeds, select_items
from syndicator.publish.feeds import render_atom, render_rss
from syndicator.publish.jsonfeed import render_json
from syndicator.publish.pages import FeedSummary, render_index, render_opml
from syndicator.publish.writer import write_atomic

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
