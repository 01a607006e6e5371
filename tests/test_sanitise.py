"""Tracking pixels and hidden images, in content, item images, enclosures and JSON images."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syndicator.extract import drop_tracking_pixels, extract_structured, parse_html
from syndicator.extract.feed import parse_feed
from syndicator.extract.html import element_image, select_one
from syndicator.model import Article, Page
from syndicator.normalise import NormaliseContext, normalise_article
from syndicator.sanitise import length_px, sanitize_content, sanitize_html, tiny_file

BASE = "https://news.example/story"
REAL = '<img src="https://cdn.example/photo.jpg" width="800" height="600">'


@pytest.mark.parametrize("img", [
    '<img src="/p.gif" width="1" height="1">',
    '<img src="/p.gif" height="1">',                       # one side alone is enough
    '<img src="/p.gif" width="1">',
    '<img src="/p.gif" width="1px" height="1px">',
    '<img src="/p.gif" width="0">',
    '<img src="/p.gif" width="1pt" height="600">',
    '<img src="/p.gif" height="0.1em">',
    '<img src="/p.gif" width=" 1.0 ">',
    '<img src="/p.gif" style="width:1px;height:1px">',
    '<img src="/p.gif" style="WIDTH: 0 !important">',
    '<img src="/p.gif" style="height:.01in">',
    '<img src="/p.gif" style="max-width:1px">',
    '<img src="/p.gif" style="display:none">',
    '<img src="/p.gif" style="visibility: hidden">',
    '<img src="/p.gif" style="opacity:0">',
    '<img src="/p.gif" hidden>',
    '<img src="/p.gif" hidden="hidden" width="600" height="400">',
    # what a browser reads as one pixel: leading digits of a dimension attribute
    '<img src="/p.gif" width="1x" height="1x">',
    '<img src="/p.gif" width="1e0">',
    '<img src="/p.gif" height="1abc">',
    '<img src="/p.gif" width="1,0">',
    '<img src="/p.gif" width="1 0">',
    '<img src="/p.gif" width="1/">',
    '<img src="/p.gif" width="\u00a01">',
    '<img src="/p.gif" style="width:calc(1px)">',
    '<img src="/p.gif" style="zoom:0">',
    '<img src="/p.gif" style="transform:scale(0)">',
    '<img src="/p.gif" style="transform: scale(1, 0.01)">',
    '<img src="/p.gif" style="clip-path:inset(50%)">',
])
def test_pixels_and_hidden_images_are_dropped(img: str) -> None:
    result = sanitize_content(f"<p>Text{img}</p>{REAL}", base_url=BASE)
    assert result.html == f"<p>Text</p>{REAL}"
    assert result.pixels == {"https://news.example/p.gif"}


@pytest.mark.parametrize("img", [
    '<img src="/a.jpg" width="100%" height="auto">',
    '<img src="/a.jpg" style="width:50%;color:red">',
    '<img src="/a.jpg" width="3" height="300">',
    '<img src="/a.jpg" style="width: 20em">',
    '<img src="/a.jpg" width="10vw">',
    '<img src="/a.jpg" style="transform:scale(0.5);clip-path:circle(50%)">',
])
def test_real_images_stay_and_their_style_does_not(img: str) -> None:
    out = sanitize_html(img, base_url=BASE)
    assert out.startswith('<img src="https://news.example/a.jpg"')
    assert "style" not in out and "hidden" not in out


@pytest.mark.parametrize("container", [
    '<div style="display:none">{}</div>',
    '<div hidden><span>{}</span></div>',
    '<section style="visibility:hidden"><div><div>{}</div></div></section>',
])
def test_hidden_containers_go_with_their_images(container: str) -> None:
    """A block the page hides is not shown in the feed either (once its style is stripped
    it would show), and the images in it are pixels."""
    inner = '<p>secret</p><img src="/p.gif" width="600"><div>more</div>'
    result = sanitize_content(f"<p>Before</p>{container.format(inner)}<p>After</p>{REAL}",
                              base_url=BASE)
    assert result.html == f"<p>Before</p><p>After</p>{REAL}"
    assert result.pixels == {"https://news.example/p.gif"}


def test_lengths_in_any_unit() -> None:
    assert length_px("1pt") == pytest.approx(4 / 3)
    assert length_px("0.1em") == pytest.approx(1.6)
    assert length_px("2mm") == pytest.approx(7.56, abs=0.01)
    assert length_px(1) == 1.0
    assert length_px("50%") is None and length_px("auto") is None and length_px(True) is None
    assert [tiny_file(v) for v in ("43", 68, "0", "1", "52340", None)] == [
        True, True, False, False, False, False]


def _context() -> NormaliseContext:
    return NormaliseContext(source_id="s", language="en", timezone="UTC", date_format=None,
                            now=datetime(2026, 3, 2, 12, tzinfo=UTC))


def test_an_item_image_the_content_shows_to_be_a_pixel_is_dropped() -> None:
    article = Article(url=BASE, title="T", image="https://track.example/o.gif?u=1&x=2",
                      content='<p>Body<img src="https://track.example/o.gif?u=1&amp;x=2" '
                              'style="width:1px;height:1px"></p>')
    item = normalise_article(article, _context())
    assert item is not None
    assert item.image is None and "track.example" not in item.content
    kept = normalise_article(Article(url=BASE, title="T", image="/lead.jpg",
                                     content=f"<p>Body</p>{REAL}"), _context())
    assert kept is not None and kept.image == "https://news.example/lead.jpg"


def _page(url: str, body: str, content_type: str) -> Page:
    return Page(url=url, final_url=url, status=200, text=body, encoding="utf-8",
                content_type=content_type, raw=body.encode("utf-8"))


def test_feed_enclosures_and_media_that_are_pixels_are_not_the_item_image() -> None:
    rss = ('<?xml version="1.0"?><rss version="2.0" '
           'xmlns:media="http://search.yahoo.com/mrss/"><channel><title>W</title>'
           '<link>https://news.example/</link>'
           '<item><title>A</title><link>https://news.example/a</link>'
           '<enclosure url="https://track.example/a.gif" length="43" type="image/gif"/></item>'
           '<item><title>B</title><link>https://news.example/b</link>'
           '<media:content url="https://track.example/b.gif" medium="image" width="1" '
           'height="1"/><media:thumbnail url="https://cdn.example/b.jpg" width="640" '
           'height="360"/></item>'
           '<item><title>C</title><link>https://news.example/c</link>'
           '<media:thumbnail url="https://track.example/c.gif" width="1" height="1"/>'
           '<enclosure url="https://cdn.example/c.jpg" length="0" type="image/jpeg"/></item>'
           '</channel></rss>')
    articles = parse_feed(_page("https://news.example/rss", rss, "application/rss+xml"))
    assert [a.image for a in articles] == [None, "https://cdn.example/b.jpg",
                                           "https://cdn.example/c.jpg"]


def test_open_graph_and_json_ld_images_that_are_pixels_are_skipped() -> None:
    html = ('<html><head><title>T</title>'
            '<meta property="og:image" content="https://track.example/og.gif">'
            '<meta property="og:image:width" content="1">'
            '<meta property="og:image:height" content="1">'
            '<meta name="twitter:image" content="https://cdn.example/card.jpg">'
            '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "T", '
            '"image": [{"@type": "ImageObject", "url": "https://track.example/ld.gif", '
            '"width": 1, "height": 1}]}</script></head><body></body></html>')
    article = extract_structured(parse_html(html), BASE)
    assert article.image == "https://cdn.example/card.jpg"


def test_listing_and_page_markup_judge_pixels_the_same_way() -> None:
    soup = parse_html('<div><img src="/a.gif" height="1pt"><img src="/b.gif" hidden>'
                      '<img src="/c.gif" style="display: none"><img src="/ok.jpg" width="640">'
                      '</div>')
    assert drop_tracking_pixels(soup) == 3
    # A card whose <img> is a pixel has no image from it (the background still counts).
    card = parse_html('<article><img src="/t.gif" width="1" height="1">'
                      '<div style="background-image: url(/lead.jpg)"></div></article>')
    assert element_image(select_one(card, "article")) == "/lead.jpg"
