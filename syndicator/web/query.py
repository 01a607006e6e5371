"""RSSHub-style query parameters on feed URLs: `?limit=`, `?filter=`, `?filterout=`, `?format=`.

    /office-en.rss?filter=election|vote&filterout=opinion&limit=10&format=json

`filter` keeps items whose title or summary matches, `filterout` drops them (both
case-insensitive, on top of the feed's own include/exclude). A pattern without regex
metacharacters is a plain substring. Anything else must be a *safe* regular expression, so
that no request can make Python's backtracking `re` engine run for minutes (ReDoS):

- at most 200 characters; literals, escaped punctuation, `.`, `\\w \\d \\s \\W \\D \\S \\b`,
  character classes `[...]`, anchors `^ $`, alternation `|` and groups `(...)`/`(?:...)`;
- quantifiers `? * + {m} {m,} {m,n}` (n ≤ 100) on a single character, `.` or class only —
  never on a group, so quantifiers cannot nest (`(a+)+`, `(a|aa)*` are refused);
- no backreferences, look-arounds, named groups or inline flags;
- a bounded amount of backtracking: the product of the repeat bounds along any one path
  through the pattern, an unbounded repeat counting as 1000, is at most 5000 — in practice
  one `*`/`+` per alternative (`a.*b`, not `a.*b.*c`).

The match runs on the first 1000 characters of "title summary"; with the rules above one
match is bounded by a few milliseconds, and a request stops looking at further items after
FILTER_BUDGET_S seconds (answering with what matched so far, like the build's scan limit).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from syndicator.config import FeedConfig
from syndicator.model import Item

MAX_LIMIT = 500
MAX_PATTERN = 200
MAX_REPEAT = 100
UNBOUNDED_COST = 1000
MAX_COST = 5000
TEXT_CAP = 1000
MAX_SCANNED = 5000
FILTER_BUDGET_S = 2.0
FORMATS = ("rss", "atom", "json")
PARAMS = frozenset({"limit", "filter", "filterout", "format"})

_META = set(".^$*+?{}[]()|\\")


class QueryError(ValueError):
    """A bad query parameter; the message is shown to the client (HTTP 400)."""


@dataclass(frozen=True)
class FeedQuery:
    limit: int | None = None
    filter: str | None = None
    filterout: str | None = None
    format: str | None = None

    def key(self) -> tuple[int | None, str | None, str | None, str | None]:
        return (self.limit, self.filter, self.filterout, self.format)


def has_query(params: Mapping[str, str]) -> bool:
    """Whether the request asks for anything but the published file (other parameters, such
    as cache busters, are ignored)."""
    return any(name in params for name in PARAMS)


def parse_query(params: Mapping[str, str]) -> FeedQuery:
    """Validate the parameters. Raises QueryError with a message for the client."""
    limit: int | None = None
    raw_limit = params.get("limit")
    if raw_limit is not None:
        if not raw_limit.strip().isdigit():
            raise QueryError(f"limit must be a whole number from 1 to {MAX_LIMIT}")
        limit = int(raw_limit)
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError(f"limit must be from 1 to {MAX_LIMIT}")
    format_ = params.get("format")
    if format_ is not None and format_ not in FORMATS:
        raise QueryError("format must be one of: " + ", ".join(FORMATS))
    filter_ = params.get("filter") or None
    filterout = params.get("filterout") or None
    for name, pattern in (("filter", filter_), ("filterout", filterout)):
        if pattern is not None:
            try:
                compile_pattern(pattern)
            except QueryError as exc:
                raise QueryError(f"{name}: {exc}") from None
    return FeedQuery(limit=limit, filter=filter_, filterout=filterout, format=format_)


# --- safe patterns ---------------------------------------------------------------------------

Matcher = Callable[[str], bool]


def compile_pattern(pattern: str) -> Matcher:
    """A case-insensitive predicate for `pattern`: a substring test when it has no regex
    metacharacters, else a compiled safe regex. Raises QueryError for anything unsafe."""
    if len(pattern) > MAX_PATTERN:
        raise QueryError(f"pattern longer than {MAX_PATTERN} characters")
    if not _META.intersection(pattern):
        needle = pattern.casefold()
        return lambda text: needle in text.casefold()
    _SafeParser(pattern).check()
    try:
        regex = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise QueryError(f"invalid regular expression: {exc}") from None
    return lambda text: regex.search(text[:TEXT_CAP]) is not None


_CLASS_ESCAPES = set("wdsWDSb")
_QUANT_START = set("?*+{")
_BOUNDS = re.compile(r"\{(\d{1,6})(,(\d{0,6}))?\}")


class _SafeParser:
    """A recursive-descent check of the restricted syntax that also estimates the
    backtracking cost: product along a sequence, sum over alternatives."""

    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.pos = 0

    def check(self) -> None:
        cost = self._alternation(top=True)
        if self.pos != len(self.text):       # a stray ")"
            raise QueryError(f"unbalanced ')' at position {self.pos}")
        if cost > MAX_COST:
            raise QueryError("pattern may backtrack too much: use at most one unbounded "
                             "repeat (* + {m,}) per alternative and small {m,n} bounds")

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _alternation(self, *, top: bool) -> int:
        total = self._sequence()
        while self._peek() == "|":
            self.pos += 1
            total += self._sequence()
        if not top and self._peek() != ")":
            raise QueryError("missing ')'")
        return total

    def _sequence(self) -> int:
        cost = 1
        while self._peek() not in ("", "|", ")"):
            cost *= self._piece()
            cost = min(cost, MAX_COST + 1)     # enough to know it is too much
        return cost

    def _piece(self) -> int:
        char = self._peek()
        if char == "(":
            inner = self._group()
            if self._peek() and self._peek() in _QUANT_START:
                raise QueryError("a group cannot be repeated (no quantifier after ')'): "
                                 "nested repetition can make matching take forever")
            return inner
        if char in ("^", "$"):
            self.pos += 1
            if self._peek() and self._peek() in _QUANT_START:
                raise QueryError(f"nothing to repeat after {char!r}")
            return 1
        if char in _QUANT_START:
            raise QueryError(f"nothing to repeat at position {self.pos}")
        self._atom()
        return self._quantifier()

    def _group(self) -> int:
        self.pos += 1
        if self._peek() == "?":
            if self.text.startswith("?:", self.pos):
                self.pos += 2
            else:
                raise QueryError("only plain groups (...) and (?:...) are allowed: no "
                                 "look-arounds, named groups or inline flags")
        cost = self._alternation(top=False)
        self.pos += 1                            # the ")"
        return cost

    def _atom(self) -> None:
        char = self._peek()
        if char == "\\":
            self._escape()
        elif char == "[":
            self._char_class()
        elif char in ("]", "}"):
            raise QueryError(f"unescaped {char!r} at position {self.pos}")
        else:
            self.pos += 1                        # a literal or "."

    def _escape(self) -> None:
        nxt = self.text[self.pos + 1:self.pos + 2]
        if not nxt:
            raise QueryError("pattern ends with a backslash")
        if nxt.isalnum() and nxt not in _CLASS_ESCAPES:
            raise QueryError(f"escape \\{nxt} is not allowed (backreferences and special "
                             "escapes are refused; use \\w \\d \\s \\W \\D \\S \\b)")
        self.pos += 2

    def _char_class(self) -> None:
        start = self.pos
        self.pos += 1
        if self._peek() == "^":
            self.pos += 1
        if self._peek() == "]":                  # a literal "]" first in the class
            self.pos += 1
        while self._peek() not in ("", "]"):
            if self._peek() == "\\":
                self._escape()
            elif self.text.startswith("[:", self.pos) or self.text.startswith("[=", self.pos):
                raise QueryError("POSIX classes like [:alpha:] are not supported")
            else:
                self.pos += 1
        if self._peek() != "]":
            raise QueryError(f"unterminated character class at position {start}")
        self.pos += 1

    def _quantifier(self) -> int:
        char = self._peek()
        if char == "?":
            self.pos += 1
            bound = 1
        elif char in ("*", "+"):
            self.pos += 1
            bound = UNBOUNDED_COST
        elif char == "{":
            match = _BOUNDS.match(self.text, self.pos)
            if match is None:
                raise QueryError(f"bad repeat {{...}} at position {self.pos}: write {{m}}, "
                                 "{m,} or {m,n}")
            low = int(match.group(1))
            high = (low if match.group(2) is None
                    else int(match.group(3)) if match.group(3) else None)
            if high is not None and (high < low or high > MAX_REPEAT):
                raise QueryError(f"repeat bounds must satisfy m ≤ n ≤ {MAX_REPEAT}")
            self.pos = match.end()
            bound = UNBOUNDED_COST if high is None else high
        else:
            return 1
        if self._peek() and self._peek() in _QUANT_START:
            raise QueryError("stacked quantifiers (lazy/possessive or nested) are not allowed")
        return bound + 1


# --- selecting items -------------------------------------------------------------------------

class ItemSource(Protocol):
    def latest(self, source_ids: Sequence[str], *, limit: int,
               offset: int = 0) -> list[Item]: ...


def select_items(feed: FeedConfig, store: ItemSource, query: FeedQuery, *,
                 monotonic: Callable[[], float] = time.monotonic) -> list[Item]:
    """The newest items of the feed passing its own include/exclude and the query's
    filter/filterout, at most `query.limit` (default: the feed's limit, capped at MAX_LIMIT).

    Like publish.build.select_items it pages through the store; it stops after MAX_SCANNED
    items or FILTER_BUDGET_S seconds and returns what it found.
    """
    wanted = min(query.limit or feed.limit, MAX_LIMIT)
    feed_include = [re.compile(p, re.IGNORECASE) for p in feed.include]
    feed_exclude = [re.compile(p, re.IGNORECASE) for p in feed.exclude]
    keep = compile_pattern(query.filter) if query.filter else None
    drop = compile_pattern(query.filterout) if query.filterout else None
    filtering = bool(feed_include or feed_exclude or keep or drop)

    def accepts(item: Item) -> bool:
        text = f"{item.title} {item.summary}"
        if any(p.search(text) for p in feed_exclude):
            return False
        if feed_include and not any(p.search(text) for p in feed_include):
            return False
        if drop is not None and drop(text):
            return False
        return keep is None or keep(text)

    page = wanted if not filtering else max(wanted * 2, 100)
    deadline = monotonic() + FILTER_BUDGET_S
    chosen: dict[str, Item] = {}
    offset = 0
    while len(chosen) < wanted and offset < MAX_SCANNED:
        batch = store.latest(feed.sources, limit=page, offset=offset)
        for item in batch:
            if item.id not in chosen and accepts(item):
                chosen[item.id] = item
                if len(chosen) == wanted:
                    break
            if filtering and monotonic() > deadline:
                return list(chosen.values())
        if len(batch) < page:
            break
        offset += len(batch)
    return list(chosen.values())
