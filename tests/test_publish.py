"""Publishing: RSS/Atom/JSON Feed rendering, filters, atomic writes, index and OPML pages."""

from __future__ import annotations

import calendar
import functools
import html
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import feedparser
import pytest

from syndicator.config import Config, FeedConfig, SiteConfig, SourceConfig
from syndicator.errors import ConfigError, PublishError
from syndicator.model import Item
from syndicator.publish import (
    FeedSummary,
    build_feeds,
    render_feed,
    render_index,
    render_opml,
    select_items,
    write_atomic,
)

SITE = SiteConfig(title="Newsroom «Навіны» & Co", base_url="https://feeds.example.org/")
FEED = FeedConfig(id="news", title="World news", description="News in three languages",
                  sources=("en", "ru"), link="https://news.example.org/")
NOW = datetime(2024, 5, 10, 8, 0, tzinfo=UTC)
T = datetime(2024, 5, 3, 12, 30, tzinfo=UTC)
HOSTILE = 'Tom & "Jerry" <script>alert(\'x\')</script> it\'s'
render_rss = functools.partial(render_feed, "rss")
render_atom = functools.partial(render_feed, "atom")
render_json = functools.partial(render_feed, "json")


def with_(feed: FeedConfig, **changes: Any) -> FeedConfig:
    return feed.model_copy(update=changes)


def make_item(n: int, *, title: str, published: datetime, updated: datetime | None = None,
              **fields: Any) -> Item:
    url = fields.pop("url", f"https://news.example.org/story/{n}")
    return Item(id=f"id{n}", source_id=fields.pop("source_id", "en"), url=url, title=title,
                published=published, updated=updated or published, **fields)


def sample_items() -> list[Item]:
    """Newest first: English with image and linked HTML, Russian and English at the same
    instant, Belarusian, and a bare item without author, content or image."""
    return [
        make_item(1, title="Parliament passes the budget", published=T,
                  updated=T + timedelta(hours=2),
                  summary="The budget passed with 60% of the votes.",
                  content='<p>The <a href="https://news.example.org/budget">budget</a> passed.'
                          ' <a href="https://example.com/?a=1&amp;b=2">Details</a>.</p>',
                  image="https://img.example.org/photos/budget.jpg", author="Jane Doe",
                  categories=("Politics", "Economy"), language="en"),
        make_item(2, title="Погода: в Минске до +25 °C", published=T, source_id="ru",
                  summary="Синоптики обещают тёплые выходные.",
                  content="<p>Синоптики обещают <strong>тёплые</strong> выходные.</p>",
                  author="Иван Петров", categories=("Погода",), language="ru"),
        make_item(3, title="Markets open flat", published=T,
                  summary="Same instant as the weather story.", content="<p>Flat.</p>",
                  language="en"),
        make_item(4, title="Навіны: у Мінску адкрылі новы мост", source_id="ru",
                  published=T - timedelta(days=1), summary="Мост злучыў два раёны горада.",
                  content='<p>Мост. <a href="https://news.example.org/be/most">Больш</a></p>',
                  image="https://img.example.org/most.png", categories=("Горад", "Транспарт"),
                  language="be"),
        make_item(5, title="A bare item", published=T - timedelta(days=2)),
    ]


class MemoryStore:
    """An in-memory FeedItemSource: items of the asked sources, newest first, paged."""

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = list(items)
        self.calls: list[tuple[tuple[str, ...], int, int]] = []

    def latest(self, source_ids: Sequence[str], *, limit: int, offset: int = 0) -> list[Item]:
        self.calls.append((tuple(source_ids), limit, offset))
        chosen = [i for i in self.items if i.source_id in source_ids]
        chosen.sort(key=lambda i: i.id)
        chosen.sort(key=lambda i: i.published, reverse=True)
        return chosen[offset:offset + limit]


def parse(data: bytes) -> Any:
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def timestamp(value: datetime) -> int:
    return int(value.timestamp())


def parsed_time(struct: Any) -> int:
    return calendar.timegm(struct)


# --- RSS ------------------------------------------------------------------------------------

def test_rss_round_trips_through_feedparser() -> None:
    items = sample_items()
    parsed = parse(render_rss(FEED, items, SITE, NOW))
    assert parsed.version == "rss20"
    assert parsed.feed.title == "World news"
    assert parsed.feed.link == "https://news.example.org/"
    assert parsed.feed.subtitle == "News in three languages"
    links = {link.rel: link for link in parsed.feed.links}
    assert links["self"].href == "https://feeds.example.org/news.rss"
    assert links["self"].type == "application/rss+xml"
    assert parsed.feed.generator == "Syndicator"
    # lastBuildDate is the newest `updated`, not the build time
    assert parsed_time(parsed.feed.updated_parsed) == timestamp(T + timedelta(hours=2))
    assert [e.title for e in parsed.entries] == [i.title for i in items]
    for entry, item in zip(parsed.entries, items, strict=True):
        assert entry.link == item.url
        assert entry.id == item.url
        assert parsed_time(entry.published_parsed) == timestamp(item.published)
        if item.summary:
            assert html.unescape(entry.summary) == item.summary
        if item.content:
            assert entry.content[0].value == item.content
        assert entry.get("author") == item.author
        assert [t.term for t in entry.get("tags", [])] == list(item.categories)
    first = parsed.entries[0]
    assert first.enclosures == [{"href": "https://img.example.org/photos/budget.jpg",
                                 "type": "image/jpeg", "length": "0"}]
    assert parsed.entries[3].enclosures[0].type == "image/png"
    assert not parsed.entries[4].get("enclosures")
    guids = ET.fromstring(render_rss(FEED, items, SITE, NOW)).findall("channel/item/guid")
    assert {g.get("isPermaLink") for g in guids} == {"true"}


def test_rss_uses_dc_creator_not_author_and_escapes_plain_summary() -> None:
    item = make_item(1, title="t", published=T, author="Jane Doe", summary="5 < 6 & <b>x</b>")
    document = render_rss(FEED, [item], SITE, NOW)
    root = ET.fromstring(document)
    entry = root.find("channel/item")
    assert entry is not None
    assert entry.find("author") is None
    assert entry.findtext("{http://purl.org/dc/elements/1.1/}creator") == "Jane Doe"
    # <description> is HTML to readers: the plain summary is escaped once more
    assert entry.findtext("description") == "5 &lt; 6 &amp; &lt;b&gt;x&lt;/b&gt;"
    assert html.unescape(parse(document).entries[0].summary) == item.summary


# --- Atom -----------------------------------------------------------------------------------

def test_atom_round_trips_through_feedparser() -> None:
    items = sample_items()
    parsed = parse(render_atom(FEED, items, SITE, NOW))
    assert parsed.version == "atom10"
    assert parsed.feed.id == "https://feeds.example.org/news.atom"
    assert parsed.feed.title == "World news"
    links = {link.rel: link for link in parsed.feed.links}
    assert links["self"].href == "https://feeds.example.org/news.atom"
    assert links["self"].type == "application/atom+xml"
    assert links["alternate"].href == "https://news.example.org/"
    assert parsed.feed.author == SITE.title
    assert parsed_time(parsed.feed.updated_parsed) == timestamp(T + timedelta(hours=2))
    assert [e.title for e in parsed.entries] == [i.title for i in items]
    for entry, item in zip(parsed.entries, items, strict=True):
        assert entry.id == item.url
        assert entry.link == item.url
        assert parsed_time(entry.published_parsed) == timestamp(item.published)
        assert parsed_time(entry.updated_parsed) == timestamp(item.updated)
        # an entry with neither summary nor content repeats its title as the summary
        assert entry.summary == (item.summary or item.title)
        if item.content:
            assert entry.content[0].value == item.content
            assert entry.content[0].type == "text/html"
        # an entry without its own author inherits the feed-level one (the site)
        assert entry.get("author") == item.author
        assert [t.term for t in entry.get("tags", [])] == list(item.categories)
        alternates = [link for link in entry.links if link.rel == "alternate"]
        assert [link.href for link in alternates] == [item.url]
    assert parsed.entries[0].enclosures == [{"href": "https://img.example.org/photos/budget.jpg",
                                             "type": "image/jpeg"}]
    assert parsed.entries[3].enclosures[0].type == "image/png"
    assert [len(e.get("enclosures", [])) for e in parsed.entries] == [1, 0, 0, 1, 0]


def test_atom_entries_carry_their_language() -> None:
    root = ET.fromstring(render_atom(FEED, sample_items(), SITE, NOW))
    lang = "{http://www.w3.org/XML/1998/namespace}lang"
    entries = root.findall("{http://www.w3.org/2005/Atom}entry")
    assert [e.get(lang) for e in entries] == ["en", "ru", "en", "be", None]
    assert root.get(lang) is None  # mixed languages and none configured
    configured = render_atom(with_(FEED, language="en"), sample_items(), SITE, NOW)
    assert ET.fromstring(configured).get(lang) == "en"


# --- JSON Feed ------------------------------------------------------------------------------

def test_json_feed_matches_the_items() -> None:
    items = sample_items()
    data = render_json(FEED, items, SITE, NOW)
    assert data.endswith(b"}\n")
    assert "Навіны".encode() in data  # ensure_ascii=False
    document = json.loads(data)
    assert list(document)[:5] == ["version", "title", "home_page_url", "feed_url", "description"]
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["feed_url"] == "https://feeds.example.org/news.json"
    assert document["home_page_url"] == "https://news.example.org/"
    assert document["authors"] == [{"name": SITE.title}]
    assert "language" not in document
    entries = document["items"]
    assert [e["title"] for e in entries] == [i.title for i in items]
    first = entries[0]
    assert first == {
        "id": "https://news.example.org/story/1",
        "url": "https://news.example.org/story/1",
        "title": "Parliament passes the budget",
        "content_html": items[0].content,
        "summary": items[0].summary,
        "image": "https://img.example.org/photos/budget.jpg",
        "date_published": "2024-05-03T12:30:00Z",
        "date_modified": "2024-05-03T14:30:00Z",
        "authors": [{"name": "Jane Doe"}],
        "tags": ["Politics", "Economy"],
        "language": "en",
    }
    # an item without content still carries content_text, as JSON Feed requires
    assert entries[4] == {"id": "https://news.example.org/story/5",
                          "url": "https://news.example.org/story/5", "title": "A bare item",
                          "content_text": "A bare item", "date_published": "2024-05-01T12:30:00Z",
                          "date_modified": "2024-05-01T12:30:00Z"}


# --- all formats ----------------------------------------------------------------------------

def test_hostile_text_is_escaped_in_every_format() -> None:
    item = make_item(1, title=HOSTILE, published=T, summary=HOSTILE, author='<b>"A&B"</b>',
                     categories=("<i>&</i>",), url="https://news.example.org/?a=1&b=<2>")
    feed = with_(FEED, title=HOSTILE, description=HOSTILE)
    for render in (render_rss, render_atom):
        data = render(feed, [item], SITE, NOW)
        assert b"<script>" not in data
        assert b"<b>" not in data and b"<i>" not in data
        ET.fromstring(data)  # well-formed
        parsed = parse(data)
        assert parsed.feed.title == HOSTILE
        assert parsed.entries[0].title == HOSTILE
        assert parsed.entries[0].link == item.url
    atom = parse(render_atom(feed, [item], SITE, NOW)).entries[0]
    assert atom.summary == HOSTILE
    assert atom.author == '<b>"A&B"</b>'
    assert atom.tags[0].term == "<i>&</i>"
    document = json.loads(render_json(feed, [item], SITE, NOW))
    assert document["title"] == HOSTILE
    assert document["items"][0]["title"] == HOSTILE
    assert document["items"][0]["authors"] == [{"name": '<b>"A&B"</b>'}]


def test_same_items_give_the_same_bytes_whatever_the_clock() -> None:
    items = sample_items()
    later = NOW + timedelta(days=3)
    for render in (render_rss, render_atom, render_json):
        assert render(FEED, items, SITE, NOW) == render(FEED, items, SITE, later)


def test_an_empty_feed_is_dated_now_and_valid() -> None:
    for render in (render_rss, render_atom):
        parsed = parse(render(FEED, [], SITE, NOW))
        assert parsed.entries == []
        assert parsed_time(parsed.feed.updated_parsed) == timestamp(NOW)
    assert json.loads(render_json(FEED, [], SITE, NOW))["items"] == []


def test_naive_and_foreign_datetimes_are_published_as_utc() -> None:
    naive = datetime(2024, 5, 3, 12, 30)  # as SQLite hands it back
    minsk = datetime(2024, 5, 3, 15, 30, 0, 123456, tzinfo=ZoneInfo("Europe/Minsk"))
    items = [make_item(1, title="naive", published=naive),
             make_item(2, title="minsk", published=minsk)]
    expected = timestamp(T)
    for render in (render_rss, render_atom):
        entries = parse(render(FEED, items, SITE, NOW)).entries
        assert [parsed_time(e.published_parsed) for e in entries] == [expected, expected]
    json_items = json.loads(render_json(FEED, items, SITE, NOW))["items"]
    assert {e["date_published"] for e in json_items} == {"2024-05-03T12:30:00Z"}


def test_control_characters_cannot_break_a_feed() -> None:
    item = make_item(1, title="bell\x07 and nul\x00 here", published=T, summary="form\x0cfeed")
    for render in (render_rss, render_atom):
        assert parse(render(FEED, [item], SITE, NOW)).entries[0].title == "bell and nul here"


def test_languages_come_from_config_or_from_items_that_agree() -> None:
    english = [make_item(1, title="a", published=T, language="en"),
               make_item(2, title="b", published=T, language="en")]
    assert parse(render_rss(FEED, english, SITE, NOW)).feed.language == "en"
    assert "language" not in parse(render_rss(FEED, sample_items(), SITE, NOW)).feed
    configured = with_(FEED, language="be")
    assert parse(render_rss(configured, sample_items(), SITE, NOW)).feed.language == "be"
    assert json.loads(render_json(configured, english, SITE, NOW))["language"] == "be"


# --- selection: limit, order, filters -------------------------------------------------------

def test_selection_keeps_store_order_and_limit() -> None:
    store = MemoryStore(sample_items())
    chosen = select_items(with_(FEED, limit=3), store)
    assert [i.id for i in chosen] == ["id1", "id2", "id3"]
    assert store.calls == [(("en", "ru"), 3, 0)]  # no filters: one query of `limit`


def test_filters_are_case_insensitive_regexes_and_exclude_wins() -> None:
    items = [
        make_item(1, title="Budget vote", published=T, summary="economy"),
        make_item(2, title="Football final", published=T - timedelta(hours=1)),
        make_item(3, title="Sports: budget for stadium", published=T - timedelta(hours=2)),
        make_item(4, title="Weather", published=T - timedelta(hours=3), summary="ECONOMY impact"),
    ]
    store = MemoryStore(items)
    feed = with_(FEED, include=("budget", r"econom(y|ics)"), exclude=("^sports",))
    assert [i.id for i in select_items(feed, store)] == ["id1", "id4"]
    only_exclude = with_(FEED, exclude=("FOOTBALL",))
    assert [i.id for i in select_items(only_exclude, store)] == ["id1", "id3", "id4"]


def test_filtered_feeds_page_through_the_store_until_limit() -> None:
    items = [make_item(n, title=f"story {n}" + (" keep" if n % 10 == 0 else ""),
                       published=T - timedelta(minutes=n)) for n in range(1, 501)]
    store = MemoryStore(items)
    chosen = select_items(with_(FEED, limit=12, include=("keep",)), store)
    assert [i.id for i in chosen] == [f"id{n}" for n in range(10, 121, 10)]
    assert [offset for _, _, offset in store.calls] == [0, 100]
    # fewer matches than the limit: read until the store runs out
    store.calls.clear()
    chosen = select_items(with_(FEED, limit=100, include=("keep",)), store)
    assert len(chosen) == 50
    assert store.calls[-1][2] + store.calls[-1][1] >= 500


# --- atomic writes --------------------------------------------------------------------------

def test_write_atomic_replaces_only_changed_content(tmp_path: Path) -> None:
    target = tmp_path / "out" / "feed.rss"
    assert write_atomic(target, b"one") is True
    assert target.read_bytes() == b"one"
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)
    past = 1_600_000_000
    os.utime(target, (past, past))
    assert write_atomic(target, b"one") is False
    assert target.stat().st_mtime == past
    assert write_atomic(target, b"two") is True
    assert target.read_bytes() == b"two"
    assert target.stat().st_mtime != past
    assert sorted(p.name for p in target.parent.iterdir()) == ["feed.rss"]  # no temp files


def test_write_atomic_wraps_os_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    with pytest.raises(PublishError) as info:
        write_atomic(blocker / "feed.rss", b"data")
    assert info.value.path == str(blocker / "feed.rss")
    directory = tmp_path / "dir.rss"
    directory.mkdir()
    with pytest.raises(PublishError):
        write_atomic(directory, b"data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.rss", "file"]


# --- build ----------------------------------------------------------------------------------

def make_config(output: Path, *feeds: FeedConfig) -> Config:
    return Config(
        site=SITE,
        output_dir=str(output),
        sources=(SourceConfig(id="en", type="feed", url="https://news.example.org/en.xml"),
                 SourceConfig(id="ru", type="feed", url="https://news.example.org/ru.xml")),
        feeds=feeds or (FEED, FeedConfig(id="russian", title="Русская лента", sources=("ru",),
                                         language="ru")),
    )


def test_build_writes_every_feed_and_rewrites_only_what_changed(tmp_path: Path) -> None:
    config = make_config(tmp_path / "feeds")
    store = MemoryStore(sample_items())
    result = build_feeds(config, store, NOW)
    out = tmp_path / "feeds"
    names = sorted(p.name for p in out.iterdir())
    assert names == ["feeds.opml", "index.html", "news.atom", "news.json", "news.rss",
                     "russian.atom", "russian.json", "russian.rss"]
    assert sorted(p.name for p in result.written) == names and result.unchanged == ()
    assert [(s.feed.id, s.items, s.newest) for s in result.feeds] == [
        ("news", 5, T), ("russian", 2, T)]
    for name in ("news.rss", "news.atom", "russian.rss", "russian.atom"):
        parse((out / name).read_bytes())
    past = 1_600_000_000
    for path in out.iterdir():
        os.utime(path, (past, past))

    again = build_feeds(config, store, NOW + timedelta(hours=1))
    assert again.written == ()
    assert all(p.stat().st_mtime == past for p in out.iterdir())

    store.items.insert(0, make_item(9, title="Fresh English story", published=NOW))
    third = build_feeds(config, store, NOW + timedelta(hours=2))
    assert sorted(p.name for p in third.written) == ["index.html", "news.atom", "news.json",
                                                    "news.rss"]
    assert parse((out / "news.rss").read_bytes()).entries[0].title == "Fresh English story"
    assert (out / "russian.rss").stat().st_mtime == past


def test_build_only_some_feeds(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    result = build_feeds(config, MemoryStore(sample_items()), NOW, only=["russian"])
    assert sorted(p.name for p in result.written) == [
        "feeds.opml", "index.html", "russian.atom", "russian.json", "russian.rss"]
    assert [s.feed.id for s in result.feeds] == ["russian"]
    # the index still lists every feed
    assert "news.rss" in (tmp_path / "index.html").read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match="nope"):
        build_feeds(config, MemoryStore([]), NOW, only=["nope"])


def test_build_applies_limit_and_filters(tmp_path: Path) -> None:
    feed = with_(FEED, limit=2, exclude=("погода",))
    build_feeds(make_config(tmp_path, feed), MemoryStore(sample_items()), NOW)
    entries = parse((tmp_path / "news.atom").read_bytes()).entries
    assert [e.title for e in entries] == ["Parliament passes the budget", "Markets open flat"]


# --- index.html and OPML --------------------------------------------------------------------

class _Head(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.alternates: list[dict[str, str | None]] = []
        self.inputs: list[dict[str, str | None]] = []
        self.html_lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "html":
            self.html_lang = attributes.get("lang")
        if tag == "link" and attributes.get("rel") == "alternate":
            self.alternates.append(attributes)
        if tag == "input":
            self.inputs.append(attributes)


def test_index_has_autodiscovery_and_escapes_titles() -> None:
    hostile = with_(FEED, title=HOSTILE, description="<em>desc</em>")
    config = make_config(Path("/tmp"), hostile)
    summary = FeedSummary(feed=hostile, items=5, newest=T, built=NOW)
    page = render_index(config, [summary]).decode("utf-8")
    assert "<script>alert" not in page and "<em>desc" not in page
    head = _Head()
    head.feed(page)
    assert head.html_lang == "en"
    assert [(a["type"], a["href"]) for a in head.alternates] == [
        ("application/rss+xml", "https://feeds.example.org/news.rss"),
        ("application/atom+xml", "https://feeds.example.org/news.atom"),
        ("application/feed+json", "https://feeds.example.org/news.json"),
    ]
    assert head.alternates[0]["title"] == f"{HOSTILE} (RSS)"
    assert head.inputs[0] == {"id": "url-news-rss", "type": "url", "readonly": None,
                              "value": "https://feeds.example.org/news.rss",
                              "aria-label": f"RSS URL of {HOSTILE}"}
    assert [i["value"] for i in head.inputs[1:]] == ["https://feeds.example.org/news.atom",
                                                     "https://feeds.example.org/news.json"]
    assert "5 items" in page and 'datetime="2024-05-03T12:30:00Z"' in page
    for reader in ("Feedly", "Inoreader", "NetNewsWire", "Thunderbird"):
        assert reader in page


def test_index_handles_empty_feeds() -> None:
    config = make_config(Path("/tmp"))
    page = render_index(config, [FeedSummary(feed=FEED, items=0, newest=None, built=NOW)])
    assert b"0 items" in page and b"newest" not in page


def test_opml_lists_every_feed() -> None:
    config = make_config(Path("/tmp"), with_(FEED, title=HOSTILE),
                         FeedConfig(id="russian", title="Русская лента", sources=("ru",),
                                    language="ru"))
    root = ET.fromstring(render_opml(config))
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == SITE.title
    outlines = root.findall("body/outline")
    assert [o.attrib for o in outlines] == [
        {"type": "rss", "version": "RSS2", "text": HOSTILE, "title": HOSTILE,
         "xmlUrl": "https://feeds.example.org/news.rss", "htmlUrl": "https://news.example.org/",
         "description": "News in three languages"},
        {"type": "rss", "version": "RSS2", "text": "Русская лента", "title": "Русская лента",
         "xmlUrl": "https://feeds.example.org/russian.rss",
         "htmlUrl": "https://news.example.org/", "language": "ru"},
    ]


def test_feeds_link_to_their_sites_not_to_the_feed_server(tmp_path: Path) -> None:
    # The feed's <link> / home_page_url, the index's link and OPML's htmlUrl: the configured
    # `link`, else the site of the feed's first source.
    config = Config(
        site=SITE, output_dir=str(tmp_path / "feeds"),
        sources=(SourceConfig(id="en", type="feed", url="https://news.example.org/en.xml"),
                 SourceConfig(id="ru", type="feed", url="http://RU.example.net:8080/a/b?c=d")),
        feeds=(FeedConfig(id="ru-first", title="R", sources=("ru", "en")),
               FeedConfig(id="own", title="O", sources=("en",),
                          link="https://office.example.org/press?x=1&y=2")))
    sites = {"ru-first": "http://ru.example.net:8080/",
             "own": "https://office.example.org/press?x=1&y=2"}
    build_feeds(config, MemoryStore(sample_items()), NOW)
    out = tmp_path / "feeds"
    for feed_id, site in sites.items():
        assert ET.parse(out / f"{feed_id}.rss").findtext("channel/link") == site
        atom = ET.parse(out / f"{feed_id}.atom").getroot()
        assert [link.get("href") for link in atom.findall("{http://www.w3.org/2005/Atom}link")
                if link.get("rel") == "alternate"] == [site]
        assert json.loads((out / f"{feed_id}.json").read_bytes())["home_page_url"] == site
    index = (out / "index.html").read_text(encoding="utf-8")
    for feed_id, site in sites.items():
        assert f'<a href="{html.escape(site)}">' in index, feed_id
    opml = ET.parse(out / "feeds.opml").getroot()
    assert {o.get("xmlUrl"): o.get("htmlUrl") for o in opml.iter("outline")} == {
        f"{SITE.base_url}{feed_id}.rss": site for feed_id, site in sites.items()}


@pytest.mark.parametrize("link", ["ftp://news.example.org/", "news.example.org", "https://",
                                  "http://[::1", "https://exa mple.org/",
                                  "javascript:alert(1)"])
def test_a_feed_link_must_be_an_http_url(link: str) -> None:
    from syndicator.config import parse_config

    text = ("sources:\n  - {id: en, type: feed, url: 'https://news.example.org/feed'}\n"
            f"feeds:\n  - {{id: a, title: A, sources: [en], link: '{link}'}}\n")
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert "<config>:4:" in str(caught.value) and "feeds[0].link" in str(caught.value)
    assert link not in str(caught.value)
