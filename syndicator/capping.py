"""Bounds on what one item carries: its text cut on a word, its HTML cut to a size.

`fetch.max_bytes` bounds a response, not what an item keeps of it: without these bounds one
hostile page (or feed entry) would put megabytes into every feed file, archive page and
push. Normalisation applies them (normalise.normalise_article) to every item, whatever its
source kind, on its way into the store.

    ContentLimits   the operator's bounds (config `content:`)
    shorten         plain text cut on a word boundary, ended with "…"
    cap_html        sanitised HTML cut to a number of UTF-8 bytes, ended with "… Read more"
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass

from syndicator.sanitise import sanitize_html

KIB = 1024
DEFAULT_CONTENT_BYTES = 256 * KIB
DEFAULT_TITLE_CHARS = 1000
# What `validate` accepts: a content bound must leave room for the marker and a real text;
# above 16 MiB it bounds nothing a fetched page (`fetch.max_bytes`, 5 MB) would reach.
CONTENT_BYTES_RANGE = (4 * KIB, 16 * KIB * KIB)
TITLE_CHARS_RANGE = (40, 10_000)
# An item's author and each of its categories are names, cut at LABEL_CHARS; it keeps
# MAX_CATEGORIES categories at most.
LABEL_CHARS = 100
MAX_CATEGORIES = 30

ELLIPSIS = "…"
TRAILING_JUNK = " \t\r\n,;:-–—"
# In HTML a ";" may end an entity (`&amp;`), so it is not stripped from a cut there.
_HTML_TRAILING_JUNK = " \t\r\n,:-–—"
_SPACES = " \t\r\n"


@dataclass(frozen=True)
class ContentLimits:
    """How much of its content and title an item keeps (`content.max_bytes`,
    `content.max_title_chars`)."""

    content_bytes: int = DEFAULT_CONTENT_BYTES
    title_chars: int = DEFAULT_TITLE_CHARS


def _cut_at_word(text: str, end: int, junk: str) -> str:
    """`text[:end]`, moved back to the last space when that would cut a word (unless the
    word is longer than half of it: one huge word, or a script without spaces, is cut
    inside), without trailing spaces and punctuation."""
    cut = text[:end]
    if end < len(text) and not text[end].isspace():
        boundary = max(cut.rfind(space) for space in _SPACES)
        if boundary > end // 2:
            cut = cut[:boundary]
    return cut.rstrip(junk)


def shorten(text: str, max_chars: int) -> str:
    """`text` when it has at most `max_chars` characters, else its start cut on a word
    boundary and ended with "…" (at most max_chars + 1 characters)."""
    if len(text) <= max_chars:
        return text
    return _cut_at_word(text, max_chars, TRAILING_JUNK) + ELLIPSIS


def shorten_to(text: str, max_chars: int) -> str:
    """`shorten`, the "…" included in `max_chars`."""
    return shorten(text, max_chars - len(ELLIPSIS)) if len(text) > max_chars else text


def utf8_size(text: str) -> int:
    """The length of `text` in UTF-8 bytes."""
    return len(text.encode("utf-8"))


# nh3's output is canonical: "<" only ever starts a tag, and ">" ends it (both are escaped
# in text and attribute values), so tags and text are told apart by these alone.
_TOKEN = re.compile(r"<[^>]*>|[^<]+")
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)")
_VOID = frozenset({"br", "hr", "img"})


def cap_html(html: str, max_bytes: int, *, url: str, language: str | None) -> str | None:
    """`html` (sanitised: sanitise.sanitize_html) cut to at most `max_bytes` UTF-8 bytes,
    or None when it fits as it is.

    The cut falls between tags, never inside a tag, an entity or a character, and in text
    on a word boundary; "…" follows the last text kept, the elements still open are closed,
    and a paragraph with a link to `url` ("Read more", in `language` where the catalogs
    have it) ends the content. The result goes through the sanitiser once more, so it is
    well-formed sanitised HTML like any other content."""
    if len(html) <= max_bytes // 4 or utf8_size(html) <= max_bytes:
        return None
    budget = max_bytes
    for _ in range(4):
        capped = sanitize_html(_cut(html, budget, url, language), base_url=url)
        over = utf8_size(capped) - max_bytes
        if over <= 0:
            return capped
        # The sanitiser wrote it longer than it was cut (a link's rel attribute, an
        # element it closed its own way): cut that much shorter.
        budget -= over + 64
    # Not even the marker fits (a URL of kilobytes under a small bound): the ellipsis alone.
    marker = sanitize_html(_marker(url, language, ellipsis=True), base_url=url)
    return marker if utf8_size(marker) <= max_bytes else f"<p>{ELLIPSIS}</p>"


def _marker(url: str, language: str | None, *, ellipsis: bool) -> str:
    """The paragraph that ends a cut content: a link to the whole story."""
    # Imported here: Babel's catalogs only for the rare content that is cut.
    from syndicator.locales import translations

    label = html_lib.escape(translations(language).gettext("Read more"), quote=False)
    lead = f"{ELLIPSIS} " if ellipsis else ""
    return (f'<p>{lead}<a href="{html_lib.escape(url)}" rel="noopener noreferrer">'
            f"{label}</a></p>")


def _cut(html: str, max_bytes: int, url: str, language: str | None) -> str:
    """The start of `html` that fits `max_bytes` with "…", the closing tags of the elements
    still open and the marker paragraph, followed by them."""
    budget = max_bytes - utf8_size(_marker(url, language, ellipsis=True))
    kept: list[str] = []
    open_tags: list[tuple[str, int]] = []     # name, and where in `kept` it opened
    used = closing = 0            # bytes kept; bytes of the closing tags they will need
    ends_in_text = False
    for match in _TOKEN.finditer(html):
        token = match.group()
        size = utf8_size(token)
        tag = _TAG.match(token) if token.startswith("<") else None
        if tag is not None:
            name = tag.group(2).lower()
            if tag.group(1):      # a closing tag turns closing bytes into kept ones
                if open_tags and open_tags[-1][0] == name:
                    open_tags.pop()
                    closing -= len(name) + 3
                used += size
                kept.append(token)
                ends_in_text = False
                continue
            needs = 0 if name in _VOID else len(name) + 3
            if used + size + closing + needs > budget:
                break
            if needs:
                open_tags.append((name, len(kept)))
                closing += needs
            used += size
            kept.append(token)
            ends_in_text = False
            continue
        room = budget - used - closing
        if size <= room:
            used += size
            kept.append(token)
            ends_in_text = bool(token.strip())
            continue
        piece = _text_prefix(token, room)
        if piece:
            kept.append(piece)
            ends_in_text = True
        break
    while open_tags and open_tags[-1][1] == len(kept) - 1:
        kept.pop()                # an element opened with nothing of it kept: not shown
        open_tags.pop()
    if ends_in_text:
        kept[-1] = kept[-1].rstrip(_HTML_TRAILING_JUNK) + ELLIPSIS
    kept.extend(f"</{name}>" for name, _ in reversed(open_tags))
    kept.append(_marker(url, language, ellipsis=not ends_in_text))
    return "".join(kept)


def _text_prefix(text: str, max_bytes: int) -> str:
    """The start of a text run of HTML (entities escaped) that fits `max_bytes` UTF-8
    bytes, never ending inside a character or an entity, cut on a word where it can."""
    piece = text[:max_bytes]                 # no character takes less than a byte
    if utf8_size(piece) > max_bytes:
        piece = piece.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")
    entity = piece.rfind("&")
    if entity >= 0 and ";" not in piece[entity:]:
        piece = piece[:entity]
    return _cut_at_word(text, len(piece), _HTML_TRAILING_JUNK) if piece else ""
