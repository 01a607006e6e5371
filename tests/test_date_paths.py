"""A date is true or absent on every path a date comes by (issue 22, finding 8).

Each string the issue lists as invented (a two-digit or missing year, an unknown month, a
day and month without a year, a quarter, month or week without a day, year 0100, a date a
century ahead) is no date, and the good ones (`June 03, 2021`, `3 чэрвеня 2021`, RFC 822
with a four-digit year, ISO 8601) still read, whether the string comes from an RSS
`pubDate`, an Atom `published`, a JSON Feed `date_published`, a listing's date selector,
an article page's JSON-LD or `<time datetime>`, or a news sitemap's `publication_date`.
No source names a language, so the month names are found by detection, as for most feeds.
Real sources on loopback, real SQLite.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicator.demo.server import SiteServer
from syndicator.pipeline import run_source
from tests.test_dates_wild import BAD_DATES, NOW, _app, _by_title

# Strings that leave a part of the date to be guessed, or cannot be true.
BAD = {**BAD_DATES, "two-digit year, RFC 822": "Sun, 16 Dec 12 10:00:00 GMT",
       "two-digit year, day first": "03.06.21", "quarter": "Q2 2021",
       "quarter, year first": "2021-Q2", "year and month": "2021-06", "ISO week": "2021-W23"}
# Strings that say the date in full: (the string, the instant, whether a time is given).
GOOD = {
    "English month": ("June 03, 2021", datetime(2021, 6, 3, tzinfo=UTC), False),
    "Belarusian month": ("3 чэрвеня 2021", datetime(2021, 6, 3, tzinfo=UTC), False),
    "RFC 822": ("Thu, 03 Jun 2021 14:30:00 GMT", datetime(2021, 6, 3, 14, 30, tzinfo=UTC), True),
    "ISO 8601": ("2021-06-03T14:30:00+03:00", datetime(2021, 6, 3, 11, 30, tzinfo=UTC), True),
    "ISO 8601 basic": ("20210603", datetime(2021, 6, 3, tzinfo=UTC), False),
    "ISO 8601 basic, time": ("20210603T143000Z", datetime(2021, 6, 3, 14, 30, tzinfo=UTC), True),
    "year/month/day": ("2021/06/03", datetime(2021, 6, 3, tzinfo=UTC), False),
    "ISO week date": ("2021-W22-4", datetime(2021, 6, 3, tzinfo=UTC), False),
    "ISO week date, time": ("2021-W22-4T14:30:00Z", datetime(2021, 6, 3, 14, 30, tzinfo=UTC),
                            True),
}
CASES = [*((name, text) for name, text in BAD.items()),
         *((name, text) for name, (text, _when, _time) in GOOD.items())]


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


def _rss(root: Path, cases: Sequence[tuple[str, str]] = CASES) -> str:
    items = "".join(f"<item><title>{name}</title><link>http://w.example/rss/{n}</link>"
                    f"<pubDate>{_esc(text)}</pubDate></item>"
                    for n, (name, text) in enumerate(cases))
    (root / "feed.rss").write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>W</title>'
        f"<link>http://w.example/</link>{items}</channel></rss>", encoding="utf-8")
    return "type: feed\n    url: ${SITE}feed.rss"


def _atom(root: Path, cases: Sequence[tuple[str, str]] = CASES) -> str:
    entries = "".join(f"<entry><title>{name}</title><id>urn:w:{n}</id>"
                      f'<link href="http://w.example/atom/{n}"/>'
                      f"<published>{_esc(text)}</published></entry>"
                      for n, (name, text) in enumerate(cases))
    (root / "feed.atom").write_text(
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>W</title><id>urn:w</id><updated>2026-12-06T10:00:00Z</updated>{entries}"
        "</feed>", encoding="utf-8")
    return "type: feed\n    url: ${SITE}feed.atom"


def _json_feed(root: Path, cases: Sequence[tuple[str, str]] = CASES) -> str:
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "W",
            "items": [{"id": str(n), "url": f"http://w.example/json/{n}", "title": name,
                       "content_text": "A story.", "date_published": text}
                      for n, (name, text) in enumerate(cases)]}
    (root / "feed.json").write_text(json.dumps(feed, ensure_ascii=False), encoding="utf-8")
    return "type: feed\n    url: ${SITE}feed.json"


def _listing_dates(root: Path) -> str:
    cards = "".join(f'<div class="card"><a href="/story/{n}">{name}</a>'
                    f'<span class="when">{_esc(text)}</span></div>'
                    for n, (name, text) in enumerate(CASES))
    (root / "listing.html").write_text(f"<!doctype html><html><body>{cards}</body></html>",
                                       encoding="utf-8")
    return ("url: ${SITE}listing.html\n    fetch_articles: false\n"
            "    list: {item: div.card, link: a, date: span.when}")


def _article_pages(root: Path, head: Callable[[str], str], body: Callable[[str], str],
                   folder: str) -> str:
    (root / folder).mkdir()
    cards = []
    for n, (name, text) in enumerate(CASES):
        cards.append(f'<div class="card"><a href="/{folder}/{n}.html">{name}</a></div>')
        (root / folder / f"{n}.html").write_text(
            f"<!doctype html><html><head><title>{name}</title>{head(text)}</head><body>"
            f"<article><h1>{name}</h1>{body(text)}<p>The river rose in the night and "
            "the bridge was closed by morning.</p></article></body></html>", encoding="utf-8")
    (root / f"{folder}.html").write_text(
        f"<!doctype html><html><body>{''.join(cards)}</body></html>", encoding="utf-8")
    return f"url: ${{SITE}}{folder}.html\n    list: {{item: div.card, link: a}}"


def _json_ld(root: Path) -> str:
    def head(text: str) -> str:
        data = {"@context": "https://schema.org", "@type": "NewsArticle",
                "headline": "x", "datePublished": text}
        return ('<script type="application/ld+json">'
                f"{json.dumps(data, ensure_ascii=False)}</script>")
    return _article_pages(root, head, lambda _text: "", "ld")


def _time_element(root: Path) -> str:
    return _article_pages(root, lambda _text: "",
                          lambda text: f'<time datetime="{_esc(text)}">the day</time>', "time")


def _sitemap(root: Path) -> str:
    urls = "".join(f"<url><loc>http://w.example/map/{n}</loc><news:news><news:title>{name}"
                   f"</news:title><news:publication_date>{_esc(text)}"
                   "</news:publication_date></news:news></url>"
                   for n, (name, text) in enumerate(CASES))
    (root / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        f"{urls}</urlset>", encoding="utf-8")
    return ("type: sitemap\n    url: ${SITE}sitemap.xml\n    fetch_articles: false\n"
            "    follow_hosts: [w.example]")


PATHS = {"rss pubDate": _rss, "atom published": _atom, "json feed date_published": _json_feed,
         "listing date selector": _listing_dates, "article JSON-LD": _json_ld,
         "article time datetime": _time_element, "news sitemap": _sitemap}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SiteServer]:
    (tmp_path / "site").mkdir()
    with SiteServer(tmp_path / "site") as server:
        yield server


@pytest.mark.parametrize("path", list(PATHS))
def test_every_date_path_reads_true_dates_and_refuses_guesses(
        path: str, site: SiteServer, tmp_path: Path) -> None:
    source = PATHS[path](Path(site.root))
    with _app(site, tmp_path, f"  - id: src\n    {source}\n") as app:
        result = run_source(app, app.config.sources[0])
        stored = _by_title(app, "src")
    assert result.ok, result.errors
    assert sorted(stored) == sorted(name for name, _text in CASES)
    for name in BAD:
        item = stored[name]
        # No date: the first-seen time of this run, never a guess.
        assert item.published_precision == "none", (path, name, item.published)
        assert NOW - timedelta(minutes=1) <= item.published <= NOW, (path, name)
        assert item.updated <= NOW, (path, name)
    for name, (_text, when, has_time) in GOOD.items():
        item = stored[name]
        assert item.published == when, (path, name)
        assert item.published_precision == ("time" if has_time else "day"), (path, name)
