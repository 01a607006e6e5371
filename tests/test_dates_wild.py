"""Dates that are true or absent (issue 22, findings 7 and 8).

A date given in an attribute (`<time datetime>`, microdata `content`, Blogger's `<abbr
title>`) wins over the element's text; a feed parser's parsed date is used as it is; a
string that leaves the year or month to be guessed is no date; a date more than a day in
the future or before 1990 is logged and not used. Items without a true date fall back to
the first-seen time ("none" precision). Real sources on loopback, real SQLite.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicator.app import App
from syndicator.dates import ParsedDate, choose_date, parse_date
from syndicator.demo.server import SiteServer
from syndicator.model import Item
from syndicator.pipeline import run_source
from tests.test_item_dates import Clock
from tests.test_item_dates import _app as item_app

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SiteServer]:
    """An empty site on loopback; each test writes the files it serves."""
    (tmp_path / "site").mkdir()
    with SiteServer(tmp_path / "site") as server:
        yield server


def _app(server: SiteServer, tmp_path: Path, sources: str) -> App:
    return item_app(server, tmp_path, sources, Clock(NOW))


def _by_title(app: App, source_id: str) -> dict[str, Item]:
    return {item.title: item for item in app.store.latest([source_id], limit=100)}


def stored_after_a_run(server: SiteServer, tmp_path: Path, sources: str) -> dict[str, Item]:
    """Run the first of `sources` once, at NOW (the run must succeed): its items by title."""
    with _app(server, tmp_path, sources) as app:
        source = app.config.sources[0]
        result = run_source(app, source)
        assert result.ok, result.errors
        return _by_title(app, source.id)


# --- Blogger: microdata and hAtom dates are attributes ----------------------------------------

BLOGGER_LISTING = """<!doctype html><html lang="en"><body>
<div class="post"><h3 class="post-title"><a href="/2008/03/spring.html">Spring</a></h3></div>
</body></html>"""

BLOGGER_POST = """<!doctype html><html lang="en"><head><title>Spring</title></head><body>
<div class="post hentry" itemscope itemtype="http://schema.org/BlogPosting">
<h3 class="post-title entry-title" itemprop="name">Spring</h3>
<div class="post-body entry-content" itemprop="description articleBody">
<p>The first warm day of the year came early, and the garden woke up with it.</p></div>
<div class="post-footer">Posted by <span class="fn">Ann</span> at
<a class="timestamp-link" href="/2008/03/spring.html" rel="bookmark">
<abbr class="published" itemprop="datePublished" title="2008-03-12T14:33:00-07:00">2:33 PM</abbr>
</a></div></div></body></html>"""

HATOM_POST = BLOGGER_POST.replace(' itemprop="datePublished"', "")


@pytest.mark.parametrize("post", [BLOGGER_POST, HATOM_POST], ids=["microdata", "hatom"])
def test_blogger_post_is_dated_by_its_abbr_title_not_its_time_text(
        site: SiteServer, tmp_path: Path, post: str) -> None:
    root = Path(site.root)
    (root / "index.html").write_text(BLOGGER_LISTING, encoding="utf-8")
    (root / "2008" / "03").mkdir(parents=True)
    (root / "2008" / "03" / "spring.html").write_text(post, encoding="utf-8")
    sources = ("  - id: blog\n    url: ${SITE}\n    language: en\n"
               "    list: {item: div.post, link: h3 a}\n")
    with _app(site, tmp_path, sources) as app:
        result = run_source(app, app.config.sources[0])
        assert result.ok, result.errors
        item = _by_title(app, "blog")["Spring"]
    # "2:33 PM" read as a time of today made a 2008 post today's news.
    assert item.published == datetime(2008, 3, 12, 21, 33, tzinfo=UTC)
    assert item.published_precision == "time"


def test_time_element_attribute_wins_over_its_text_in_a_selector(
        site: SiteServer, tmp_path: Path) -> None:
    root = Path(site.root)
    (root / "index.html").write_text(
        '<html><body><div class="card"><a href="/a">A story about the river</a>'
        '<time class="when" datetime="2025-11-30T08:15:00Z">08:15</time></div></body></html>',
        encoding="utf-8")
    sources = ("  - id: site\n    url: ${SITE}\n    fetch_articles: false\n"
               "    list: {item: div.card, date: time.when}\n")
    with _app(site, tmp_path, sources) as app:
        assert run_source(app, app.config.sources[0]).ok
        item = _by_title(app, "site")["A story about the river"]
    assert item.published == datetime(2025, 11, 30, 8, 15, tzinfo=UTC)


# --- feeds: true dates or none ---------------------------------------------------------------

BAD_DATES = {
    "two-digit year": "03-12-31",
    "no year": "-03-12",
    "unknown month": "Sun, 16 zzz 2012",
    "year-less day": "1 July",
    "year 0100": "Sat, 01 Jan 0100 00:00:00 GMT",
    "far future": "Thu, 13 Dec 2103 10:00:00 GMT",
}


def _rss(items: str) -> str:
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f'<title>Wire</title><link>http://wire.example/</link>{items}</channel></rss>')


def test_feed_dates_that_cannot_be_true_are_no_dates(site: SiteServer, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    items = [("good", "Fri, 04 Dec 2026 09:30:00 GMT"), *BAD_DATES.items()]
    entries = "".join(f"<item><title>{name}</title><link>http://wire.example/{n}</link>"
                      f"<pubDate>{date}</pubDate></item>"
                      for n, (name, date) in enumerate(items))
    (Path(site.root) / "feed.xml").write_text(_rss(entries), encoding="utf-8")
    sources = "  - id: wire\n    type: feed\n    url: ${SITE}feed.xml\n    language: en\n"
    with caplog.at_level(logging.INFO, logger="syndicator"), \
            _app(site, tmp_path, sources) as app:
        assert run_source(app, app.config.sources[0]).ok
        stored = _by_title(app, "wire")
    assert stored["good"].published == datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    assert stored["good"].published_precision == "time"
    for name in BAD_DATES:
        item = stored[name]
        # No date: the first-seen time (distinct instants in feed order), never a guess.
        assert item.published_precision == "none", name
        assert NOW - timedelta(minutes=1) <= item.published <= NOW, name
        assert item.updated <= NOW, name
    logged = caplog.text
    assert "'Thu, 13 Dec 2103 10:00:00 GMT' is more than a day in the future" in logged
    assert "is before 1990" in logged


def test_feed_parsers_date_is_used_as_given() -> None:
    from syndicator.extract.feed import parse_feed
    from syndicator.model import Page

    text = _rss("<item><title>a</title><link>http://wire.example/a</link>"
                "<pubDate>Thu, 03 Jun 2021 14:30:00 +0300</pubDate></item>"
                "<item><title>b</title><link>http://wire.example/b</link>"
                "<pubDate>03-12-31</pubDate></item>")
    page = Page(url="http://wire.example/feed", final_url="http://wire.example/feed",
                status=200, text=text, encoding="utf-8", content_type="application/rss+xml",
                raw=text.encode())
    first, second = parse_feed(page)
    assert first.dates[0] == "2021-06-03T11:30:00Z"
    # feedparser reads "03-12-31" as 2003-12-31: not used, the string is left to be refused.
    assert second.dates == ("03-12-31",)


# --- the date parser ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", [*list(BAD_DATES.values())[:4], "31-12-03", "12/03/31",
                                  # a two-digit year, also where RFC 822 allows one
                                  "03.06.21", "Thu, 03 Jun 21 14:30:00 GMT", "16 Dec 12 10:00"])
def test_partial_or_ambiguous_dates_are_no_dates(text: str) -> None:
    for language in ("en", "ru", None):
        assert parse_date(text, language=language, timezone="UTC", now=NOW) is None, text


@pytest.mark.parametrize("text", ["Q2 2021", "q2 2021", "2021 Q2", "2021-Q2", "Q4 2020",
                                  "June 2021", "2021", "last week"])
def test_a_quarter_month_or_year_without_a_day_is_no_date(text: str) -> None:
    # dateparser reads "Q2 2021" as a quarter and fills its day (and, for a quarter, which
    # of its months) in from the moment it reads at: read a day later, it moved by a day.
    for now in (NOW, datetime(2026, 6, 15, 12, tzinfo=UTC), datetime(2027, 1, 31, tzinfo=UTC)):
        for language in ("en", "ru", None):
            assert parse_date(text, language=language, timezone="Europe/Minsk",
                              now=now) is None, (text, now, language)


# A day and month without a year, as listings in the three languages write them: no date,
# however recent the day (NOW is 6 December 2026), and whether or not a time follows.
YEARLESS = [
    ("en", "1 July"), ("en", "December 5"), ("en", "Dec 5, 14:30"), ("en", "5 December at 9:05"),
    ("en", "Saturday, December 5"), ("en", "Updated: December 4"),
    ("ru", "5 декабря"), ("ru", "5 декабря, 14:30"), ("ru", "5 дек. в 14:30"),
    ("ru", "Опубликовано: 4 декабря"), ("ru", "31 декабря"), ("ru", "1 июля 09:00"),
    ("be", "5 снежня"), ("be", "5 снежня, 14:30"), ("be", "4 снежня ў 10:15"),
    ("be", "1 ліпеня"),
]


@pytest.mark.parametrize(("language", "text"), YEARLESS)
def test_a_day_without_a_year_is_no_date(language: str, text: str) -> None:
    assert parse_date(text, language=language, timezone="Europe/Minsk", now=NOW) is None


@pytest.mark.parametrize(("language", "text", "expected"), [
    ("en", "yesterday", datetime(2026, 12, 4, 21, tzinfo=UTC)),
    ("en", "2 hours ago", NOW - timedelta(hours=2)),
    ("ru", "вчера, 14:30", datetime(2026, 12, 5, 11, 30, tzinfo=UTC)),
    ("ru", "Сегодня в 10:15", datetime(2026, 12, 6, 7, 15, tzinfo=UTC)),
    ("be", "учора", datetime(2026, 12, 4, 21, tzinfo=UTC)),
    ("ru", "10:15", datetime(2026, 12, 6, 7, 15, tzinfo=UTC)),
])
def test_relative_dates_are_read_against_the_run(language: str, text: str,
                                                 expected: datetime) -> None:
    # They name their day by the moment they are read at: no year is guessed.
    parsed = parse_date(text, language=language, timezone="Europe/Minsk", now=NOW)
    assert parsed is not None and parsed.value == expected


def test_implausible_dates_are_skipped_with_a_reason() -> None:
    rejected: list[str] = []
    chosen = choose_date(["Thu, 13 Dec 2103 10:00:00 GMT", "0100-01-01T00:00:00Z",
                          "2026-12-05T10:00:00Z"], language="en", timezone="UTC", now=NOW,
                         rejected=rejected)
    assert chosen == ParsedDate(datetime(2026, 12, 5, 10, tzinfo=UTC), True)
    assert rejected == ["date 'Thu, 13 Dec 2103 10:00:00 GMT' is more than a day in the future",
                        "date '0100-01-01T00:00:00Z' is before 1990"]
    # within a day ahead: a clock or time zone slip, kept
    assert choose_date(["2026-12-07T06:00:00Z"], language="en", timezone="UTC", now=NOW) == \
        ParsedDate(datetime(2026, 12, 7, 6, tzinfo=UTC), True)


@pytest.mark.parametrize(("text", "language", "expected"), [
    ("June 03, 2021", "en", datetime(2021, 6, 3, tzinfo=UTC)),
    ("3 чэрвеня 2021", "be", datetime(2021, 6, 3, tzinfo=UTC)),
    ("3 июня 2021 г.", "ru", datetime(2021, 6, 3, tzinfo=UTC)),
    ("Thu, 03 Jun 2021 14:30:00 GMT", "en", datetime(2021, 6, 3, 14, 30, tzinfo=UTC)),
    ("2021-06-03T14:30:00+03:00", None, datetime(2021, 6, 3, 11, 30, tzinfo=UTC)),
    ("Sun, 16 Jun 2012", None, datetime(2012, 6, 16, tzinfo=UTC)),
    ("Saturday, 16 June 2012", None, datetime(2012, 6, 16, tzinfo=UTC)),
])
def test_real_formats_still_read(text: str, language: str | None, expected: datetime) -> None:
    parsed = parse_date(text, language=language, timezone="UTC", now=NOW)
    assert parsed is not None and parsed.value == expected
