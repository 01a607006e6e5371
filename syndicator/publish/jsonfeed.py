"""The JSON Feed 1.1 syntax (https://jsonfeed.org/version/1.1) of feed documents: an item as
bytes, a document's head and tail. feeds.py puts them together (the one writer of feed
documents).

Keys are emitted in a fixed order (dict insertion order, not sorted, so `version` comes
first as readers expect) and optional keys are left out rather than written empty. The layout
is json.dumps(indent=2, ensure_ascii=False)'s: the head through `dump`, items written directly
as UTF-8 with jsonstring.quote (json.dumps switches to its pure-Python encoder whenever
`indent` is set, ~70 µs per item; archive pages hold every item).

An item's extra links (links.EntryLink) go into its `_syndicator` extension object:
`"_syndicator": {"links": [{"url": ..., "rel": ..., "language": ..., "type": ...}]}`
(`language` and `type` only when known); readers that do not know it ignore it.
"""

from __future__ import annotations

from collections.abc import Sequence
from json.encoder import encode_basestring  # C-backed
from typing import Any

from syndicator.model import Item
from syndicator.publish import common
from syndicator.publish.jsonstring import quote
from syndicator.publish.links import EntryLink, Frame

VERSION = "https://jsonfeed.org/version/1.1"
EXTENSION = "_syndicator"


def head(frame: Frame, *, has_items: bool) -> str:
    """The document up to its first item. `hub` becomes `hubs` (WebSub); `prev_archive`
    becomes `next_url`, JSON Feed's pagination to the next (older) page. `feed_url` stays the
    subscription URL on archive pages too: it identifies the feed. JSON Feed has no
    feed-level date."""
    feed, site, links = frame.feed, frame.site, frame.links
    document: dict[str, Any] = {
        "version": VERSION,
        "title": common.clean(feed.title),
        "home_page_url": common.home_url(feed, site),
        "feed_url": common.feed_url(site, feed, "json"),
        "description": common.description(feed),
    }
    if frame.language:
        document["language"] = frame.language
    document["authors"] = [{"name": common.clean(site.title)}]
    if links is not None and links.prev_archive:
        document["next_url"] = links.prev_archive
    if links is not None and links.hub:
        document["hubs"] = [{"type": "WebSub", "url": links.hub}]
    # `dump` ends the object with "\n}"; the items array goes in as its last key.
    opening = dump(document)[:-2] + ',\n  "items": '
    return opening + ("[\n" if has_items else "[]")


def tail(*, has_items: bool) -> str:
    return "\n  ]\n}\n" if has_items else "\n}\n"


SEPARATOR = b",\n"      # between the items of the array


def item_bytes(item: Item, *, title: str, summary: str, content: str, author: str | None,
               tags: list[str], published: str, updated: str,
               links: Sequence[EntryLink] = ()) -> bytes:
    """The item object as `dump` lays it out inside a document's "items" array (indented
    four spaces), from already cleaned text and formatted dates, as UTF-8."""
    q = quote
    url = q(item.url)
    parts = [b'    {\n      "id": ', url, b',\n      "url": ', url, b',\n      "title": ',
             q(title), b",\n"]
    # An item must carry content_html or content_text; fall back to the plain summary, or
    # the title when there is not even that.
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
    if links:
        extension = {"links": [_link_object(link) for link in links]}
        parts += (f',\n      "{EXTENSION}": '.encode("ascii"),
                  dump(extension, 3).encode("utf-8"))
    parts.append(b"\n    }")
    return b"".join(parts)


def _link_object(link: EntryLink) -> dict[str, str]:
    found = {"url": link.href, "rel": link.rel}
    if link.hreflang:
        found["language"] = link.hreflang
    if link.media_type:
        found["type"] = link.media_type
    if link.title:
        found["title"] = link.title
    return found


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
