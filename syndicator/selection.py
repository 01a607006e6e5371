"""Which items: the include/exclude filter and the newest-N selection, shared by the build
(publish/build.py, publish/history.py), query answers (web/query.py) and push (push/outbox.py).

A filter searches each of its patterns in an item's "title summary" (a push target's own
filter also in its categories): no include pattern means everything is included, and an
exclude match always wins. The patterns of the configuration (feeds' and push targets'
`include`/`exclude`) are written by the operator and compiled with Python's `re`; a query's
`filter`/`filterout` come from any client and are compiled by web/query.py into RE2 matchers
of bounded cost. Both kinds are predicates on the text, so one Filter applies either.

A feed with `translations: group` shows each story once: `left_out_versions` says which
versions it leaves out (by the feed's `languages` order), `leaving_out` adds that to what
its filter accepts.

Light on imports (no config, no store): a build's worker process reads histories with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from syndicator.locales import language_key

Matcher = Callable[[str], object]   # a search: truthy when the pattern is found in the text


class Text(Protocol):
    """What a filter reads: an Item, a light store row (a head or a FeedLink)."""

    @property
    def title(self) -> str: ...

    @property
    def summary(self) -> str: ...


class Tagged(Text, Protocol):
    @property
    def categories(self) -> Sequence[str]: ...


class Patterns(Protocol):
    """Configured include/exclude regexes (a feed or a push target)."""

    @property
    def include(self) -> Sequence[str]: ...

    @property
    def exclude(self) -> Sequence[str]: ...


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A configured include/exclude pattern as the filter runs it (case-insensitive); raises
    re.error. Config loading calls it on every pattern, so a broken one is refused there."""
    return re.compile(pattern, re.IGNORECASE)


class Filter:
    """Include/exclude matchers: no include means everything; an exclude match wins."""

    def __init__(self, include: Sequence[Matcher] = (), exclude: Sequence[Matcher] = ()) -> None:
        # Searches tried in a plain loop: a full build filters every item of a history, and
        # any() over a generator costs as much as a short search.
        self._include = list(include)
        self._exclude = list(exclude)

    @classmethod
    def of(cls, patterns: Patterns) -> Filter:
        """The configured patterns as case-insensitive regexes."""
        return cls([compile_pattern(p).search for p in patterns.include],
                   [compile_pattern(p).search for p in patterns.exclude])

    @property
    def active(self) -> bool:
        return bool(self._include or self._exclude)

    def accepts(self, item: Text) -> bool:
        """Whether the item's title and summary pass."""
        if not (self._include or self._exclude):
            return True
        return self.accepts_text(f"{item.title} {item.summary}")

    def accepts_tagged(self, item: Tagged) -> bool:
        """Whether the item's title, summary and categories pass (a push target's own filter)."""
        if not (self._include or self._exclude):
            return True
        return self.accepts_text(f"{item.title} {item.summary} " + " ".join(item.categories))

    def accepts_text(self, text: str) -> bool:
        for search in self._exclude:
            if search(text):
                return False
        if not self._include:
            return True
        for search in self._include:  # noqa: SIM110  (a loop: see __init__)
            if search(text):
                return True
        return False


class Identified(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=Identified)


def newest(read: Callable[[int, int], Sequence[T]], wanted: int, *,
           accepts: Callable[[T], bool] | None = None, page: int, max_scanned: int,
           over_budget: Callable[[], bool] | None = None) -> list[T]:
    """The first `wanted` distinct items (by id) that `accepts` passes, in the order `read`
    gives them (newest first). `read(limit, offset)` reads a page; pages are read until
    enough items passed, a short page ends the store, `max_scanned` items were looked at, or
    `over_budget()` says so after an item (then what was found so far is returned)."""
    chosen: dict[str, T] = {}   # by id: paging may see an item twice if new ones arrive
    offset = 0
    while len(chosen) < wanted and offset < max_scanned:
        batch = read(page, offset)
        for item in batch:
            if item.id not in chosen and (accepts is None or accepts(item)):
                chosen[item.id] = item
                if len(chosen) == wanted:
                    break
            if over_budget is not None and over_budget():
                return list(chosen.values())
        if len(batch) < page:
            break
        offset += len(batch)
    return list(chosen.values())


# -- one story in several languages ------------------------------------------------------------

class Version(Protocol):
    """One language version of a story, as a grouped feed chooses among them."""

    @property
    def group_id(self) -> str: ...

    @property
    def item_id(self) -> str: ...

    @property
    def language(self) -> str | None: ...

    @property
    def published(self) -> datetime: ...


def left_out_versions(versions: Iterable[Version],
                      languages: Sequence[str]) -> frozenset[str]:
    """The item ids a grouped feed (`translations: group`) leaves out: of each story's
    versions, all but the one in the first of `languages` it exists in (a language not
    listed comes after every listed one; among equals the earliest published, the original,
    then the smallest id)."""
    rank = {language: position for position, language in enumerate(languages)}
    chosen: dict[str, tuple[int, datetime, str]] = {}
    every: set[str] = set()
    for version in versions:
        every.add(version.item_id)
        key = (rank.get(language_key(version.language) or "", len(rank)), version.published,
               version.item_id)
        best = chosen.get(version.group_id)
        if best is None or key < best:
            chosen[version.group_id] = key
    return frozenset(every - {key[2] for key in chosen.values()})


def leaving_out(hidden: frozenset[str], accepts: Callable[[T], bool] | None
                ) -> Callable[[T], bool] | None:
    """`accepts` (None: everything), refusing also the items whose id is in `hidden`."""
    if not hidden:
        return accepts
    if accepts is None:
        return lambda item: item.id not in hidden
    return lambda item: item.id not in hidden and accepts(item)
