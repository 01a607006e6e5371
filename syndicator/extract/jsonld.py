"""JSON-LD of a page: the article-typed node among its `application/ld+json` blocks.

Publishers get JSON-LD wrong in every possible way (HTML-escaped, trailing commas, CDATA
wrappers, literal newlines in strings): each block is repaired when that is cheap and ignored
otherwise; nothing here raises on bad input. structured.py reads the fields.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from syndicator.extract.html import Node, attr, raw_text, select_all

__all__ = ["ARTICLE_TYPES", "json_ld_article"]

ARTICLE_TYPES = frozenset({
    "article", "newsarticle", "blogposting", "reportagenewsarticle", "analysisnewsarticle",
    "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle", "liveblogposting",
    "techarticle", "scholarlyarticle", "report", "socialmediaposting", "posting",
})
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_WRAPPER = re.compile(r"^\s*(?:<!--|<!\[CDATA\[)|(?:-->|\]\]>)\s*$")
_MAX_NODES = 10_000           # a JSON-LD walk stops here: hostile pages can nest forever
_MAX_DEPTH = 50


def json_ld_article(soup: Node, scripts: Iterable[Node] | None = None) -> dict[str, Any]:
    """The first article-typed JSON-LD node, with `@id` references resolved one level.
    `scripts`: the page's <script> elements when the caller has found them already."""
    nodes: list[dict[str, Any]] = []
    for script in select_all(soup, "script[type]") if scripts is None else scripts:
        kind = (attr(script, "type") or "").split(";")[0].strip().lower()
        if kind != "application/ld+json":
            continue
        data = _load_json(raw_text(script))
        if data is not None:
            nodes.extend(_walk(data))
    by_id = {str(node["@id"]): node for node in nodes if isinstance(node.get("@id"), str)}
    for node in nodes:
        if _types(node) & ARTICLE_TYPES:
            return {key: _resolve(value, by_id) for key, value in node.items()}
    return {}


def _load_json(text: str) -> Any:
    text = _WRAPPER.sub("", text.strip()).strip()
    if not text:
        return None
    attempts = (text, html_lib.unescape(text))
    for attempt in attempts:
        for candidate in (attempt, _TRAILING_COMMA.sub(r"\1", attempt)):
            try:
                # strict=False: literal newlines and tabs inside strings are common.
                return json.loads(candidate, strict=False)
            except (ValueError, RecursionError):
                continue
    return None


def _walk(data: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in the document (lists, @graph, nested), breadth first, bounded."""
    queue: deque[tuple[Any, int]] = deque([(data, 0)])
    seen = 0
    while queue and seen < _MAX_NODES:
        value, depth = queue.popleft()
        seen += 1
        if depth > _MAX_DEPTH:
            continue
        if isinstance(value, list):
            queue.extend((item, depth + 1) for item in value)
        elif isinstance(value, dict):
            yield value
            for key in ("@graph", "mainEntity", "itemListElement"):
                if key in value:
                    queue.append((value[key], depth + 1))


def _types(node: dict[str, Any]) -> set[str]:
    raw = node.get("@type")
    names = raw if isinstance(raw, list) else [raw]
    # "schema:NewsArticle" and "http://schema.org/NewsArticle" name the same type.
    return {re.split(r"[/:#]", name)[-1].lower() for name in names if isinstance(name, str)}


def _resolve(value: Any, by_id: dict[str, dict[str, Any]]) -> Any:
    """Replace `{"@id": ...}` references (Yoast's author/image) by the node they name."""
    if isinstance(value, dict) and set(value) <= {"@id", "@type"} and "@id" in value:
        return by_id.get(str(value["@id"]), value)
    if isinstance(value, list):
        return [_resolve(item, by_id) for item in value]
    return value
