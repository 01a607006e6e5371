"""The fast archive-page writer (publish/fragments.py) writes the same bytes as feedgen
(publish/feeds.py) and the JSON Feed writer for the same items and links."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from syndicator.config import FeedConfig, SiteConfig
from syndicator.errors import PublishError
from syndicator.model import Item
from syndicator.publish import fragments, jsonfeed, render_atom, render_json, render_rss
from syndicator.publish.links import FeedLinks

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
RENDERERS = {"rss": render_rss, "atom": render_atom, "json": render_json}


def fast(ext: str, feed: FeedConfig, items: list[Item], links: FeedLinks | None) -> bytes:
    rendered = [fragments.render_item(i) for i in items]
    frame = fragments.frame_for(feed, SITE, rendered, NOW, links)
    return fragments.document(ext, frame, rendered)


@pytest.mark.parametrize("ext", ["rss", "atom", "json"])
@pytest.mark.parametrize("links", LINKS)
def test_documents_match_the_reference_writers_byte_for_byte(
        ext: str, links: FeedLinks | None) -> None:
    items = corpus()
    for feed in (FEED, FEED.model_copy(update={"language": "be", "title": HOSTILE})):
        for chosen in (items, items[:1], items[2:3], [], items[3:7]):
            expected = RENDERERS[ext](feed, chosen, SITE, NOW, links=links)
            assert fast(ext, feed, chosen, links) == expected, (ext, [i.id for i in chosen])


def test_feed_level_date_and_language_follow_the_items() -> None:
    rendered = [fragments.render_item(i) for i in corpus()[:2]]
    frame = fragments.frame_for(FEED, SITE, rendered, NOW)
    assert frame.updated == T - timedelta(hours=1) and frame.language == "en"
    assert fragments.frame_for(FEED, SITE, [], NOW).updated == NOW


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


def test_json_feed_is_laid_out_as_json_dumps_would() -> None:
    for links in LINKS:
        data = render_json(FEED, corpus(), SITE, NOW, links=links)
        document = json.loads(data)
        assert data == (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def test_an_item_the_reference_writer_refuses_is_refused() -> None:
    untitled = item(1, title="", summary="", content="")
    with pytest.raises(PublishError):
        fragments.render_item(untitled)
    with pytest.raises(PublishError):
        render_atom(FEED, [untitled], SITE, NOW)


def test_rfc2822_dates_are_utc_in_the_c_locale() -> None:
    assert fragments.rfc2822(datetime(2024, 1, 7, 1, 2, 3, tzinfo=ZoneInfo("Europe/Minsk"))) \
        == "Sat, 06 Jan 2024 22:02:03 +0000"


def test_entries_of_the_current_documents_are_reused_byte_for_byte() -> None:
    from syndicator.publish.entries import ENTRIES

    items = corpus()
    ENTRIES.clear()
    for render in RENDERERS.values():
        render(FEED, items, SITE, NOW)       # fills the cache, as a current document does
        render(FEED, items, SITE, NOW)
    for item in items:
        assert fragments.render_item_reusing(item) == fragments.render_item(item)
