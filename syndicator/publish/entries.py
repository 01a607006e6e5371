"""A cache of rendered entries of recent items, per format, kept between builds.

A service rebuilds a feed after every run that brought something new; the current documents
then differ from the previous build's by one or two entries. feeds.py (feedgen) and
jsonfeed.py look an item's entry up here by everything it is rendered from, so an edited
item is simply a new key, and render only the rest.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from syndicator.model import Item

# Entries (of all formats) kept, ~2-3 KB each: several times what the current documents of a
# typical configuration hold.
ENTRY_CACHE_SIZE = 4096
# What an entry's bytes depend on: the item's shown fields (not its source or content hash).
_EntryKey = tuple[Any, ...]


class _EntryCache:
    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, _EntryKey], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, ext: str, key: _EntryKey) -> bytes | None:
        with self._lock:
            found = self._entries.get((ext, key))
            if found is not None:
                self._entries.move_to_end((ext, key))
            return found

    def put(self, ext: str, key: _EntryKey, entry: bytes) -> None:
        with self._lock:
            self._entries[(ext, key)] = entry
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


ENTRIES = _EntryCache(ENTRY_CACHE_SIZE)


def entry_key(item: Item) -> _EntryKey:
    """What an item's entry depends on, in any format. The dates as stored: equal values
    render equally (a difference that rendering drops, such as microseconds, only costs a
    miss), and converting them here cost more than the rest of a lookup."""
    return (item.id, item.url, item.title, item.summary, item.content, item.image, item.author,
            item.categories, item.language, item.published, item.updated)
