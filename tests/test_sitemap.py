"""Sitemap sources: parsing (news/image extensions, indexes, gzip, unsafe XML) and a real run."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from syndicator.app import make_app
from syndicator.config import parse_config
from syndicator.demo import demo_site_root
from syndicator.demo.server import SiteServer
from syndicator.errors import ExtractError, UnsafeDocument
from syndicator.extract import parse_sitemap
from syndicator.model import Page
from syndicator.pipeline import run_source
from tests.conftest import DATA

URLSET = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <url>
    <loc>/en/a.html</loc>
    <lastmod>2025-10-02T10:00:00+03:00</lastmod>
    <news:news>
      <news:publication><news:name>Office</news:name><news:language>en</news:language>
      </news:publication>
      <news:publication_date>2025-10-01T14:30:00+03:00</news:publication_date>
      <news:title>A  story</news:title>
    </news:news>
    <image:image><image:loc>/img/a.jpg</image:loc></image:image>
  </url>
  <url><loc>https://site.example/en/b.html</loc></url>
  <url><lastmod>2025-01-01</lastmod></url>
</urlset>
"""


def page(body: bytes, url: str = "https://site.example/sitemap.xml") -> Page:
    return Page(url=url, final_url=url, status=200, text=body.decode("utf-8", "replace"),
                encoding="utf-8", content_type="application/xml", raw=body)


def test_urlset_with_news_and_image_extensions() -> None:
    sitemap = parse_sitemap(page(URLSET.encode()))
    assert sitemap.sitemaps == ()
    first, second = sitemap.articles
    assert first.url == "https://site.example/en/a.html"
    assert first.title == "A story"
    assert first.dates == ("2025-10-01T14:30:00+03:00",)
    assert first.updated == "2025-10-02T10:00:00+03:00"
    assert first.image == "https://site.example/img/a.jpg"
    assert first.language == "en"
    assert second.url == "https://site.example/en/b.html" and second.title is None


def test_index_lists_children_newest_first_and_gzip_is_read() -> None:
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>/old.xml</loc><lastmod>2024-01-01</lastmod></sitemap>
      <sitemap><loc>/new.xml.gz</loc><lastmod>2025-10-01</lastmod></sitemap>
    </sitemapindex>"""
    sitemap = parse_sitemap(page(gzip.compress(index)))
    assert sitemap.sitemaps == ("https://site.example/new.xml.gz", "https://site.example/old.xml")


@pytest.mark.parametrize("body, error", [
    (b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY a "aaaa">]><urlset>&a;</urlset>',
     UnsafeDocument),
    (b"<html><body>not a sitemap</body></html>", ExtractError),
    (b"<urlset><url><loc>unclosed", ExtractError),
])
def test_bad_sitemaps_are_refused_clearly(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_sitemap(page(body))


def test_sitemap_source_fetches_the_newest_articles_and_reads_their_metadata(
        tmp_path: Path) -> None:
    expected = [row for row in json.loads((DATA / "office" / "expected.json").read_text())
                if row["source"] == "office-ru"]
    expected.sort(key=lambda row: row["published"], reverse=True)
    urls = "".join(f"<url><loc>{row['url']}</loc><lastmod>{row['published']}</lastmod></url>"
                   for row in reversed(expected))   # oldest first: the order must not matter
    index = ('<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             "<sitemap><loc>/sitemaps/ru.xml</loc></sitemap></sitemapindex>")
    site = tmp_path / "site"
    (site / "sitemaps").mkdir(parents=True)
    (site / "sitemap_index.xml").write_text(index)
    (site / "sitemaps" / "ru.xml").write_text(
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>')
    for part in ("ru", "wp-content", "robots.txt"):
        source = demo_site_root() / part
        target = site / part
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.write_bytes(source.read_bytes())
    with SiteServer(site) as server:
        base = server.url.rstrip("/")
        config = parse_config(f"""
timezone: Europe/Minsk
fetch: {{delay: 0s, allow_private: true}}
sources:
  - {{id: ru-map, type: sitemap, url: "{server.url}sitemap_index.xml", language: ru,
      max_items: 3}}
""", base_dir=tmp_path)
        with make_app(config) as app:
            result = run_source(app, config.sources[0])
            items = app.store.latest(["ru-map"], limit=10)
    assert result.ok, result.errors
    assert (result.pages, result.new) == (2 + 3, 3)
    newest = expected[:3]
    assert [i.url for i in items] == [base + row["url"] for row in newest]
    for item, row in zip(items, newest, strict=True):
        assert item.title == row["title"]   # from the page's JSON-LD / OpenGraph
        assert item.published == datetime.fromisoformat(row["published"].replace("Z", "+00:00"))
        assert item.content and "Last news" not in item.content


def test_hreflang_alternates_in_a_sitemap_are_translation_claims(tmp_path: Path) -> None:
    """`<xhtml:link rel="alternate" hreflang>` inside `<url>` names the page's versions:
    two pages naming each other are one story, also when the translation and the links
    come a run later; a decoy naming one of them is not."""
    site = tmp_path / "site"
    for path, lang, title in [("en/vote.html", "en", "The vote is counted"),
                              ("ru/vote.html", "ru", "Голоса подсчитаны"),
                              ("en/decoy.html", "en", "An unrelated story")]:
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_text(
            f'<!doctype html><html lang="{lang}"><head><title>{title}</title></head><body>'
            f'<h1>{title}</h1><time datetime="2026-11-01T09:00:00Z">1 Nov</time>'
            f'<div class="body"><p>{title}: the story.</p></div></body></html>',
            encoding="utf-8")

    def alternates(*pairs: tuple[str, str]) -> str:
        return "".join(f'<xhtml:link rel="alternate" hreflang="{lang}" href="/{path}"/>'
                       for lang, path in pairs)

    vote = (("en", "en/vote.html"), ("ru", "ru/vote.html"), ("x-default", "en/vote.html"))
    (site / "first.xml").write_text(
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>/en/vote.html</loc></url></urlset>", encoding="utf-8")
    (site / "sitemap.xml").write_text(
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:xhtml="http://www.w3.org/1999/xhtml">'
        f"<url><loc>/en/vote.html</loc>{alternates(*vote)}</url>"
        f"<url><loc>/ru/vote.html</loc>{alternates(*vote)}</url>"
        f'<url><loc>/en/decoy.html</loc>{alternates(("ru", "ru/vote.html"))}</url>'
        "</urlset>", encoding="utf-8")
    parsed = parse_sitemap(page((site / "sitemap.xml").read_bytes()))
    assert parsed.articles[0].translations == (
        ("en", "https://site.example/en/vote.html"), ("ru", "https://site.example/ru/vote.html"))
    with SiteServer(site) as server:
        base = server.url
        first, later = (parse_config(f"""
timezone: UTC
fetch: {{delay: 0s, allow_private: true}}
sources:
  - {{id: map, type: sitemap, url: "{base}{name}"}}
""", base_dir=tmp_path) for name in ("first.xml", "sitemap.xml"))
        with make_app(first) as app:
            assert run_source(app, first.sources[0]).new == 1
        with make_app(later) as app:
            result = run_source(app, later.sources[0])
            items = {i.url.removeprefix(base): i for i in app.store.latest(["map"], limit=10)}
            versions = app.store.translations_of(i.id for i in items.values())
    assert result.ok, result.errors
    assert {path: [v.url.removeprefix(base) for v in versions.get(item.id, ())]
            for path, item in items.items()} == {
        "en/vote.html": ["ru/vote.html"], "ru/vote.html": ["en/vote.html"], "en/decoy.html": []}
