"""Pages decoded as UTF-8 are parsed from their bytes (extract/html.page_markup): every
listing and article of the demo site, and the edge cases, give exactly what parsing the
decoded text gives."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicator.config import ArticleSelectors, load_config
from syndicator.decode import decode_page, markup
from syndicator.demo import demo_config_path, demo_site_root
from syndicator.extract import extract_article, extract_listing
from syndicator.extract.html import page_markup, parse_html
from syndicator.model import Article, Body, Page
from syndicator.normalise import NormaliseContext
from syndicator.workers import read_article, read_body


def _page(raw: bytes, url: str = "https://example.org/a/",
          content_type: str | None = "text/html; charset=utf-8") -> Page:
    return decode_page(Body(url=url, final_url=url, status=200, raw=raw,
                            content_type=content_type))


def _text_only(page: Page) -> Page:
    return replace(page, raw=b"")


SITE = demo_site_root()
PAGES = sorted(SITE.rglob("*.html"))


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(SITE)))
def test_demo_pages_read_the_same_from_bytes_and_from_text(
        path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNDICATOR_DEMO_URL", "https://office.example/")
    config = load_config(demo_config_path())
    source = config.sources[0]
    assert source.list is not None
    page = _page(path.read_bytes(), url=f"https://office.example/{path.relative_to(SITE)}")
    assert page.encoding == "utf-8" and isinstance(page_markup(page), bytes)
    assert isinstance(page_markup(_text_only(page)), str)
    assert extract_article(page, source.article) == extract_article(_text_only(page),
                                                                    source.article)
    assert extract_listing(page, source.list) == extract_listing(_text_only(page), source.list)


@pytest.mark.parametrize("raw", [
    b"\xef\xbb\xbf<html><body><h1>BOM</h1></body></html>",
    b"<?xml version='1.0' encoding='utf-8'?>\n<html><body><h1>XHTML</h1></body></html>",
    b"\xef\xbb\xbf<?xml version='1.0'?><html><body><h1>both</h1></body></html>",
    b"<html><body><h1>bad \xff\xfe bytes</h1></body></html>",
    "<html><head><meta charset='windows-1251'></head><body><h1>Прывітанне</h1></body></html>"
    .encode(),
    b"just words, no markup",
    b"",
], ids=["bom", "xml-declaration", "bom-and-declaration", "invalid-utf8", "meta-says-1251",
        "no-markup", "empty"])
def test_edge_cases_parse_the_same_from_bytes(raw: bytes) -> None:
    page = _page(raw)
    from_bytes, from_text = parse_html(page_markup(page)), parse_html(page.text)
    assert from_bytes.html == from_text.html
    assert extract_article(page, None) == extract_article(_text_only(page), None)


def test_other_charsets_are_parsed_from_the_decoded_text() -> None:
    page = _page("<html><head><title>Прывітанне</title></head><body><p>Тэкст</p></body></html>"
                 .encode("cp1251"),
                 content_type="text/html; charset=windows-1251")
    assert page.encoding == "cp1251" and page_markup(page) == page.text
    assert extract_article(page, None).title == "Прывітанне"


CTX = NormaliseContext(source_id="office", language="ru", timezone="Europe/Minsk",
                       date_format=None, now=datetime(2025, 11, 20, 12, 0, tzinfo=UTC))
_DOC = ("<html><head><title>Навіны</title>{meta}</head><body><article><h1>Загаловак</h1>"
        "<p>Тэкст артыкула, 3 чэрвеня 2021.</p></article></body></html>")


@pytest.mark.parametrize(("raw", "content_type"), [
    (_DOC.format(meta="").encode(), "text/html; charset=utf-8"),
    (b"\xef\xbb\xbf" + _DOC.format(meta="").encode(), "text/html"),
    (_DOC.format(meta="").encode("cp1251"), "text/html; charset=windows-1251"),
    (_DOC.format(meta='<meta charset="windows-1251">').encode("cp1251"), "text/html"),
    (_DOC.format(meta='<meta charset="windows-1251">').encode("cp1251"), None),
    (_DOC.format(meta="").encode("utf-16"), "text/html"),
    (_DOC.format(meta="").encode() + b"\xff", "text/html"),          # invalid: detection
    (_DOC.format(meta="").encode(), "text/html; charset=iso-8859-1"),  # the weak default
], ids=["utf8-header", "utf8-bom", "cp1251-header", "cp1251-meta", "cp1251-meta-no-type",
        "utf16-bom", "invalid-utf8", "latin1-default"])
def test_a_body_read_undecoded_gives_what_its_decoded_page_gives(
        raw: bytes, content_type: str | None) -> None:
    """The page worker's path (read_body: bytes when UTF-8, decode.markup) and the page
    path (decode_page, then read_article) agree, whatever the charset signals say."""
    body = Body(url="https://office.example/ru/a.html",
                final_url="https://office.example/ru/a.html", status=200, raw=raw,
                content_type=content_type)
    selectors = ArticleSelectors(title="h1", content="article")
    card = Article(url=body.url)
    undecoded = read_body(body, selectors, card, CTX)
    assert undecoded == read_article(decode_page(body), selectors, card, CTX)
    assert undecoded.item is not None and undecoded.error is None
    page = decode_page(body)
    assert isinstance(markup(body), bytes) == (page.encoding == "utf-8")
    if page.encoding != "utf-8":
        assert markup(body) == page.text
    if page.text.count("Загаловак"):
        assert undecoded.item.title == "Загаловак"
