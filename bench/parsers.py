"""HTML parsers and selector engines on the generated article pages: why extraction uses lexbor.

    python -m bench.parsers [--site DIR] [--pages 20]

For each parser available here, per page (the largest `--pages` article pages of the site):
the parse alone, and the parse plus a typical article extraction's queries (the demo config's
selectors, `remove` blocks, JSON-LD scripts, meta tags, <title>). Best of 3 per page, averaged,
in milliseconds. bs4 is measured over both of its tree builders; lxml through cssselect
(compiled XPath); selectolax over lexbor (what `syndicator/extract/html.py` uses).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.sitegen import Options, generate

QUERIES = ("h1.single-news__title", ".single-news__date", ".single-news__content",
           ".share-buttons", ".last-news", "script[type]", "meta[content]", "title",
           "link[rel][href]", "[itemprop]", "time[datetime]", "base[href]")


def contenders() -> dict[str, tuple[Callable[[str], Any], Callable[[Any, str], Any]]]:
    found: dict[str, tuple[Callable[[str], Any], Callable[[Any, str], Any]]] = {}
    try:
        from bs4 import BeautifulSoup

        found["bs4 + html.parser"] = (lambda t: BeautifulSoup(t, "html.parser"),
                                      lambda d, q: d.select(q))
        found["bs4 + lxml"] = (lambda t: BeautifulSoup(t, "lxml"), lambda d, q: d.select(q))
    except ImportError:
        pass
    try:
        import lxml.html
        from lxml.cssselect import CSSSelector

        compiled: dict[str, Any] = {}

        def lxml_select(doc: Any, query: str) -> Any:
            selector = compiled.get(query)
            if selector is None:
                selector = compiled[query] = CSSSelector(query)
            return selector(doc)

        found["lxml + cssselect"] = (lxml.html.document_fromstring, lxml_select)
    except ImportError:
        pass
    try:
        from selectolax.lexbor import LexborHTMLParser

        found["selectolax (lexbor)"] = (LexborHTMLParser, lambda d, q: d.css(q))
    except ImportError:
        pass
    return found


def _best(fn: Callable[[], Any], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def measure(pages: list[str]) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for name, (parse, select) in contenders().items():
        parse_ms = extract_ms = 0.0
        for text in pages:
            parse_ms += _best(lambda t=text, p=parse: p(t)) * 1000  # type: ignore[misc]
            extract_ms += _best(lambda t=text, p=parse, s=select: _extract(p, s, t)) * 1000
        results[name] = {"parse_ms": parse_ms / len(pages),
                         "parse_and_queries_ms": extract_ms / len(pages)}
    return results


def _extract(parse: Callable[[str], Any], select: Callable[[Any, str], Any], text: str) -> None:
    document = parse(text)
    for query in QUERIES:
        select(document, query)


def pick_pages(site: Path, count: int) -> list[str]:
    files = sorted((site / "en" / "events" / "news").glob("*.html"),
                   key=lambda p: p.stat().st_size)[-count:]
    return [f.read_text(encoding="utf-8") for f in files]


def run(site: Path, count: int) -> dict[str, Any]:
    pages = pick_pages(site, count)
    results = measure(pages)
    size = sum(len(p.encode()) for p in pages) / len(pages) / 1024
    rows = [(f"{name}, {size:.0f} KB page", f"parse {r['parse_ms']:.2f} ms, parse + "
             f"{len(QUERIES)} queries {r['parse_and_queries_ms']:.2f} ms", "")
            for name, r in results.items()]
    return {"page_kb": size, "results": results, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path)
    parser.add_argument("--pages", type=int, default=20)
    args = parser.parse_args()
    site = args.site or generate(Path("/tmp/syndicator-bench/full/site"), Options()).root
    for row in run(site, args.pages)["rows"]:
        print(" | ".join(row[:2]))


if __name__ == "__main__":
    main()
