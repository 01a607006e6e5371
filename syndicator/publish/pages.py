"""The human-facing pages next to the feeds: `index.html` (Jinja2) and `feeds.opml`.

Both pages are built from the config and the feed summaries alone, with
no clock in them, so they are byte-identical while nothing changes and the atomic writer
leaves them alone.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from syndicator.config import Config, FeedConfig
from syndicator.publish import common
from syndicator.templating import environment

OPML_DOCS = "http://opml.org/spec2.opml"

_ENVIRONMENT = environment([Path(__file__).parent / "templates"], keep_trailing_newline=True)


@dataclass(frozen=True)
class FeedSummary:
    """What a build produced for one feed: how many items, the newest one's date, when."""

    feed: FeedConfig
    items: int
    newest: datetime | None
    built: datetime


def render_index(config: Config, summaries: Sequence[FeedSummary]) -> bytes:
    """The feed directory page with autodiscovery links for every format of every feed."""
    template = _ENVIRONMENT.get_template("index.html")
    text = template.render(
        site=config.site,
        feeds=[_feed_view(config, summary) for summary in summaries],
        formats=common.FORMAT_NAMES,
    )
    return text.encode("utf-8")


def _feed_view(config: Config, summary: FeedSummary) -> dict[str, Any]:
    feed, site = summary.feed, config.site
    newest = common.utc(summary.newest) if summary.newest is not None else None
    return {
        "id": feed.id,
        "title": feed.title,
        "description": feed.description or "",
        "language": feed.language,
        "count": summary.items,
        "newest_iso": common.rfc3339(newest) if newest else None,
        "newest_text": newest.strftime("%Y-%m-%d %H:%M UTC") if newest else None,
        "home": common.home_url(feed, site),
        "links": [
            {"ext": ext, "name": common.FORMAT_NAMES[ext], "type": media_type,
             "url": common.feed_url(site, feed, ext)}
            for ext, media_type in common.FORMATS.items()
        ],
    }


def render_opml(config: Config) -> bytes:
    """OPML 2.0 subscription list: one `type="rss"` outline per feed."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = common.clean(config.site.title)
    ET.SubElement(head, "docs").text = OPML_DOCS
    body = ET.SubElement(root, "body")
    for feed in config.feeds:
        attributes = {
            "type": "rss",
            "version": "RSS2",
            "text": common.clean(feed.title),
            "title": common.clean(feed.title),
            "xmlUrl": common.feed_url(config.site, feed, "rss"),
            "htmlUrl": common.home_url(feed, config.site),
        }
        if feed.description:
            attributes["description"] = common.clean(feed.description)
        if feed.language:
            attributes["language"] = feed.language
        ET.SubElement(body, "outline", attributes)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
