"""RSSHub-style query parameters on feed URLs: `?limit=`, `?filter=`, `?filterout=`, `?format=`.

    /office-en.rss?filter=election|vote&filterout=opinion&limit=10&format=json

`filter` keeps items whose title or summary matches, `filterout` drops them (both
case-insensitive, on top of the feed's own include/exclude: both are a selection.Filter,
one of RE2 matchers and one of the configuration's `re` patterns). A pattern without regex
metacharacters is a plain substring. Anything else must be a *safe* regular expression:

- at most 200 characters; literals, escaped punctuation, `.`, `\\w \\d \\s \\W \\D \\S`,
  character classes `[...]`, anchors `^ $`, `\\b` at the start or end of a top-level
  alternative, alternation `|` and groups `(...)`/`(?:...)`;
- quantifiers `? * + {m} {m,} {m,n}` on a single character, `.` or class only — never on
  a group (`(a+)+`, `(a|aa)*` are refused); the upper bounds of `{m,n}`/`{m}` (n ≤ 12) and
  each `?` (1) add up to at most 12;
- no backreferences, look-arounds, named groups or inline flags;
- at most one unbounded repeat per alternative (the product of the repeat bounds along any
  path, an unbounded repeat counting as 1000, is at most 5000).

Patterns run on RE2 (google-re2: this module is its only user), whose automata match in
time linear in the text, on the first TEXT_CAP characters of "title summary" (summaries are
at most ~400 characters, so that is all of nearly every item). Python's backtracking `re`
cannot be bounded that way: over 500 items `.*\\d` alone takes seconds. The escapes are
rewritten to RE2's Unicode classes (`\\w` is letters, digits and `_` in any script, as in
Python), and the small counted bounds keep RE2's DFA small: with `{0,20}` twice in a row it
outgrows its memory and RE2 falls back to its NFA, seconds again over 500 items.

RE2 grows each compiled pattern's automata lazily, up to RE2_MAX_MEM, and a pattern costs
~25-60 ms to compile: the compiled ones are kept in a small LRU (COMPILED_PATTERNS; 256 of
them held ~250 MB), compiling happens in the render thread, never on the event loop, and a
regex that is not compiled yet costs its client COMPILE_TOKENS more of the query tokens
(ratelimit.py) on top of the render's one (`tokens_for`). RE2_MAX_MEM stays at RE2's
8 MiB: with 2 MiB the DFA of a pattern as plain as `\\w{0,6}x\\w{0,6}\\s\\d` runs out and RE2
falls back to its NFA, 250 times slower over 500 items, while the memory a pattern takes
in practice (~0.5 MB) hardly shrinks.

Every accepted pattern has a normal form (`FeedQuery.key`): equivalent spellings — case,
`(...)` vs `(?:...)`, the order of alternatives, `{0,1}` vs `?` — share one cache entry.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import re2

from syndicator.config import FeedConfig
from syndicator.model import Item
from syndicator.selection import Filter, leaving_out, newest
from syndicator.stories import left_out
from syndicator.web.cache import RenderedCache

MAX_LIMIT = 500
MAX_PATTERN = 200
MAX_REPEAT = 12
MAX_COUNTED = 12
UNBOUNDED_COST = 1000
MAX_COST = 5000
TEXT_CAP = 600
MAX_SCANNED = 5000
FILTER_BUDGET_S = 2.0
COMPILED_PATTERNS = 32      # compiled regexes kept (each holds up to RE2_MAX_MEM)
RE2_MAX_MEM = 8 << 20       # RE2's own default, stated: less pushes allowed patterns to its NFA
COMPILE_TOKENS = 3          # query tokens a regex not compiled yet costs (a render costs 1)
FORMATS = ("rss", "atom", "json")
PARAMS = frozenset({"limit", "filter", "filterout", "format"})

_META = set(".^$*+?{}[]()|\\")
_DIGITS = re.compile(r"[0-9]{1,9}")


class QueryError(ValueError):
    """A bad query parameter; the message is shown to the client (HTTP 400)."""


@dataclass(frozen=True)
class FeedQuery:
    """Validated parameters; `filter`/`filterout` are in their normal form."""

    limit: int | None = None
    filter: str | None = None
    filterout: str | None = None
    format: str | None = None

    def key(self) -> tuple[int | None, str | None, str | None, str | None]:
        return (self.limit, self.filter, self.filterout, self.format)


def asks_view(query_string: bytes) -> bool:
    """Whether a raw query string (parsed as Starlette parses it) asks for anything but the
    published file (other parameters, such as cache busters, are ignored)."""
    pairs = urllib.parse.parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return any(name in PARAMS for name, _ in pairs)


def parse_limit(raw: str, maximum: int) -> int:
    """A limit from 1 to `maximum` written in ASCII digits (`str.isdigit` also accepts "²"
    and "①", which `int` refuses). Raises QueryError with a message for the client."""
    text = raw.strip()
    if _DIGITS.fullmatch(text) is None:
        raise QueryError(f"limit must be a whole number from 1 to {maximum}")
    value = int(text)
    if not 1 <= value <= maximum:
        raise QueryError(f"limit must be from 1 to {maximum}")
    return value


def parse_query(params: Mapping[str, str]) -> FeedQuery:
    """Validate the parameters. Raises QueryError with a message for the client. What RE2
    itself refuses (e.g. `[z-a]`) is found by `query_filter`, which compiles."""
    raw_limit = params.get("limit")
    limit = parse_limit(raw_limit, MAX_LIMIT) if raw_limit is not None else None
    format_ = params.get("format")
    if format_ is not None and format_ not in FORMATS:
        raise QueryError("format must be one of: " + ", ".join(FORMATS))
    patterns: dict[str, str | None] = {}
    for name in ("filter", "filterout"):
        pattern = params.get(name) or None
        if pattern is not None:
            try:
                pattern = normal_form(pattern)
            except QueryError as exc:
                raise QueryError(f"{name}: {exc}") from None
        patterns[name] = pattern
    return FeedQuery(limit=limit, filter=patterns["filter"], filterout=patterns["filterout"],
                     format=format_)


# --- safe patterns ---------------------------------------------------------------------------

Matcher = Callable[[str], bool]

_OPTIONS = re2.Options()
_OPTIONS.case_sensitive = False
_OPTIONS.never_capture = True
_OPTIONS.log_errors = False
_OPTIONS.max_mem = RE2_MAX_MEM
_WORD = r"\p{L}\p{N}_"
# Python's Unicode classes in RE2 syntax: (outside a class, inside a class or None: refused)
_RE2_ESCAPES: dict[str, tuple[str, str | None]] = {
    "w": (f"[{_WORD}]", _WORD), "W": (f"[^{_WORD}]", None),
    "d": (r"\p{Nd}", r"\p{Nd}"), "D": (r"\P{Nd}", None),
    "s": (r"[\s\p{Z}\x0b]", r"\s\p{Z}\x0b"), "S": (r"[^\s\p{Z}\x0b]", None),
}
_WORD_START = f"(?:^|[^{_WORD}])"      # \b before a word, for a search
_WORD_END = f"(?:[^{_WORD}]|$)"        # \b after a word


def normal_form(pattern: str) -> str:
    """The pattern's normal form (raises QueryError when it is not allowed): a plain
    substring is casefolded; a regex is rewritten so that equivalent spellings are equal."""
    if len(pattern) > MAX_PATTERN:
        raise QueryError(f"pattern longer than {MAX_PATTERN} characters")
    if not _META.intersection(pattern):
        return pattern.casefold()
    canonical, _ = _SafeParser(pattern).check()
    if not _META.intersection(canonical):
        return canonical.casefold()
    return canonical


_COMPILED: RenderedCache[Matcher] = RenderedCache(COMPILED_PATTERNS)


def compile_pattern(pattern: str) -> Matcher:
    """A case-insensitive predicate for `pattern`: a substring test when it has no regex
    metacharacters, else a compiled safe regex (kept, see the module's doc). Raises
    QueryError for anything unsafe."""
    matcher = _COMPILED.get(pattern)
    if matcher is None:
        matcher = _compile(pattern)
        _COMPILED.put(pattern, matcher)
    return matcher


def tokens_for(query: FeedQuery) -> int:
    """The query tokens rendering `query` costs: 1, and COMPILE_TOKENS for each of its
    regexes not compiled yet (a plain substring costs nothing to make)."""
    return 1 + sum(COMPILE_TOKENS for pattern in (query.filter, query.filterout)
                   if pattern and _META.intersection(pattern)
                   and _COMPILED.get(pattern) is None)


def _compile(pattern: str) -> Matcher:
    if len(pattern) > MAX_PATTERN:
        raise QueryError(f"pattern longer than {MAX_PATTERN} characters")
    if not _META.intersection(pattern):
        needle = pattern.casefold()
        return lambda text: needle in text[:TEXT_CAP].casefold()
    _, translated = _SafeParser(pattern).check()
    try:
        # Bytes in and out: the str API maps every offset back to characters, which cost
        # as much again as matching.
        regex = re2.compile(translated.encode("utf-8"), _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise QueryError(f"invalid regular expression: {reason}") from None
    return lambda text: regex.search(text[:TEXT_CAP].encode("utf-8", "replace")) is not None


_CLASS_ESCAPES = set("wdsWDSb")
_QUANT_START = set("?*+{")
_BOUNDS = re.compile(r"\{(\d{1,6})(,(\d{0,6}))?\}")
Piece = tuple[str, str]          # (normal form, RE2 form)


class _SafeParser:
    """A recursive-descent check of the restricted syntax that also estimates the
    backtracking cost (product along a sequence, sum over alternatives) and writes the
    pattern's normal form and its RE2 form."""

    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.pos = 0
        self.counted = 0
        self.alternatives: list[Piece] = []  # of the alternation parsed last

    def check(self) -> tuple[str, str]:
        cost, canonical, translated = self._alternation(top=True)
        if self.pos != len(self.text):       # a stray ")"
            raise QueryError(f"unbalanced ')' at position {self.pos}")
        if cost > MAX_COST:
            raise QueryError("pattern may backtrack too much: use at most one unbounded "
                             "repeat (* + {m,}) per alternative and small {m,n} bounds")
        if self.counted > MAX_COUNTED:
            raise QueryError(f"repeat bounds {{m,n}} and ? add up to more than {MAX_COUNTED}")
        return canonical, translated

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _alternation(self, *, top: bool) -> tuple[int, str, str]:
        cost, alternatives = self._sequence(top=top)
        while self._peek() == "|":
            self.pos += 1
            more, pieces = self._sequence(top=top)
            cost += more
            alternatives += pieces
        if not top and self._peek() != ")":
            raise QueryError("missing ')'")
        # Whether a search finds a match depends neither on the order of the alternatives
        # nor on repeated ones.
        unique = sorted(set(alternatives))
        self.alternatives = unique
        return cost, "|".join(c for c, _ in unique), "|".join(t for _, t in unique)

    def _sequence(self, *, top: bool) -> tuple[int, list[Piece]]:
        """The cost and the alternatives of one alternative: itself, or those of the group
        it consists of (`x|(?:a|b)` is `a|b|x`)."""
        cost = 1
        pieces: list[Piece] = []
        group: list[Piece] = []
        while self._peek() not in ("", "|", ")"):
            piece_cost, piece, group = self._piece()
            cost = min(cost * piece_cost, MAX_COST + 1)     # enough to know it is too much
            pieces.append(piece)
        if len(pieces) == 1 and group:
            return cost, group
        # \b: RE2's is ASCII-only, so at either end of a top-level alternative it becomes
        # "start of text or a non-word character" (and the mirror), which is the same test
        # for a search; elsewhere it is refused.
        translated = [t for _, t in pieces]
        for index, (canonical, _) in enumerate(pieces):
            if canonical == r"\b":
                if top and index == 0:
                    translated[index] = _WORD_START
                elif top and index == len(pieces) - 1:
                    translated[index] = _WORD_END
                else:
                    raise QueryError(r"\b is allowed only at the start or end of the pattern "
                                     "or of one of its top-level alternatives")
        return cost, [("".join(c for c, _ in pieces), "".join(translated))]

    def _piece(self) -> tuple[int, Piece, list[Piece]]:
        """The cost and the piece, and a group's alternatives when it is a group."""
        char = self._peek()
        if char == "(":
            inner, canonical, translated = self._group()
            alternatives = self.alternatives
            if self._peek() and self._peek() in _QUANT_START:
                raise QueryError("a group cannot be repeated (no quantifier after ')'): "
                                 "nested repetition can make matching take forever")
            if len(alternatives) == 1:          # (?:abc)d is abcd
                return inner, (canonical, translated), alternatives
            return inner, (f"(?:{canonical})", f"(?:{translated})"), alternatives
        if char in ("^", "$"):
            self.pos += 1
            if self._peek() and self._peek() in _QUANT_START:
                raise QueryError(f"nothing to repeat after {char!r}")
            return 1, (char, char), []
        if char in _QUANT_START:
            raise QueryError(f"nothing to repeat at position {self.pos}")
        canonical, translated = self._atom()
        bound, quantifier = self._quantifier()
        if quantifier and canonical == r"\b":
            raise QueryError(r"nothing to repeat after \b")
        return bound, (canonical + quantifier, translated + quantifier), []

    def _group(self) -> tuple[int, str, str]:
        self.pos += 1
        if self._peek() == "?":
            if self.text.startswith("?:", self.pos):
                self.pos += 2
            else:
                raise QueryError("only plain groups (...) and (?:...) are allowed: no "
                                 "look-arounds, named groups or inline flags")
        result = self._alternation(top=False)
        self.pos += 1                            # the ")"
        return result

    def _atom(self) -> Piece:
        char = self._peek()
        if char == "\\":
            escape = self._escape()
            return escape, _RE2_ESCAPES.get(escape[1], (_re2_literal(escape), None))[0]
        if char == "[":
            return self._char_class()
        if char in ("]", "}"):
            raise QueryError(f"unescaped {char!r} at position {self.pos}")
        self.pos += 1                            # a literal or "."
        lower = char.lower()
        literal = lower if len(lower) == 1 else char
        return literal, literal

    def _escape(self) -> str:
        nxt = self.text[self.pos + 1:self.pos + 2]
        if not nxt:
            raise QueryError("pattern ends with a backslash")
        if nxt.isalnum() and nxt not in _CLASS_ESCAPES:
            raise QueryError(f"escape \\{nxt} is not allowed (backreferences and special "
                             "escapes are refused; use \\w \\d \\s \\W \\D \\S \\b)")
        self.pos += 2
        return "\\" + nxt

    def _char_class(self) -> Piece:
        start = self.pos
        self.pos += 1
        canonical = translated = "["
        if self._peek() == "^":
            self.pos += 1
            canonical += "^"
            translated += "^"
        if self._peek() == "]":                  # a literal "]" first in the class
            self.pos += 1
            canonical += r"\]"
            translated += r"\]"
        while self._peek() not in ("", "]"):
            if self._peek() == "\\":
                escape = self._escape()
                if escape == r"\b":
                    raise QueryError(r"\b is not allowed inside [...]")
                inside = _RE2_ESCAPES.get(escape[1], ("", _re2_literal(escape)))[1]
                if inside is None:
                    raise QueryError(f"{escape} is not allowed inside [...]: use [^...]")
                canonical += escape
                translated += inside
            elif self.text.startswith("[:", self.pos) or self.text.startswith("[=", self.pos):
                raise QueryError("POSIX classes like [:alpha:] are not supported")
            else:
                char = self._peek()
                self.pos += 1
                # "[" is literal in a class for Python; RE2 needs it escaped.
                canonical += char
                translated += "\\[" if char == "[" else char
        if self._peek() != "]":
            raise QueryError(f"unterminated character class at position {start}")
        self.pos += 1
        return canonical + "]", translated + "]"

    def _quantifier(self) -> tuple[int, str]:
        char = self._peek()
        if char == "?":
            self.pos += 1
            self.counted += 1
            bound, written = 1, "?"
        elif char in ("*", "+"):
            self.pos += 1
            bound, written = UNBOUNDED_COST, char
        elif char == "{":
            match = _BOUNDS.match(self.text, self.pos)
            if match is None:
                raise QueryError(f"bad repeat {{...}} at position {self.pos}: write {{m}}, "
                                 "{m,} or {m,n}")
            low = int(match.group(1))
            high = (low if match.group(2) is None
                    else int(match.group(3)) if match.group(3) else None)
            if low > MAX_REPEAT or (high is not None and (high < low or high > MAX_REPEAT)):
                raise QueryError(f"repeat bounds must satisfy m ≤ n ≤ {MAX_REPEAT}")
            self.pos = match.end()
            self.counted += high if high is not None else low
            bound = UNBOUNDED_COST if high is None else high
            written = _written_bounds(low, high)
        else:
            return 1, ""
        if self._peek() and self._peek() in _QUANT_START:
            raise QueryError("stacked quantifiers (lazy/possessive or nested) are not allowed")
        return bound + 1, written


def _re2_literal(escape: str) -> str:
    """An escaped punctuation character as RE2 takes it: RE2 refuses a backslash before a
    character outside ASCII, so that one is written by its code point."""
    char = escape[1]
    return escape if char.isascii() else f"\\x{{{ord(char):x}}}"


def _written_bounds(low: int, high: int | None) -> str:
    """{m,n} in its shortest equivalent spelling."""
    if high is None:
        return {0: "*", 1: "+"}.get(low, f"{{{low},}}")
    if low == high:
        return "" if low == 1 else f"{{{low}}}"
    return "?" if (low, high) == (0, 1) else f"{{{low},{high}}}"


# --- selecting items -------------------------------------------------------------------------

class ItemSource(Protocol):
    def latest(self, source_ids: Sequence[str], *, limit: int,
               offset: int = 0) -> list[Item]: ...


def select_items(feed: FeedConfig, store: ItemSource, query: FeedQuery, *,
                 monotonic: Callable[[], float] = time.monotonic) -> list[Item]:
    """The newest items of the feed passing its own include/exclude and the query's
    filter/filterout, at most `query.limit` (default: the feed's limit, capped at MAX_LIMIT).

    Like publish.build.select_items it pages through the store (selection.newest); it stops
    after MAX_SCANNED items or FILTER_BUDGET_S seconds and returns what it found.
    """
    wanted = min(query.limit or feed.limit, MAX_LIMIT)
    filters = [f for f in (Filter.of(feed), query_filter(query)) if f.active]

    def read(limit: int, offset: int) -> list[Item]:
        return store.latest(feed.sources, limit=limit, offset=offset)

    def accepts(item: Item) -> bool:
        return all(f.accepts(item) for f in filters)

    hidden = left_out(feed, store)     # a grouped feed: each story once
    if not filters:
        return newest(read, wanted, accepts=leaving_out(hidden, None), page=wanted,
                      max_scanned=MAX_SCANNED)
    deadline = monotonic() + FILTER_BUDGET_S
    return newest(read, wanted, accepts=leaving_out(hidden, accepts), page=max(wanted * 2, 100),
                  max_scanned=MAX_SCANNED, over_budget=lambda: monotonic() > deadline)


def query_filter(query: FeedQuery) -> Filter:
    """The query's filter/filterout as a Filter of RE2 matchers (compile_pattern); a
    QueryError names the parameter whose pattern RE2 refuses."""
    return Filter(_matchers("filter", query.filter), _matchers("filterout", query.filterout))


def _matchers(name: str, pattern: str | None) -> list[Matcher]:
    if not pattern:
        return []
    try:
        return [compile_pattern(pattern)]
    except QueryError as exc:
        raise QueryError(f"{name}: {exc}") from None
