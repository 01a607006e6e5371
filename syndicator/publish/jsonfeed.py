"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1), written with the standard json module's
string escaper.

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
    body = ",\n".join(_item_text(item) for item in items)
    return (head[:-2] + ',\n  "items": [\n' + body + "\n  ]\n}\n").encode("utf-8")


def _item_text(item: Item) -> str:
    key = entry_key(item)
    cached = ENTRIES.get("json", key)
    if cached is not None:
        return cached.decode("utf-8")
    text = _render_item_text(item)
    ENTRIES.put("json", key, text.encode("utf-8"))
    return text


def _render_item_text(item: Item) -> str:
    return item_text(item, title=common.clean(item.title), summary=common.clean(item.summary),
                     content=common.clean(item.content),
                     author=common.clean(item.author) if item.author else None,
                     tags=common.unique(item.categories),
                     published=common.rfc3339(item.published),
                     updated=common.rfc3339(item.updated))


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


def item_fields(item: Item) -> dict[str, Any]:
    return fields_of(item, title=common.clean(item.title), summary=common.clean(item.summary),
                     content=common.clean(item.content),
                     author=common.clean(item.author) if item.author else None,
                     tags=common.unique(item.categories),
                     published=common.rfc3339(item.published),
                     updated=common.rfc3339(item.updated))


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


def item_text(item: Item, *, title: str, summary: str, content: str, author: str | None,
              tags: list[str], published: str, updated: str) -> str:
    """The item object as `dump` lays it out inside a document's "items" array (indented
    four spaces), written directly: archive pages hold every item. fields_of says which keys
    appear; tests/test_fragments.py holds the two to the same bytes."""
    enc = encode_basestring
    url = enc(item.url)
    parts = [f'    {{\n      "id": {url},\n      "url": {url},\n      "title": {enc(title)},\n']
    if content:
        parts.append(f'      "content_html": {enc(content)},\n')
    else:
        parts.append(f'      "content_text": {enc(summary or title)},\n')
    if summary:
        parts.append(f'      "summary": {enc(summary)},\n')
    if item.image:
        parts.append(f'      "image": {enc(item.image)},\n')
    parts.append(f'      "date_published": "{published}",\n      "date_modified": "{updated}"')
    if author is not None:
        parts.append(f',\n      "authors": [\n        {{\n          "name": {enc(author)}\n'
                     "        }\n      ]")
    if tags:
        parts.append(',\n      "tags": [\n        ' + ",\n        ".join(map(enc, tags))
                     + "\n      ]")
    if item.language:
        parts.append(f',\n      "language": {enc(item.language)}')
    parts.append("\n    }")
    return "".join(parts)


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
