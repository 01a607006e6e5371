"""The one feed writer (publish/feeds.py) against its reference (tests/feedgen_reference.py:
feedgen for RSS and Atom, json.dumps for JSON Feed) over hostile, multilingual and sparse items,
and what only it does: extra entry links, the entry cache."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import feedparser
import pytest

from syndicator.config import FeedConfig, SiteConfig
from syndicator.errors import PublishError
from syndicator.model import Item
from syndicator.publish import feeds, jsonfeed, xmlfeed
from syndicator.publish.links import ATOM_NS, EntryLink, FeedLinks
from tests.feedgen_reference import reference

SITE = SiteConfig(title="Newsroom «Навіны» & Co", base_url="https://feeds.example.org/")
FEED = FeedConfig(id="news", title="World news", description="News <in> three & languages",
                  sources=("en",), link="https://news.example.org/?a=1&b=2")
NOW = datetime(2024, 5, 10, 8, 0, tzinfo=UTC)
T = datetime(2024, 5, 3, 12, 30, tzinfo=UTC)
HOSTILE = 'Tom & "Jerry" <script>alert(\'x\')</script> it\'s &amp; &lt;b&gt; ]]>'


def item(n: int, **changes: Any) -> Item:
    base = Item(id=f"id{n}", source_id="en", url=f"https://news.example.org/story/{n}",
                title=f"Story {n}", published=T - timedelta(hours=n),
                updated=T - timedelta(hours=n), summary=f"Summary {n}",
                content=f"<p>Body {n}</p>", language="en")
    return replace(base, **changes)


def corpus() -> list[Item]:
    minsk = ZoneInfo("Europe/Minsk")
    return [
        item(1, image="https://img.example.org/a.png?x=1&y=\"2\"", author="Jane Doe",
             categories=("Politics", "Economy", "Politics", "  ", "<i>&</i>")),
        item(2, title=HOSTILE, summary=HOSTILE, content=HOSTILE, author='<b>"A&B"</b>',
             url="https://news.example.org/?a=1&b=<2>"),
        item(3, title="Погода: в Минске до +25 °C 😀", summary="Синоптики\r\nобещают\tтепло",
             content="<p>Синоптики\r\n<strong>тёплые</strong></p>", language="ru",
             author="Иван Петров", categories=("Погода",)),
        item(4, summary="", content="", author=None, image=None, language=None),
        item(5, summary="only a summary", content=""),
        item(6, summary="", content="<p>only content</p>"),
        item(7, title="bell\x07 nul\x00 here", summary="form\x0cfeed", content="x\x1fy",
             author="\x01"),
        item(8, published=datetime(2024, 5, 3, 15, 30, 0, 123456, tzinfo=minsk),
             updated=datetime(2024, 6, 1, 1, 2, 3, 999999, tzinfo=minsk), language="be"),
        item(9, published=datetime(2024, 2, 29, 23, 59, 59), image="https://i.example.org/x"),
    ]


LINKS = [
    None,
    FeedLinks(hub="https://hub.example.net/?q=1&r=2"),
    FeedLinks(hub="https://hub.example.net/", prev_archive="https://feeds.example.org/p/3"),
    FeedLinks(self_url="https://feeds.example.org/archive/news/2.x", current="https://c/&",
              prev_archive="https://feeds.example.org/archive/news/1.x", archive=True),
    FeedLinks(self_url="https://feeds.example.org/archive/news/1.x", current="https://c/",
              archive=True),
]


@pytest.mark.parametrize("ext", ["rss", "atom", "json"])
@pytest.mark.parametrize("links", LINKS)
def test_documents_match_the_reference_writers_byte_for_byte(
        ext: str, links: FeedLinks | None) -> None:
    items = corpus()
    for feed in (FEED, FEED.model_copy(update={"language": "be", "title": HOSTILE})):
        for chosen in (items, items[:1], items[2:3], [], items[3:7]):
            feeds.ENTRIES.clear()
            expected = reference(ext, feed, chosen, SITE, NOW, links)
            assert feeds.render_feed(ext, feed, chosen, SITE, NOW, links=links) == expected, (
                ext, [i.id for i in chosen])
            # again, from the entries the first call keeps
            assert feeds.render_feed(ext, feed, chosen, SITE, NOW, links=links) == expected


def test_feed_level_date_and_language_follow_the_items() -> None:
    rendered = [feeds.render_item(i) for i in corpus()[:2]]
    frame = feeds.frame_for(FEED, SITE, rendered, NOW)
    assert frame.updated == T - timedelta(hours=1) and frame.language == "en"
    assert feeds.frame_for(FEED, SITE, [], NOW).updated == NOW


def test_json_layout_matches_json_dumps() -> None:
    values: list[Any] = [{}, [], {"a": [1, True, False, None, {"b": []}], "é": "\u2028\"\\"},
                         ["x", {"y": {}}], "plain"]
    for value in values:
        for level in (0, 2):
            expected = json.dumps(value, indent=2, ensure_ascii=False)
            if level:
                expected = expected.replace("\n", "\n" + "  " * level)
            assert jsonfeed.dump(value, level) == expected


def test_json_strings_are_escaped_as_the_standard_library_does_for_every_code_point() -> None:
    from json.encoder import encode_basestring

    from syndicator.publish.jsonstring import quote

    points = [*range(0xD800), *range(0xE000, 0x110000)]
    text = "".join(map(chr, points))
    assert quote(text) == encode_basestring(text).encode("utf-8")
    for point in [*range(0x80), 0x7F, 0x85, 0xA0, 0x2028, 0x2029, 0xFEFF, 0xFFFE, 0x10FFFF]:
        assert quote(chr(point)) == encode_basestring(chr(point)).encode("utf-8"), hex(point)
    with pytest.raises(UnicodeEncodeError):   # a lone surrogate cannot be written as UTF-8
        quote("a\ud800b")


def test_an_item_the_reference_writer_refuses_is_refused() -> None:
    untitled = item(1, title="", summary="", content="")
    with pytest.raises(PublishError):
        feeds.render_item(untitled)
    with pytest.raises(ValueError):     # feedgen's way to reject a field
        reference("atom", FEED, [untitled], SITE, NOW)


def test_rfc2822_dates_are_utc_in_the_c_locale() -> None:
    assert xmlfeed.rfc2822(datetime(2024, 1, 7, 1, 2, 3, tzinfo=ZoneInfo("Europe/Minsk"))) \
        == "Sat, 06 Jan 2024 22:02:03 +0000"


def test_entries_are_kept_for_the_next_document_and_follow_edits() -> None:
    items = corpus()
    feeds.ENTRIES.clear()
    for one in items:
        assert feeds.entry(one) is feeds.entry(one)     # the second from the cache
        assert feeds.entry(one) == feeds.render_item(one)
    edited = replace(items[0], title="Edited")
    assert b"Edited" in feeds.entry(edited).atom
    assert b"Edited" not in feeds.entry(items[0]).atom


def test_extra_entry_links_are_written_in_every_format() -> None:
    links = (EntryLink(href="https://news.example.org/be/story/1?a=1&b=2", hreflang="be"),
             EntryLink(href="https://news.example.org/ru/1", rel="related",
                       media_type="text/html"))
    rendered = [feeds.render_item(corpus()[0], links), feeds.render_item(corpus()[1])]
    frame = feeds.frame_for(FEED, SITE, rendered, NOW)

    atom = ET.fromstring(feeds.document("atom", frame, rendered))
    entry = atom.findall(f"{{{ATOM_NS}}}entry")[0]
    found = [(e.get("href"), e.get("rel"), e.get("hreflang"), e.get("type"))
             for e in entry.findall(f"{{{ATOM_NS}}}link")]
    assert found[-2:] == [("https://news.example.org/be/story/1?a=1&b=2", "alternate", "be",
                           None),
                          ("https://news.example.org/ru/1", "related", None, "text/html")]
    parsed = feedparser.parse(feeds.document("atom", frame, rendered))
    assert not parsed.bozo
    assert {"https://news.example.org/be/story/1?a=1&b=2", "https://news.example.org/ru/1"} \
        <= {link.href for link in parsed.entries[0].links}

    rss = ET.fromstring(feeds.document("rss", frame, rendered))
    extra = rss.findall(f"channel/item/{{{ATOM_NS}}}link")
    assert [(e.get("href"), e.get("hreflang")) for e in extra] == [
        ("https://news.example.org/be/story/1?a=1&b=2", "be"),
        ("https://news.example.org/ru/1", None)]
    assert not feedparser.parse(feeds.document("rss", frame, rendered)).bozo

    data = feeds.document("json", frame, rendered)
    document = json.loads(data)
    assert document["items"][0][jsonfeed.EXTENSION] == {"links": [
        {"url": "https://news.example.org/be/story/1?a=1&b=2", "rel": "alternate",
         "language": "be"},
        {"url": "https://news.example.org/ru/1", "rel": "related", "type": "text/html"}]}
    assert jsonfeed.EXTENSION not in document["items"][1]
    assert data == (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()
