"""The naive baseline: the same job done the obvious way.

    python -m bench.naive crawl --listing URL[=lang] ... --out DIR
    python -m bench.naive poll --listing URL ... --out DIR --max-pages 1

What a first script would do: requests (one Session, so at least connections are reused),
BeautifulSoup with the built-in html.parser, sequentially: for each listing page, each card,
GET the article page, pick title/date/content with the same CSS selectors as the demo
config, parse the date with dateparser (for the source's language), and write RSS and Atom
with feedgen, plus the items as JSON. No state between runs: every run re-scrapes
everything, which is what `poll` measures against Syndicator's conditional polling.
"""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

import dateparser
import requests
from bs4 import BeautifulSoup
from feedgen.feed import FeedGenerator

from bench.common import emit, measure


def scrape(session: requests.Session, listing: str, language: str,
           max_pages: int) -> tuple[list[dict[str, str]], int]:
    items: list[dict[str, str]] = []
    pages = 0
    url: str | None = listing
    for _ in range(max_pages):
        if url is None:
            break
        response = session.get(url, timeout=30)
        pages += 1
        soup = BeautifulSoup(response.text, "html.parser")
        for card in soup.select("article.news-card"):
            link = urljoin(url, card.select_one("a.news-card__link")["href"])
            article = session.get(link, timeout=30)
            pages += 1
            page = BeautifulSoup(article.text, "html.parser")
            body = page.select_one(".single-news__content")
            for junk in body.select(".share-buttons"):
                junk.decompose()
            date_text = page.select_one(".single-news__date").get_text(strip=True)
            published = dateparser.parse(date_text, languages=[language]) or datetime.now()
            items.append({
                "link": link,
                "title": page.select_one("h1.single-news__title").get_text(strip=True),
                "summary": card.select_one(".news-card__excerpt").get_text(strip=True),
                "published": published.replace(tzinfo=published.tzinfo or UTC).isoformat(),
                "content": body.decode_contents(),
            })
        next_link = soup.select_one("a.next.page-numbers")
        url = urljoin(url, next_link["href"]) if next_link else None
    return items, pages


def write_feed(name: str, items: list[dict[str, str]], out: Path) -> None:
    feed = FeedGenerator()
    feed.id(f"urn:naive:{name}")
    feed.title(f"Naive {name}")
    feed.link(href="http://127.0.0.1/", rel="alternate")
    feed.description("naive baseline")
    for item in sorted(items, key=lambda i: i["published"])[-50:]:
        entry = feed.add_entry()
        entry.id(item["link"])
        entry.title(item["title"])
        entry.link(href=item["link"])
        entry.published(item["published"])
        entry.description(item["summary"])
        entry.content(item["content"], type="CDATA")
    feed.rss_file(str(out / f"{name}.rss"))
    feed.atom_file(str(out / f"{name}.atom"))


def run(listings: list[tuple[str, str]], out: Path, max_pages: int) -> tuple[int, int]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    session = requests.Session()
    everything: list[dict[str, str]] = []
    pages = 0
    for index, (listing, language) in enumerate(listings):
        items, fetched = scrape(session, listing, language, max_pages)
        pages += fetched
        everything.extend(items)
        write_feed(f"source-{index}", items, out)
    write_feed("all", everything, out)
    (out / "items.json").write_text(json.dumps(everything))
    return pages, len(everything)


def _listing(value: str) -> tuple[str, str]:
    url, _, language = value.partition("=")
    return url, language or "en"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=["crawl", "poll"])
    parser.add_argument("--listing", action="append", type=_listing, required=True,
                        help="listing URL, optionally =language")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--max-pages", type=int, default=1000)
    args = parser.parse_args()
    with measure() as phase:
        pages, items = run(args.listing, args.out, args.max_pages)
    emit(task=f"naive-{args.task}", wall=phase.wall, cpu=phase.cpu,
         peak_rss_mb=phase.peak_rss_mb, pages=pages, items=items, sources=len(args.listing))


if __name__ == "__main__":
    main()
