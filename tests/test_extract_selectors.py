"""html.py helpers and selector-driven extraction of listing and article pages."""

from __future__ import annotations

import pytest

from syndicator.config import ArticleSelectors, ListSelectors
from syndicator.errors import ExtractError, InvalidSelector
from syndicator.extract import (
    compile_selector,
    drop_tracking_pixels,
    extract_article,
    extract_listing,
    parse_html,
    remove_selectors,
    select_value,
    select_values,
    split_selector,
)
from syndicator.extract.html import attr, find_all, select_all, select_one
from syndicator.model import Page

SITE = "https://news.example"


def make_page(html: str, url: str = f"{SITE}/news/") -> Page:
    return Page(url=url, final_url=url, status=200, text=html, encoding="utf-8",
                content_type="text/html", raw=html.encode("utf-8"))


# --- selector syntax -------------------------------------------------------------------------

@pytest.mark.parametrize(("selector", "expected"), [
    ("h2.title", ("h2.title", None)),
    ("a.more@href", ("a.more", "href")),
    ("  a.more @ href ", ("a.more", "href")),
    ("@href", ("", "href")),
    ("img@data-src", ("img", "data-src")),
    ('a[href*="@"]', ('a[href*="@"]', None)),
    ('a[href*="@"]@href', ('a[href*="@"]', "href")),
    ("a[data-x='x@y']@data-x", ("a[data-x='x@y']", "data-x")),
    ('a[title="a]@b"]', ('a[title="a]@b"]', None)),
    ("div:not([data-a='@'])", ("div:not([data-a='@'])", None)),
    ("meta[property='og:image']@content", ("meta[property='og:image']", "content")),
])
def test_split_selector(selector: str, expected: tuple[str, str | None]) -> None:
    assert split_selector(selector) == expected


def test_select_value_text_attr_and_bracket_at() -> None:
    soup = parse_html("""
      <div class="card">
        <h2 class="t">  Breaking:
           <b>big</b>   news </h2>
        <p>one</p><p>two</p>
        <a href="mailto:desk@news.example">Mail us</a>
        <a href="/x" class="more">More</a>
      </div>""")
    assert select_value(soup, "h2.t") == "Breaking: big news"
    assert select_value(soup, "a.more@href") == "/x"
    assert select_value(soup, 'a[href*="@"]') == "Mail us"
    assert select_value(soup, 'a[href*="@"]@href') == "mailto:desk@news.example"
    assert select_value(soup, ".card") == "Breaking: big news one two Mail us More"
    assert select_value(soup, "h3") is None
    assert select_value(soup, "a.more@title") is None
    assert select_values(soup, "p") == ["one", "two"]
    anchor = select_one(soup, "a.more")
    assert anchor is not None
    assert select_value(anchor, "@href") == "/x"


def test_select_value_empty_text_is_none_and_skips_to_next_match() -> None:
    soup = parse_html("<span class='d'>  </span><span class='d'>5 May</span>")
    assert select_value(soup, "span.d") == "5 May"
    assert select_value(parse_html("<span class='d'> </span>"), "span.d") is None


def test_img_without_attr_gives_the_real_source() -> None:
    soup = parse_html("""
      <img id="a" src="/a.jpg">
      <img id="b" src="data:image/gif;base64,R0lGOD" data-src="/b.jpg">
      <img id="c" src="/img/placeholder.png" data-lazy-src="/c.jpg">
      <img id="d" srcset="/d-small.jpg 320w, /d-big.jpg 1024w">
      <img id="e">""")
    assert select_value(soup, "#a") == "/a.jpg"
    assert select_value(soup, "#b") == "/b.jpg"
    assert select_value(soup, "#c") == "/c.jpg"
    assert select_value(soup, "#d") == "/d-small.jpg"
    assert select_value(soup, "#e") is None
    assert select_value(soup, "#b@src") == "data:image/gif;base64,R0lGOD"


def test_invalid_selector_is_an_extract_error() -> None:
    with pytest.raises(ExtractError, match="invalid CSS selector"):
        select_value(parse_html("<p>x</p>"), "p[[")
    with pytest.raises(InvalidSelector, match=r"^invalid CSS selector 'x@@href': more than one"):
        select_value(parse_html("<p>x</p>"), "x@@href")
    assert compile_selector('a[href*="@"]@href') == ('a[href*="@"]', "href")


def test_drop_tracking_pixels_and_remove_selectors() -> None:
    soup = parse_html("""<div id="c">
      <img src="/photo.jpg" width="640" height="480">
      <img src="https://t.example/p.gif" width="1" height="1">
      <img src="https://t.example/q.gif" style="width:0px; height:0px">
      <img src="https://t.example/r.gif" height="1px">
      <div class="ad"><div class="ad inner">x</div></div><p>text</p></div>""")
    assert drop_tracking_pixels(soup) == 3
    assert [attr(img, "src") for img in find_all(soup, "img")] == ["/photo.jpg"]
    assert remove_selectors(soup, [".ad", "p.missing"]) == 1
    assert select_all(soup, ".ad") == []
    assert select_value(soup, "#c") == "text"


# --- listing pages ---------------------------------------------------------------------------

LISTING = """<!doctype html><html lang="en-GB"><head><title>News</title></head><body>
<nav><a href="/">Home</a></nav>
<div class="card">
  <a class="title" href="/news/2024/first-story">  First
     story </a>
  <time datetime="2024-05-06T10:30:00+03:00">6 May 2024, 10:30</time>
  <p class="lead">The first lead.</p>
  <img src="/img/first.jpg">
  <span class="author">Ann Writer</span>
  <a class="cat" href="/c/politics">Politics</a> <a class="cat" href="/c/world">World</a>
</div>
<div class="card">
  <a class="title" href="second-story?id=2#comments">Second story</a>
  <span class="date">yesterday</span>
</div>
<div class="card"><span class="title">A teaser without a link</span></div>
<div class="card"><a class="title" href="javascript:void(0)">Script link</a></div>
<div class="card"><a href="https://other.example/third">Third story</a></div>
<div class="pager"><a class="next" href="?page=2">Next »</a></div>
</body></html>"""

LIST_SELECTORS = ListSelectors(item=".card", link="a.title", title="a.title",
                               date="time, .date", summary=".lead", image="img",
                               author=".author", category=".cat", next=".pager a.next")


def test_listing_fields_pagination_and_missing_fields() -> None:
    listing = extract_listing(make_page(LISTING), LIST_SELECTORS)
    # The link-less teaser and the javascript: link are skipped; the other card has no
    # `a.title`, so it has no link either.
    assert [a.url for a in listing.articles] == [
        f"{SITE}/news/2024/first-story",
        f"{SITE}/news/second-story?id=2#comments",
    ]
    first, second = listing.articles
    assert first.title == "First story"
    # <time>: its datetime attribute first, then the visible text
    assert first.dates == ("2024-05-06T10:30:00+03:00", "6 May 2024, 10:30")
    assert first.summary == "The first lead."
    assert first.image == f"{SITE}/img/first.jpg"
    assert first.author == "Ann Writer"
    assert first.categories == ("Politics", "World")
    assert first.language == "en"
    # Missing fields stay empty for the pipeline to count.
    assert second.title == "Second story"
    assert second.dates == ("yesterday",)
    assert second.summary is None and second.image is None and second.author is None
    assert second.categories == ()
    assert listing.next_url == f"{SITE}/news/?page=2"


def test_listing_without_link_selector_uses_first_anchor_or_the_item_itself() -> None:
    html = """<ul>
      <li class="row"><img src="a.png"><a href="/one">One</a><a href="/other">x</a></li>
      <li class="row">no link here</li></ul>
      <p><a class="story" href="/two" title="Two (title attr)"><img src="t.png"></a></p>"""
    page = make_page(html)
    rows = extract_listing(page, ListSelectors(item="li.row"))
    assert [(a.url, a.title) for a in rows.articles] == [(f"{SITE}/one", "One")]
    stories = extract_listing(page, ListSelectors(item="a.story", image="img"))
    assert [(a.url, a.title, a.image) for a in stories.articles] == [
        (f"{SITE}/two", "Two (title attr)", f"{SITE}/news/t.png")]
    assert stories.next_url is None


def test_relative_urls_resolve_against_base_href_and_final_url() -> None:
    html = """<html><head><base href="/archive/2024/"></head><body>
      <article><h2><a href="may/story.html">Story</a></h2>
        <img data-src="../../img/s.jpg" src="data:image/gif;base64,AAAA"></article>
      <a class="next" href="page/2/">next</a></body></html>"""
    page = Page(url=f"{SITE}/old-listing", final_url=f"{SITE}/listing/", status=200,
                text=html, encoding="utf-8", content_type="text/html")
    listing = extract_listing(page, ListSelectors(item="article", link="h2 a", image="img",
                                                  next="a.next"))
    (story,) = listing.articles
    assert story.url == f"{SITE}/archive/2024/may/story.html"
    assert story.image == f"{SITE}/img/s.jpg"
    assert listing.next_url == f"{SITE}/archive/2024/page/2/"


def test_next_link_pointing_to_the_same_page_is_not_followed() -> None:
    html = '<div class="c"><a href="/a">A</a></div><a class="next" href="/news/#top">next</a>'
    listing = extract_listing(make_page(html), ListSelectors(item=".c", next="a.next"))
    assert listing.next_url is None
    assert len(listing.articles) == 1


def test_link_selector_with_attribute_and_date_attribute() -> None:
    html = """<div class="c" data-url="/from-data">
        <span class="d" data-ts="2024-01-02">2 Jan</span><a href="/ignored">x</a></div>"""
    listing = extract_listing(make_page(html), ListSelectors(item=".c", link="@data-url",
                                                             date=".d@data-ts"))
    (card,) = listing.articles
    assert card.url == f"{SITE}/from-data"
    assert card.dates == ("2024-01-02",)
    assert card.title is None


# --- article pages ---------------------------------------------------------------------------

ARTICLE = """<!doctype html><html lang="ru-RU"><head>
<title>Big story | News</title>
<link rel="canonical" href="/news/2024/big-story">
<meta property="og:image" content="/img/og.jpg">
<meta name="description" content="Meta description.">
<script type="application/ld+json">{"@type": "NewsArticle", "headline": "LD headline",
 "datePublished": "2024-05-06T10:30:00+03:00", "dateModified": "2024-05-07T08:00:00Z"}</script>
</head><body>
<header><nav><a href="/">Home</a></nav></header>
<main>
  <h1 class="headline">Big story</h1>
  <div class="meta"><span class="date">6 мая 2024</span> <span class="by">Ivan</span></div>
  <div class="body">
    <p>First paragraph with a <a href="/related/link">link</a>.</p>
    <script>alert("x")</script><style>p{}</style>
    <img src="/img/in-text.jpg"><img src="https://t.example/px.gif" width="1" height="1">
    <p>Second paragraph.</p>
  </div>
  <div class="share-bar"><a href="https://social.example/share">Share</a></div>
  <section class="last-news"><h3>Last news</h3><ul><li><a href="/x">Other</a></li></ul></section>
</main>
<footer>© News</footer>
</body></html>"""


def test_article_selectors_remove_blocks_even_with_a_wide_content_selector() -> None:
    selectors = ArticleSelectors(title="h1.headline", date=".meta .date", author=".by",
                                 content="main", remove=(".share-bar", ".last-news", "h1"))
    article = extract_article(make_page(ARTICLE, f"{SITE}/news/2024/big-story?utm=x"),
                              selectors)
    assert article.url == f"{SITE}/news/2024/big-story?utm=x"
    # `remove` went first: the h1 is gone, so the title falls back to JSON-LD.
    assert article.title == "LD headline"
    assert article.dates == ("6 мая 2024", "2024-05-06T10:30:00+03:00")
    assert article.updated == "2024-05-07T08:00:00Z"
    assert article.author == "Ivan"
    assert article.content is not None
    assert "Last news" not in article.content and "Share" not in article.content
    assert "Other" not in article.content
    assert "First paragraph" in article.content and "Second paragraph." in article.content
    assert "<script" not in article.content and "<style" not in article.content
    assert "px.gif" not in article.content
    assert f'href="{SITE}/related/link"' in article.content
    assert f'src="{SITE}/img/in-text.jpg"' in article.content
    assert article.summary == "Meta description."
    assert article.image == f"{SITE}/img/og.jpg"
    assert article.canonical == f"{SITE}/news/2024/big-story"
    assert article.language == "ru"


def test_article_content_selector_matching_several_elements_joins_them() -> None:
    html = "<div class='s'><p>One</p><div class='ad'>ad</div><p>Two</p></div>"
    article = extract_article(make_page(html), ArticleSelectors(content=".s p"))
    assert article.content == "<p>One</p>\n<p>Two</p>"


def test_article_guess_picks_the_body_and_skips_related_and_comments() -> None:
    html = """<html><body><main>
      <article>
        <header><h1>Title</h1><p>By someone with a long byline that is not content</p></header>
        <div class="entry-content">
          <p>Real paragraph one, long enough to matter in the scoring of candidates.</p>
          <img class="lazy" src="data:image/gif;base64,AAAA" data-src="/real.jpg">
          <p>Real paragraph two.</p>
          <div class="related-posts"><p>Related: a much longer paragraph that should never
            win the score, padded padded padded padded padded padded padded.</p></div>
        </div>
        <div id="comments"><p>Comment text comment text comment text comment text
          comment text comment text comment text comment text.</p></div>
      </article></main></body></html>"""
    article = extract_article(make_page(html), None)
    assert article.content is not None
    assert "Real paragraph one" in article.content
    assert "Related:" not in article.content and "Comment text" not in article.content
    assert f'src="{SITE}/real.jpg"' in article.content


def test_article_guess_drops_related_blocks_around_the_body() -> None:
    html = """<main><div class="post-content"><p>Body text here.</p></div>
      <aside><p>Aside text that is longer than the body text, long long long long.</p></aside>
      <div class="social-links"><p>Follow us everywhere, long long long long long long.</p></div>
      </main>"""
    article = extract_article(make_page(html), None)
    assert article.content == "<p>Body text here.</p>"


@pytest.mark.parametrize("html", [
    "<html><body><div><p>unclosed <b>bold <i>italic<p>next <table><tr><td>cell",
    "<<<>>> </div></span></html> <p <a href=>x</a> &bogus; &#xFFFFFFFF; \x00 text",
    "<html><head><title>t</title><script>if (a < b) { document.write('</div>') }",
    "<div>" * 5000 + "deep" + "</div>" * 10,
    '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
    '<body><p>xhtml</p></body></html>',
    "",
    "just text, no tags",
    "https://looks.like/a/url",
    "index.html",
    '<a href="http://[::1">bad ipv6</a><img src="http://[bad">',
    '<script type="application/ld+json">{"@graph": ' + "[" * 3000 + "]" * 3000 + "}</script>",
])
def test_hostile_markup_does_not_crash(html: str) -> None:
    page = make_page(html)
    article = extract_article(page, ArticleSelectors(title="h1", content=".body",
                                                     date=".d", remove=(".x",)))
    assert article.url == page.final_url
    listing = extract_listing(page, ListSelectors(item=".card, a", next="a"))
    assert all(a.url.startswith("http") for a in listing.articles)


def test_unclosed_tags_still_yield_content() -> None:
    html = "<div class='body'><p>Para one<p>Para <b>two<p>Three"
    article = extract_article(make_page(html), ArticleSelectors(content=".body"))
    assert article.content is not None
    assert "Para one" in article.content and "Three" in article.content


def test_article_guess_prefers_the_article_over_a_slightly_bigger_main() -> None:
    html = """<main><article><p>The story itself, told in a few words here.</p></article>
      <p>Subscribe!</p></main>"""
    article = extract_article(make_page(html), None)
    assert article.content == "<p>The story itself, told in a few words here.</p>"
