"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1), written with the standard json module's
string escaper (items: with jsonstring.quote, which writes the same bytes faster).

Keys are emitted in a fixed order (dict insertion order, not sorted, so `version` comes
first as readers expect) and optional keys are left out rather than written empty. The layout
is json.dumps(indent=2, ensure_ascii=False)'s, produced by `dump` (json.dumps switches to its
pure-Python encoder whenever `indent` is set, ~70 µs per item; archive pages hold every item).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from json.encoder import encode_basestring  # C-backed
from typing import Any

from syndicator.config import FeedConfig, SiteConfig
from syndicator.model import Item
from syndicator.publish import common
from syndicator.publish.entries import ENTRIES, entry_key
from syndicator.publish.jsonstring import quote
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
    head = dump(head_fields(feed, site, common.feed_language(feed, items), links))
    if not items:
        return (head[:-2] + ',\n  "items": []\n}\n').encode("utf-8")
    # The items array goes in as the last key of the object `head` closes with "\n}".
    body = b",\n".join([_item_bytes(item) for item in items])
    return b"".join([(head[:-2] + ',\n  "items": [\n').encode("utf-8"), body, b"\n  ]\n}\n"])


def _item_bytes(item: Item) -> bytes:
    key = entry_key(item)
    cached = ENTRIES.get("json", key)
    if cached is not None:
        return cached
    entry = _render_item_bytes(item)
    ENTRIES.put("json", key, entry)
    return entry


def _render_item_bytes(item: Item) -> bytes:
    return item_bytes(item, **_shown(item))


def _shown(item: Item) -> dict[str, Any]:
    """What the item's object shows besides its URL, image and language: the text cleaned,
    the dates formatted (the arguments of item_bytes and fields_of)."""
    return {"title": common.clean(item.title), "summary": common.clean(item.summary),
            "content": common.clean(item.content),
            "author": common.clean(item.author) if item.author else None,
            "tags": common.unique(item.categories),
            "published": common.rfc3339(item.published),
            "updated": common.rfc3339(item.updated)}


def head_fields(feed: FeedConfig, site: SiteConfig, language: str | None,
                links: FeedLinks | None) -> dict[str, Any]:
    """The feed object without its items."""
    document: dict[str, Any] = {
        "version": VERSION,
        "title": common.clean(feed.title),
        "home_page_url": common.home_url(feed, site),
        "feed_url": common.feed_url(site, feed, "json"),
        "description": common.description(feed),
    }
    if language:
        document["language"] = language
    document["authors"] = [{"name": common.clean(site.title)}]
    if links is not None and links.prev_archive:
        document["next_url"] = links.prev_archive
    if links is not None and links.hub:
        document["hubs"] = [{"type": "WebSub", "url": links.hub}]
    return document


def fields_of(item: Item, *, title: str, summary: str, content: str, author: str | None,
              tags: list[str], published: str, updated: str) -> dict[str, Any]:
    """The item object from already cleaned text and formatted dates (fragments.py shares
    them between formats)."""
    entry: dict[str, Any] = {"id": item.url, "url": item.url, "title": title}
    # An item must carry content_html or content_text; fall back to the plain summary, or
    # the title when there is not even that.
    if content:
        entry["content_html"] = content
    else:
        entry["content_text"] = summary or title
    if summary:
        entry["summary"] = summary
    if item.image:
        entry["image"] = item.image
    entry["date_published"] = published
    entry["date_modified"] = updated
    if author is not None:
        entry["authors"] = [{"name": author}]
    if tags:
        entry["tags"] = tags
    if item.language:
        entry["language"] = item.language
    return entry


def item_bytes(item: Item, *, title: str, summary: str, content: str, author: str | None,
               tags: list[str], published: str, updated: str) -> bytes:
    """The item object as `dump` lays it out inside a document's "items" array (indented
    four spaces), written directly as UTF-8: archive pages hold every item. fields_of says
    which keys appear; tests/test_fragments.py holds the two to the same bytes."""
    q = quote
    url = q(item.url)
    parts = [b'    {\n      "id": ', url, b',\n      "url": ', url, b',\n      "title": ',
             q(title), b",\n"]
    if content:
        parts += (b'      "content_html": ', q(content), b",\n")
    else:
        parts += (b'      "content_text": ', q(summary or title), b",\n")
    if summary:
        parts += (b'      "summary": ', q(summary), b",\n")
    if item.image:
        parts += (b'      "image": ', q(item.image), b",\n")
    parts.append(f'      "date_published": "{published}",\n      "date_modified": "{updated}"'
                 .encode("ascii"))
    if author is not None:
        parts += (b',\n      "authors": [\n        {\n          "name": ', q(author),
                  b"\n        }\n      ]")
    if tags:
        parts += (b',\n      "tags": [\n        ', b",\n        ".join(map(q, tags)),
                  b"\n      ]")
    if item.language:
        parts += (b',\n      "language": ', q(item.language))
    parts.append(b"\n    }")
    return b"".join(parts)


def dump(value: Any, level: int = 0) -> str:
    """`value` (dicts, lists, strings, ints, bools, None) laid out exactly as
    json.dumps(value, indent=2, ensure_ascii=False) lays it out at nesting depth `level`."""
    if isinstance(value, str):
        return str(encode_basestring(value))
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = "\n" + "  " * (level + 1)
        body = ("," + inner).join(f"{encode_basestring(k)}: {dump(v, level + 1)}"
                                  for k, v in value.items())
        return "{" + inner + body + "\n" + "  " * level + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        inner = "\n" + "  " * (level + 1)
        return "[" + inner + ("," + inner).join(dump(v, level + 1) for v in value) + (
            "\n" + "  " * level + "]")
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON here")
