"""Telegram's HTML: conversion into its small tag set, UTF-16 budgets, tag-safe splitting.

Telegram's `parse_mode=HTML` knows only b/i/u/s, a href, code, pre, blockquote and spoilers;
newlines are literal. Its length limits (4096 for a message, 1024 for a caption) apply to the
text after entity parsing; we budget that visible text in UTF-16 code units, which can only
overestimate what Telegram counts. Pure functions, no I/O.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024

# Source tag -> the Telegram tag it becomes.
_INLINE = {"b": "b", "strong": "b", "i": "i", "em": "i", "u": "u", "ins": "u", "s": "s",
           "strike": "s", "del": "s", "code": "code"}
_BLOCKS = {"p", "div", "section", "article", "figure", "figcaption", "ul", "ol", "table",
           "tr", "header", "footer", "aside", "main", "dl", "dt", "dd", "hr", "address"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_SKIP = {"script", "style", "template", "noscript", "iframe", "object", "svg", "math",
         "head", "title"}


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (an astral character counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """Text for Telegram HTML: `&`, `<` and `>` escaped (quotes need no escaping in text)."""
    return html.escape(text, quote=False)


def escape_attr(value: str) -> str:
    return html.escape(value, quote=True)


# --- item HTML -> Telegram HTML -------------------------------------------------------------

class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[tuple[str, str | None]] = []   # (source tag, emitted Telegram tag)
        self.skip = 0
        self.pending_break = ""
        self.started = False

    # What is open in the output, to respect Telegram's nesting rules.
    def _open(self) -> set[str]:
        return {emitted for _tag, emitted in self.stack if emitted}

    def _break(self, kind: str) -> None:
        if self.out and self.out[-1] in ("<blockquote>", "<pre>"):
            return   # a block's first paragraph starts right after its tag
        if self.started and (kind == "\n\n" or self.pending_break != "\n\n"):
            self.pending_break = kind

    def _emit(self, piece: str) -> None:
        if self.pending_break:
            self.out.append(self.pending_break)
            self.pending_break = ""
        self.out.append(piece)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
            return
        if self.skip or tag in ("br", "img", "hr", "input", "meta", "link", "source", "wbr"):
            if tag == "br" and not self.skip:
                self._emit("\n")
            return
        opened = self._open()
        literal = bool(opened & {"pre", "code"})
        emitted: str | None = None
        if tag in _BLOCKS or tag in _HEADINGS or tag == "blockquote":
            self._break("\n\n")
        if tag == "li":
            self._break("\n")
            self._emit("• ")
        elif tag in _HEADINGS and not literal:
            emitted = "b"
        elif tag in _INLINE and not literal and not (tag == "code" and "a" in opened):
            emitted = _INLINE[tag]
        elif tag == "pre" and not opened & {"pre", "code", "a"}:
            emitted = "pre"
        elif tag == "blockquote" and not opened & {"blockquote", "pre", "code"}:
            emitted = "blockquote"
        elif tag == "a" and not opened & {"a", "pre", "code"}:
            href = dict(attrs).get("href") or ""
            if re.match(r"^https?://", href, re.IGNORECASE):
                self._emit(f'<a href="{escape_attr(href)}">')
                self.stack.append((tag, "a"))
                return
        if emitted is not None:
            self._emit(f"<{emitted}>")
        self.stack.append((tag, emitted))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
            return
        if self.skip:
            return
        if not any(source == tag for source, _ in self.stack):
            return   # a stray end tag
        while self.stack:
            source, emitted = self.stack.pop()
            if emitted:
                self.out.append(f"</{emitted}>")
            if source == tag:
                break
        if tag in _BLOCKS or tag in _HEADINGS or tag in ("blockquote", "li", "pre"):
            self._break("\n\n" if tag != "li" else "\n")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if "pre" not in self._open():
            data = re.sub(r"\s+", " ", data)
            if not self.started or self.pending_break or (self.out and self.out[-1].endswith(
                    ("\n", "• "))):
                data = data.lstrip()
            if not data:
                return
        self._emit(escape(data))
        self.started = True

    def result(self) -> str:
        while self.stack:
            _source, emitted = self.stack.pop()
            if emitted:
                self.out.append(f"</{emitted}>")
        text = "".join(self.out)
        text = re.sub(r"[ \t]+\n", "\n", text)
        return re.sub(r"\n{3,}", "\n\n", text).strip()


def to_telegram_html(fragment: str) -> str:
    """Sanitised item HTML → Telegram HTML: blocks become blank lines, list items bullets,
    headings bold, http(s) links kept, images and everything unknown dropped (text kept)."""
    converter = _Converter()
    converter.feed(fragment)
    converter.close()
    return converter.result()


# --- splitting --------------------------------------------------------------------------------

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)([^>]*)>")


@dataclass(frozen=True)
class _Run:
    text: str                                 # visible text (entities decoded)
    tags: tuple[tuple[str, str], ...]         # open tags around it: (name, raw start tag)


def _runs(markup: str) -> list[_Run]:
    runs: list[_Run] = []
    stack: list[tuple[str, str]] = []
    pos = 0
    for match in _TAG.finditer(markup):
        if match.start() > pos:
            runs.append(_Run(html.unescape(markup[pos:match.start()]), tuple(stack)))
        closing, name = match.group(1), match.group(2).lower()
        if closing:
            for index in range(len(stack) - 1, -1, -1):
                if stack[index][0] == name:
                    del stack[index:]
                    break
        else:
            stack.append((name, match.group(0)))
        pos = match.end()
    if pos < len(markup):
        runs.append(_Run(html.unescape(markup[pos:]), tuple(stack)))
    return [run for run in runs if run.text]


def visible_text(markup: str) -> str:
    """What Telegram shows of the HTML: tags removed, entities decoded."""
    return "".join(run.text for run in _runs(markup))


def visible_len(markup: str) -> int:
    """The length Telegram's limits apply to, in UTF-16 code units."""
    return utf16_len(visible_text(markup))


_BOUNDARIES = (
    re.compile(r"\n\s*\n"),                              # paragraph
    re.compile(r"(?<=[.!?…。])[\"'»”’)\]]*\s"),           # sentence
    re.compile(r"\n"),                                   # line
    re.compile(r"\s"),                                   # word
)


def _fit(text: str, start: int, budget: int) -> int:
    """The largest end such that text[start:end] fits in `budget` UTF-16 units."""
    used = 0
    end = start
    while end < len(text):
        width = 2 if ord(text[end]) > 0xFFFF else 1
        if used + width > budget:
            break
        used += width
        end += 1
    return end


def _cut(text: str, start: int, end: int) -> int:
    """Where to end a part that must stop by `end`: the last paragraph break, else sentence
    end, else line break, else space in its second half (then anywhere), else `end`."""
    window = text[start:end]
    for minimum in (len(window) // 2, 1):
        for pattern in _BOUNDARIES:
            found = [m.start() for m in pattern.finditer(window) if m.start() >= minimum]
            if found:
                return start + found[-1]
    return end


def _render(runs: list[_Run], start: int, end: int) -> str:
    out: list[str] = []
    open_tags: tuple[tuple[str, str], ...] = ()
    offset = 0
    for run in runs:
        run_start, run_end = offset, offset + len(run.text)
        offset = run_end
        if run_end <= start or run_start >= end:
            continue
        piece = run.text[max(start, run_start) - run_start:min(end, run_end) - run_start]
        common = 0
        while (common < len(open_tags) and common < len(run.tags)
               and open_tags[common] == run.tags[common]):
            common += 1
        out.extend(f"</{name}>" for name, _raw in reversed(open_tags[common:]))
        out.extend(raw for _name, raw in run.tags[common:])
        open_tags = run.tags
        out.append(escape(piece))
    out.extend(f"</{name}>" for name, _raw in reversed(open_tags))
    return "".join(out)


def split_html(markup: str, limit: int = MESSAGE_LIMIT, *,
               first_limit: int | None = None) -> list[str]:
    """Split Telegram HTML into parts whose visible text fits the limits (the first part
    `first_limit`, e.g. a caption), at paragraph, else sentence, else word boundaries. Tags
    open at a cut are closed at the end of one part and opened again in the next."""
    runs = _runs(markup)
    text = "".join(run.text for run in runs)
    parts: list[str] = []
    start = 0
    budget = first_limit if first_limit is not None else limit
    while True:
        while start < len(text) and text[start].isspace():
            start += 1
        if start >= len(text):
            break
        end = _fit(text, start, budget)
        if end < len(text):
            end = _cut(text, start, end)
        stop = end
        while stop > start and text[stop - 1].isspace():
            stop -= 1
        parts.append(_render(runs, start, stop))
        start = end
        budget = limit
    return parts


def truncate(text: str, budget: int) -> str:
    """Plain text shortened to `budget` UTF-16 units at a word boundary, with an ellipsis."""
    if utf16_len(text) <= budget:
        return text
    if budget <= 1:
        return ""
    end = _fit(text, 0, budget - 1)
    space = text.rfind(" ", 0, end + 1)
    if space > end // 2:
        end = space
    return text[:end].rstrip(" ,;:—-") + "…"
