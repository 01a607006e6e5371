"""Authors (issue 22, finding 9): `article:author` when it is a name, JSON-LD `author.name`
(an object or a list), `<meta name=author>`, microdata, `rel=author` and bylines; a social
handle (`twitter:creator`, `@BBCWorld`) is never the byline unless it is all there is, and
then it keeps its `@`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syndicator.demo.server import SiteServer
from syndicator.extract import extract_article
from syndicator.model import Page
from syndicator.pipeline import run_source
from tests.test_dates_wild import _app

URL = "https://news.example/world/story-1"


def _page(head: str, body: str = "<p>Text of the story.</p>") -> Page:
    html = (f"<!doctype html><html lang='en'><head><title>Story</title>{head}</head>"
            f"<body><article><h1>Story</h1>{body}</article></body></html>")
    return Page(url=URL, final_url=URL, status=200, text=html, encoding="utf-8",
                content_type="text/html")


def _ld(author: object) -> str:
    data = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Story",
            "author": author}
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


TWITTER = '<meta name="twitter:creator" content="@BBCWorld">'
PROFILE = '<meta property="article:author" content="https://www.facebook.com/bbcnews">'


@pytest.mark.parametrize(("head", "body", "expected"), [
    # the handle comes first in the page, the name in article:author
    (TWITTER + '<meta property="article:author" content="BBC News">', "", "BBC News"),
    # article:author is a profile URL: the byline on the page names the author
    (TWITTER + PROFILE, '<p class="byline">By <a rel="author" href="/p/jd">Jane Doe</a></p>',
     "Jane Doe"),
    (TWITTER + PROFILE, '<div class="byline">By Jane Doe</div><p>Text.</p>', "Jane Doe"),
    # a JSON-LD author that is only a handle gives way to a name elsewhere
    (TWITTER + _ld({"@type": "Person", "name": "@BBCWorld"})
     + '<meta name="author" content="John Smith">', "", "John Smith"),
    # JSON-LD author.name: one object, a list, an organisation
    (TWITTER + _ld({"@type": "Person", "name": "Ann Lee"}), "", "Ann Lee"),
    (TWITTER + _ld([{"@type": "Person", "name": "Ann Lee"},
                    {"@type": "Person", "name": "Bo Chen"}]), "", "Ann Lee, Bo Chen"),
    (TWITTER + _ld({"@type": "NewsMediaOrganization", "name": "BBC News"}), "", "BBC News"),
    # microdata
    (TWITTER, '<span itemprop="author" itemscope itemtype="https://schema.org/Person">'
              '<span itemprop="name">Mia Park</span></span>', "Mia Park"),
    # the handle is all there is: shown as the handle, with its @
    (TWITTER + PROFILE, "", "@BBCWorld"),
    ('<meta name="twitter:creator" content="BBCWorld">', "", "@BBCWorld"),
])
def test_the_byline_is_a_name_and_a_handle_only_when_nothing_else(head: str, body: str,
                                                                    expected: str) -> None:
    assert extract_article(_page(head, body), None).author == expected


def test_no_author_anywhere_is_none() -> None:
    assert extract_article(_page("<meta name='description' content='x'>"), None).author is None


def test_stored_item_has_the_article_author_not_the_twitter_handle(tmp_path: Path) -> None:
    (tmp_path / "site" / "world").mkdir(parents=True)
    root = tmp_path / "site"
    (root / "index.html").write_text(
        '<html><body><div class="card"><a href="/world/story-1">Story</a></div></body></html>',
        encoding="utf-8")
    (root / "world" / "story-1").write_text(
        _page(TWITTER + PROFILE, '<p class="byline">By <a rel="author" href="/p/jd">'
                                 "Jane Doe</a></p><p>Text of the story.</p>").text,
        encoding="utf-8")
    sources = "  - id: news\n    url: ${SITE}\n    list: {item: div.card}\n"
    with SiteServer(root) as server, _app(server, tmp_path, sources) as app:
        assert run_source(app, app.config.sources[0]).ok
        (item,) = app.store.latest(["news"], limit=10)
    assert item.author == "Jane Doe"
