"""One story in several languages, as feeds and pages show it (the stories themselves are
store/translations.py's): which versions a grouped feed leaves out, and the other versions
each shown item links to.

Used by the feed build (publish/build.py), query answers and the preview page (web/), so
that every output chooses and links the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Protocol, runtime_checkable

from syndicator.config import FeedConfig
from syndicator.model import Item, StoryVersion, Translation
from syndicator.selection import left_out_versions


@runtime_checkable
class StorySource(Protocol):
    """A store that knows which items are versions of one story (Store does)."""

    def story_versions(self, source_ids: Sequence[str]) -> list[StoryVersion]: ...

    def translations_of(self, ids: Iterable[str]) -> dict[str, tuple[Translation, ...]]: ...


def left_out(feed: FeedConfig, store: object) -> frozenset[str]:
    """The versions of stories a grouped feed (`translations: group`) leaves out: all but
    the one in its first preferred language (selection.left_out_versions)."""
    if feed.translations != "group" or not isinstance(store, StorySource):
        return frozenset()
    return left_out_versions(store.story_versions(feed.sources), feed.preferred_languages)


def with_versions(items: Sequence[Item], store: object) -> list[Item]:
    """The items, each with the other versions of its story (`Item.versions`)."""
    if not items or not isinstance(store, StorySource):
        return list(items)
    found = store.translations_of(item.id for item in items)
    return [replace(item, versions=found[item.id]) if item.id in found else item
            for item in items]
