"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1), written with the standard json module.

Keys are emitted in a fixed order (dict insertion order, not sorted, so `version` comes
first as readers expect) and optional keys are left out rather than written empty.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from syndicator.config import FeedConfig, SiteConfig
from syndicator.model import Item
from syndicator.publish import common
from syndicator.publish.links import FeedLinks

VERSION = "https://jsonfeed.org/version/1.1"


def render_json(feed: FeedConfig, items: Sequence[Item], site: SiteConfig,
                now: datetime, *, links: FeedLinks | None = None) -> bytes:
    """The feed as UTF-8 JSON with a trailing newline. `now` is unused: JSON Feed has no
    feed-level date, which keeps the document stable while the items are.

    `links`: `hub` becomes `hubs` (WebSub); `prev_archive` becomes `next_url`, JSON Feed's
    pagination to the next (older) page. `feed_url` stays the subscription URL on archive
    pages too: it identifies the feed."""
    del now
    document: dict[str, Any] = {
        "version": VERSION,
        "title": common.clean(feed.title),
        "home_page_url": common.home_url(feed, site),
        "feed_url": common.feed_url(site, feed, "json"),
        "description": common.description(feed),
    }
    language = common.feed_language(feed, items)
    if language:
        document["language"] = language
    document["authors"] = [{"name": common.clean(site.title)}]
    if links is not None and links.prev_archive:
        document["next_url"] = links.prev_archive
    if links is not None and links.hub:
        document["hubs"] = [{"type": "WebSub", "url": links.hub}]
    document["items"] = [_item(item) for item in items]
    text = json.dumps(document, ensure_ascii=False, indent=2)
    return (text + "\n").encode("utf-8")


def _item(item: Item) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": item.url, "url": item.url, "title": common.clean(item.title)}
    summary, content = common.clean(item.summary), common.clean(item.content)
    # An item must carry content_html or content_text; fall back to the plain summary, or
    # the title when there is not even that.
    if content:
        entry["content_html"] = content
    else:
        entry["content_text"] = summary or entry["title"]
    if summary:
        entry["summary"] = summary
    if item.image:
        entry["image"] = item.image
    entry["date_published"] = common.rfc3339(item.published)
    entry["date_modified"] = common.rfc3339(item.updated)
    if item.author:
        entry["authors"] = [{"name": common.clean(item.author)}]
    tags = common.unique(item.categories)
    if tags:
        entry["tags"] = tags
    if item.language:
        entry["language"] = item.language
    return entry
