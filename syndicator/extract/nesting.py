"""A bound on how deep a page's elements nest, applied before the HTML parser sees it.

lexbor (like the HTML5 algorithm it implements) looks through the stack of open elements for
most start tags, so a page of N nested `<div>`s costs time in N²: 60,000 levels (300 KB) take
over ten seconds of CPU in C, where no deadline can interrupt them, and the 5 MB a fetch may
return would take far longer. Browsers bound this too (Blink stops nesting at 512 levels).

`bounded_nesting` cuts the markup just before the start tag that would open element number
`MAX_NESTING` on the stack. No real page comes near it (news pages nest 20-60 deep); a hostile
one keeps what came before the cut, so its cards up to there are still read. The depth is
counted as the parser would grow its stack, erring high: void elements and elements whose end
tag is optional (`p`, `li`, `td` …, closed implicitly by their next sibling) are not counted,
an end tag closes the nearest open element of its name and everything above it, an end tag
of no open element is ignored (so stray end tags cannot hide depth), and the text of
comments, scripts, styles, `<textarea>` and `<title>` is skipped.

The scan is Python (about a microsecond a tag), so a page with fewer than `SCAN_FROM` tags
is not scanned: it cannot nest deeper than that, which costs lexbor milliseconds at most.
Most news pages are under it; larger ones pay a few milliseconds.
"""

from __future__ import annotations

import re
from typing import overload

MAX_NESTING = 1024
SCAN_FROM = 4096

# Elements that never stay open (void), or that the parser closes by itself when a sibling
# starts: counting them would count depth the parser never builds.
_NOT_NESTING = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr", "param", "keygen", "frame", "basefont", "bgsound",
    "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "thead", "tbody", "tfoot",
    "colgroup", "caption", "rb", "rt", "rtc", "rp", "html", "head", "body",
})
_RAW = r"<!--.*?(?:-->|\Z)|<(script|style|textarea|title)\b.*?(?:</\1\s*>|\Z)"
_TAG = r"|<(/?)([A-Za-z][A-Za-z0-9-]*)"
_TOKENS = re.compile(_RAW + _TAG, re.IGNORECASE | re.DOTALL)


@overload
def bounded_nesting(markup: str) -> str: ...
@overload
def bounded_nesting(markup: bytes) -> bytes: ...


def bounded_nesting(markup: str | bytes) -> str | bytes:
    """`markup`, cut before the start tag that would nest elements deeper than MAX_NESTING."""
    if isinstance(markup, bytes):
        if markup.count(b"<") < SCAN_FROM:
            return markup
        # latin-1 maps each byte to one character: the offsets are the bytes' offsets.
        cut = _cut_at(markup.decode("latin-1"))
        return markup if cut is None else markup[:cut]
    if markup.count("<") < SCAN_FROM:
        return markup
    cut = _cut_at(markup)
    return markup if cut is None else markup[:cut]


def _cut_at(markup: str) -> int | None:
    """Offset of the start tag that opens element MAX_NESTING + 1, or None."""
    stack: list[str] = []
    open_counts: dict[str, int] = {}
    for token in _TOKENS.finditer(markup):
        name = token.group(3)
        if name is None:            # a comment or a raw-text element: no depth
            continue
        name = name.lower()
        if name in _NOT_NESTING:
            continue
        if token.group(2):          # an end tag
            if not open_counts.get(name):
                continue
            while stack:
                top = stack.pop()
                open_counts[top] -= 1
                if top == name:
                    break
            continue
        if len(stack) >= MAX_NESTING:
            return token.start()
        stack.append(name)
        open_counts[name] = open_counts.get(name, 0) + 1
    return None
