"""Every URL published percent-encoded as an IRI→URI (normalise.uri) and every title plain
text, in every output: RSS, Atom, JSON Feed, HTML pages and push links, from feeds served on
loopback that carry spaces, quotes, angle brackets and non-ASCII in their item URLs and
markup or twice-escaped entities in their titles."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from syndicator.cli import build_and_report, run_sources
from syndicator.config import TelegramTarget
from syndicator.model import Article
from syndicator.normalise import (
    NormaliseContext,
    canonical_url,
    item_id,
    merge_with_stored,
    normalise_article,
    uri,
)
from syndicator.push.render import telegram_post
from syndicator.runlog import article_key
from syndicator.sanitise import clean_text, sanitize_html
from syndicator.uris import uri_key
from syndicator.web.pages import render_preview
from tests.conftest import serve_site

# What RFC 3986 lets a URI contain, "%" only as the start of an escape.
URI = re.compile(r"(?:[A-Za-z0-9\-._~:/?#@!$&'()*+,;=]|%[0-9A-F]{2})+")
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("iri, expected", [
    ("https://news.example/insert value here", "https://news.example/insert%20value%20here"),
    ('https://news.example/a"b<c>d', "https://news.example/a%22b%3Cc%3Ed"),
    ("https://news.example/a{b}|c^d`e\\f", "https://news.example/a%7Bb%7D%7Cc%5Ed%60e%5Cf"),
    ("https://пример.рф/новости?q=тест",
     "https://xn--e1afmkfd.xn--p1ai/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8"
     "?q=%D1%82%D0%B5%D1%81%D1%82"),
    ("https://straße.example:8443/", "https://xn--strae-oqa.example:8443/"),
    ("https://news.example/%D0%BD%20x?a=%2F", "https://news.example/%D0%BD%20x?a=%2F"),
    ("https://news.example/100%/50%zz", "https://news.example/100%25/50%25zz"),
    ("https://news.example/list?tags[]=a&b=1", "https://news.example/list?tags%5B%5D=a&b=1"),
    ("http://[::1]:8080/a b", "http://[::1]:8080/a%20b"),
    ("https://news.example/ok/path?x=1&y=2#top", "https://news.example/ok/path?x=1&y=2#top"),
])
def test_uri(iri: str, expected: str) -> None:
    assert uri(iri) == expected
    assert uri(expected) == expected                  # already a URI: unchanged


@pytest.mark.parametrize("spellings, key", [
    (["https://news.example/café", "https://news.example/caf%C3%A9",
      "https://news.example/caf%c3%a9", "https://news.example/%63af%C3%A9",
      "https://news.example/ca%66%c3%A9"], "https://news.example/caf%C3%A9"),
    (["https://news.example/%7euser/%41-%2d%2e%5F%30?a=%2f%3d#%c3%a9",
      "https://news.example/~user/A--._0?a=%2F%3D#é"],
     "https://news.example/~user/A--._0?a=%2F%3D#%C3%A9"),
    (["https://news.example/100%/x y"], "https://news.example/100%25/x%20y"),
])
def test_every_spelling_of_a_url_has_one_key(spellings: list[str], key: str) -> None:
    # RFC 3986 §6.2.2: hex in upper case, unreserved characters unescaped; reserved ones
    # (%2F, %3D) stay escaped, as they mean something else bare.
    assert {uri_key(spelling) for spelling in spellings} == {key}
    # What is published keeps the spelling's escapes as they are.
    assert uri("https://news.example/caf%c3%a9") == "https://news.example/caf%c3%a9"


@pytest.mark.parametrize("raw, text", [
    ("Hello <b>world</b>", "Hello world"),
    ("<del>Old</del> <ins>new</ins> <big>deal</big>", "Old new deal"),
    ("<center>Centred</center>", "Centred"),
    ("A &amp;amp; B", "A &amp; B"),                   # entities decoded exactly once
    ("Fish &amp; chips", "Fish & chips"),
    ("&lt;b&gt; is bold", "<b> is bold"),
    ("Statement on <rights>", "Statement on <rights>"),  # not a tag: text
    ("5 < 6 & 7 > 3", "5 < 6 & 7 > 3"),
])
def test_titles_are_plain_text(raw: str, text: str) -> None:
    assert clean_text(raw) == text


def test_urls_in_content_are_published_encoded() -> None:
    cleaned = sanitize_html('<p><a href="/a b/новости?q=&quot;x&quot;">x</a>'
                            '<img src="фото 1.jpg" srcset="/ä.jpg 1x, /c%20d.jpg 2x"></p>',
                            base_url="https://news.example/p/")
    assert 'href="https://news.example/a%20b/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8' \
           '?q=%22x%22"' in cleaned
    assert 'src="https://news.example/p/%D1%84%D0%BE%D1%82%D0%BE%201.jpg"' in cleaned
    assert 'srcset="https://news.example/%C3%A4.jpg 1x, https://news.example/c%20d.jpg 2x"' \
           in cleaned


def test_item_url_is_published_encoded_and_a_stored_item_keeps_its_id() -> None:
    ctx = NormaliseContext(source_id="s", language="en", timezone="UTC", date_format=None,
                           now=NOW)
    article = Article(url="https://news.example/новости/a b", title="T",
                      image="https://news.example/img/фото 1.jpg")
    item = normalise_article(article, ctx)
    assert item is not None
    assert item.url == ("https://news.example/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8/"
                        "a%20b")
    assert item.image == "https://news.example/img/%D1%84%D0%BE%D1%82%D0%BE%201.jpg"
    # The id is made from the key every spelling of the link shares.
    assert item.id == item_id(uri_key(article.url))
    # A copy stored with the old, unencoded URL (and the id made from it) keeps its id; its
    # URL is rewritten once, without looking updated.
    stored = item.__class__(**{**item.__dict__, "url": canonical_url(article.url),
                               "id": item_id(canonical_url(article.url))})
    merged = merge_with_stored(stored, item, timezone="UTC", now=NOW)
    assert merged is not None and merged.url == item.url and merged.updated == stored.updated
    assert merged.id == stored.id
    assert merge_with_stored(merged, item, timezone="UTC", now=NOW) is None


@pytest.mark.parametrize("identity", [None, "#post 1", "tag:news.example,2026:пост 1"])
def test_stored_items_are_looked_up_by_their_published_url(identity: str | None) -> None:
    ctx = NormaliseContext(source_id="s", language="en", timezone="UTC", date_format=None,
                           now=NOW)
    card = Article(url="https://news.example/новости/a b?x=<1>", title="T", identity=identity)
    item = normalise_article(card, ctx)
    assert item is not None and URI.fullmatch(item.url)
    assert article_key(card) == item.url


BAD_PATHS = ("insert value here", 'say "hi"', "a<b>c", "новости/статья")


def _rss() -> str:
    items = "".join(
        f"<item><title>RSS {n} &lt;em&gt;marked&lt;/em&gt; A &amp;amp;amp; B</title>"
        f"<link>${{SITE}}rss/{path.replace('&', '&amp;').replace('<', '&lt;')}</link>"
        f"<guid isPermaLink=\"false\">rss-{n}</guid><description>Body {n}</description>"
        "<pubDate>Mon, 02 Mar 2026 10:00:00 +0000</pubDate></item>"
        for n, path in enumerate(BAD_PATHS))
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>R'
            f"</title><link>${{SITE}}</link><description>d</description>{items}"
            "</channel></rss>")


def _json_feed() -> dict[str, object]:
    return {"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [
        {"id": f"j{n}", "url": f"${{SITE}}json/{path}",
         "title": f"JSON {n} <del>old</del> <b>bold</b> A &amp;amp; B",
         "content_html": f'<p>Body {n} <a href="${{SITE}}json/{html.escape(path)}/more">more'
                         f'</a> <img src="/img/{html.escape(path)}.png" alt="x"></p>',
         "date_published": "2026-03-02T10:00:00Z",
         "image": f"${{SITE}}img/{path}.jpg"}
        for n, path in enumerate(BAD_PATHS)]}


def test_every_output_carries_uris_and_plain_titles(tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    (tmp_path / "config.yaml").write_text(
        "timezone: UTC\nfetch: {delay: 0s, allow_private: true}\n"
        "sources:\n"
        '  - {id: rss, type: feed, url: "${SITE_URL}feed.xml"}\n'
        '  - {id: json, type: feed, url: "${SITE_URL}feed.json"}\n'
        "feeds:\n  - {id: all, title: All, sources: [rss, json], limit: 50}\n")
    with serve_site(root, tmp_path / "config.yaml", "SITE_URL", tmp_path) as site:
        (root / "feed.xml").write_text(_rss().replace("${SITE}", site.url))
        (root / "feed.json").write_text(
            json.dumps(_json_feed(), ensure_ascii=False).replace("${SITE}", site.url))
        with site.app() as app:
            results = run_sources(app, ["rss", "json"], echo=lambda line: None)
            assert all(r.ok for r in results), [r.errors for r in results]
            build_and_report(app, echo=lambda line: None)
            stored = app.store.latest(["rss", "json"], limit=50)
            output = site.config.output_path
            target = TelegramTarget(type="telegram", id="tg", feeds=("all",), chat_id=1, token="t")
            posts = [telegram_post(target, site.config, item) for item in stored]
            page = render_preview(site.config, site.config.feeds[0], stored,
                                  {"style.css": "style.css", "copy.js": "copy.js"}).decode()
    assert len(stored) == 2 * len(BAD_PATHS)
    for item in stored:
        assert URI.fullmatch(item.url), item.url
        assert item.image is None or URI.fullmatch(item.image), item.image
        assert "<" not in item.title and "&amp;amp;" not in item.title, item.title
    titles = {item.title for item in stored}
    assert "JSON 0 old bold A &amp; B" in titles
    # RSS titles may be HTML: the XML's "&lt;em&gt;" is a tag there, its "&amp;amp;amp;"
    # an HTML "&amp;amp;", decoded once.
    assert "RSS 0 marked A &amp; B" in titles
    for ext in ("rss", "atom"):
        parsed = feedparser.parse((output / f"all.{ext}").read_bytes())
        assert not parsed.bozo, parsed.get("bozo_exception")
        links = [entry.link for entry in parsed.entries]
        assert links == [item.url for item in stored]
        assert {entry.title for entry in parsed.entries} == titles
        enclosures = [link.href for entry in parsed.entries for link in entry.links
                      if link.get("rel") == "enclosure"]
        assert enclosures and all(URI.fullmatch(href) for href in enclosures)
    data = json.loads((output / "all.json").read_text())
    assert [i["url"] for i in data["items"]] == [item.url for item in stored]
    assert all(URI.fullmatch(i["image"]) for i in data["items"] if "image" in i)
    inside = [html.unescape(u) for i in data["items"]
              for u in re.findall(r'(?:href|src)="([^"]*)"', i.get("content_html", ""))]
    assert len(inside) == 2 * len(BAD_PATHS) and all(URI.fullmatch(u) for u in inside), inside
    hrefs = re.findall(r'(?:href|src)="(http[^"]*)"', page)
    assert {item.url for item in stored} <= set(hrefs)
    assert all(URI.fullmatch(href.replace("&amp;", "&")) for href in hrefs), hrefs
    for post, item in zip(posts, stored, strict=True):
        assert f'href="{item.url}"' in post.parts[0]
        assert post.photo is None or URI.fullmatch(post.photo)
