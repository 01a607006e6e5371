"""The human-facing pages next to the feeds: `index.html` (Jinja2) and `feeds.opml`.

Both pages are built from the config and the feed summaries alone, with
no clock in them, so they are byte-identical while nothing changes and the atomic writer
leaves them alone. The server's `/` is the same template (`render_index(..., served=)`),
and serves the same style sheet and copy script (`PAGE_ASSETS`) as files.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from syndicator.config import Config, FeedConfig
from syndicator.locales import page_language
from syndicator.publish import common
from syndicator.templating import environment

OPML_DOCS = "http://opml.org/spec2.opml"
TEMPLATES = Path(__file__).parent / "templates"
# The pages' style sheet and copy script: inline in the published index.html, files on the
# server (web/app.py serves them under /static/).
PAGE_ASSETS = (TEMPLATES / "style.css", TEMPLATES / "copy.js")
# Feed readers named in the subscribe help (all accept a plain https:// feed URL).
READERS = ("Feedly", "Inoreader", "NetNewsWire", "Thunderbird", "FreshRSS")



@dataclass(frozen=True)
class FeedSummary:
    """What a build produced for one feed: how many items, the newest one's date, when."""

    feed: FeedConfig
    items: int
    newest: datetime | None
    built: datetime


def render_index(config: Config, summaries: Sequence[FeedSummary] | None, *,
                 served: Mapping[str, Any] | None = None) -> bytes:
    """The feed directory page with autodiscovery links for every format of every feed and
    a copy button for each: published (with each summary's item count and newest date),
    or, with `served` (`{"assets": {"style.css": URL, "copy.js": URL}}`), the server's `/`
    for every configured feed, with links to the server's previews."""
    if summaries is None:
        feeds = [feed_view(config, feed) for feed in config.feeds]
    else:
        feeds = [feed_view(config, summary.feed, summary) for summary in summaries]
    lang = directory_language(config.feeds)
    template = environment([TEMPLATES], keep_trailing_newline=True,
                           language=lang).get_template("index.html")
    text = template.render(site=config.site, feeds=feeds, readers=READERS, served=served,
                           lang=lang)
    return text.encode("utf-8")


def directory_language(feeds: Sequence[FeedConfig]) -> str:
    """The language of the feed directory's text: the feeds' one when they all share it
    (by base language, with a catalog), else English."""
    languages = {page_language(feed.language) for feed in feeds}
    return languages.pop() if len(languages) == 1 else "en"


def feed_view(config: Config, feed: FeedConfig,
              summary: FeedSummary | None = None) -> dict[str, Any]:
    """What the pages show of a feed: its titles, home page and URLs (and with a
    `summary`, its item count and newest date)."""
    site = config.site
    newest = moment(summary.newest if summary is not None else None, config.timezone)
    return {
        "id": feed.id,
        "title": feed.title,
        "description": feed.description or "",
        "language": feed.language,
        "count": summary.items if summary is not None else None,
        "newest": newest,
        "home": common.home_url(feed, site),
        "links": [
            {"ext": ext, "name": common.FORMAT_NAMES[ext], "type": media_type,
             "url": common.feed_url(site, feed, ext)}
            for ext, media_type in common.FORMATS.items()
        ],
    }


def moment(value: datetime | None, timezone: str) -> dict[str, str] | None:
    """A moment as the pages show it: in the configured time zone (`timezone`), as the CLI
    shows it, with UTC in the `datetime` attribute (`iso`) and on hover (`utc`)."""
    if value is None:
        return None
    instant = common.utc(value if value.tzinfo else value.replace(tzinfo=UTC))
    return {"iso": common.rfc3339(instant),
            "text": instant.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M"),
            "utc": instant.strftime("%Y-%m-%d %H:%M UTC")}


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
