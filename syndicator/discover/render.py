"""The proposed source as YAML the operator pastes into `sources:`, and `--write`, which
adds it (and a feed of it) to a config file, checked by the config loader first.

Values are written as JSON strings, which YAML reads as double-quoted scalars: a selector
with quotes, `#` or `: ` in it survives the paste unchanged.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from syndicator.config import parse_config
from syndicator.errors import ConfigError
from syndicator.publish.writer import write_atomic

__all__ = ["add_to_config", "source_block"]

_LIST_ORDER = ("item", "link", "title", "date", "summary", "image", "author", "category",
               "next")
_TOP_KEY = re.compile(r"^[A-Za-z_][\w-]*\s*:")


def _quoted(value: str) -> str:
    # YAML reads \x85, U+2028 and U+2029 as line breaks, which a double-quoted scalar folds.
    return (json.dumps(value, ensure_ascii=False).replace("\x85", "\\u0085")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def source_block(ident: str, url: str, *, title: str | None, language: str | None,
                 lists: Mapping[str, str] | None = None, article: Mapping[str, str] | None = None,
                 kind: str = "html", private: bool = False, render: bool = False,
                 notes: Sequence[str] = ()) -> str:
    """One entry of `sources:` (a YAML list item, not indented)."""
    lines = [f"# {line}" for note in notes for line in _wrapped(note)]
    lines.append(f"- id: {ident}")
    if title:
        lines.append(f"  title: {_quoted(title)}")
    lines += [f"  type: {kind}", f"  url: {_quoted(url)}"]
    if language:
        lines.append(f"  language: {language}")
    lines.append("  schedule: {every: 30m}")
    if private:
        lines.append("  fetch: {allow_private: true}   # the site is on a private network")
    if render:
        lines.append("  render: browser               # the list is built by JavaScript")
    if lists:
        lines.append("  list:")
        for key in _LIST_ORDER:
            if key in lists:
                lines.append(f"    {key}: {_quoted(lists[key])}")
        if "next" in lists:
            lines.append("    max_pages: 2              # listing pages read per run")
    if article:
        lines.append("  article:")
        lines += [f"    {key}: {_quoted(value)}" for key, value in article.items()]
    return "\n".join(lines) + "\n"


def _wrapped(text: str, width: int = 92) -> list[str]:
    words = text.split()
    lines: list[str] = []
    current = ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    return [*lines, current] if current else lines


def add_to_config(path: Path, block: str, ident: str, feed_title: str) -> None:
    """Add the source block, and a feed of the same id with only that source, to the config
    file at `path` (created when missing). The file's own text and comments stay as they are;
    the result must load (ConfigError naming the problem otherwise, and nothing is written)."""
    if path.exists():
        text = path.read_text(encoding="utf-8")
        config = parse_config(text, file=str(path), env=os.environ)
        if any(s.id == ident for s in config.sources) or any(f.id == ident
                                                             for f in config.feeds):
            raise ConfigError(f"{path} already has a source or feed {ident!r}: choose another "
                              "with --id")
    else:
        text = ""
    feed = (f"- id: {ident}\n  title: {_quoted(feed_title)}\n  sources: [{ident}]\n")
    text = _append_to_list(text, "sources", block)
    text = _append_to_list(text, "feeds", feed)
    parse_config(text, file=str(path), env=os.environ)
    write_atomic(path, text.encode("utf-8"))


def _append_to_list(text: str, key: str, entry: str) -> str:
    """`entry` (a list item) appended to the block list under the top-level `key:`, with
    that list's indentation; a new `key:` at the end of the file when there is none."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(rf"^{key}\s*:", line)), None)
    if start is None:
        prefix = text if not text or text.endswith("\n") else text + "\n"
        return prefix + f"{key}:\n" + _indented(entry, "  ")
    if lines[start].split(":", 1)[1].split("#", 1)[0].strip():
        raise ConfigError(f"`{key}:` is written inline; make it a block list to add to it",
                          path=key, line=start + 1)
    end = start + 1
    indent = "  "
    found_indent = False
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if _TOP_KEY.match(line):
            break
        if line.strip() and not line.lstrip().startswith("#"):
            if not found_indent and line.lstrip().startswith("- "):
                indent = line[:len(line) - len(line.lstrip())]
                found_indent = True
            end = index + 1
    inserted = _indented(entry, indent).rstrip("\n").split("\n")
    result = lines[:end] + inserted + lines[end:]
    return "\n".join(result) + "\n"


def _indented(entry: str, indent: str) -> str:
    return "".join(f"{indent}{line}\n" if line else "\n" for line in entry.splitlines())
