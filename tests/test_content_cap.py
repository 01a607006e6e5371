"""One item keeps at most `content.max_bytes` of HTML and `content.max_title_chars` of title,
whatever its source: a scraped page with a 5 MB body and a feed with a huge entry are stored
cut on a clean boundary, well-formed, ending with "… Read more"; a normal article is left as
it is. Real pages and feeds on loopback, real SQLite, real builds.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest

from syndicator.app import App, make_app
from syndicator.backfill import backfill
from syndicator.capping import cap_html, shorten_to
from syndicator.cli import build_and_report
from syndicator.config import parse_config
from syndicator.demo.server import SiteServer
from syndicator.errors import ConfigError
from syndicator.model import Item
from syndicator.pipeline import run_source
from syndicator.sanitise import sanitize_html
from tests.test_cli import run_cli

KIB = 1024
# A Russian sentence of words of 2 to 11 letters (2 bytes each in UTF-8), with an entity.
SENTENCE = "Депутаты обсудили бюджет &amp; налоги на заседании в понедельник. "
WORDS = {word.strip(".") for word in SENTENCE.replace("&amp;", "").split()}


@contextmanager
def _app(server: SiteServer, tmp_path: Path, sources: str, content: str = "") -> Iterator[App]:
    text = (f"timezone: UTC\nstorage: sqlite:///{tmp_path / 'items.db'}\n"
            f"output_dir: {tmp_path / 'feeds'}\n"
            "fetch: {delay: 0s, allow_private: true, max_bytes: 8MB}\n"
            f"{content}sources:\n{sources}")
    config = parse_config(text.replace("${SITE}", server.url), base_dir=tmp_path)
    with make_app(config) as app:
        yield app


class _Balance(HTMLParser):
    """Whether every element that opens is closed, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.broken = False

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag not in ("br", "hr", "img"):
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self.broken = self.broken or not self.open or self.open.pop() != tag


def assert_well_formed(html: str) -> None:
    """Every element closed in order, every "&" an entity, nothing for the sanitiser to
    change: the HTML is sanitised and whole, as every stored content is."""
    checker = _Balance()
    checker.feed(html)
    checker.close()
    assert not checker.broken and not checker.open, checker.open
    assert re.search(r"&(?!(?:[a-z]+|#\d+|#x[0-9a-f]+);)", html) is None
    assert "\ufffd" not in html
    assert sanitize_html(html, base_url="https://x.example/") == html


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _stored(app: App, source_id: str) -> dict[str, Item]:
    return {item.title: item for item in app.store.latest([source_id], limit=100)}


# --- a scraped page with a 5 MB body ---------------------------------------------------------

LISTING = """<!doctype html><html lang="ru"><body>
<div class="card"><a href="/huge.html">Огромная статья</a></div>
<div class="card"><a href="/normal.html">Обычная статья</a></div>
</body></html>"""


def _article(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="ru"><head><title>{title}</title></head><body>'
            f'<h1>{title}</h1><time datetime="2026-12-01T10:00:00Z">1 декабря</time>'
            f'<div class="body">{body}</div></body></html>')


def test_a_5mb_article_is_stored_cut_to_the_default_bound_and_a_normal_one_whole(
        site: SiteServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = Path(site.root)
    (root / "index.html").write_text(LISTING, encoding="utf-8")
    paragraph = f"<p>{SENTENCE * 40}</p>\n"                 # ~4.5 KB
    huge = "<h2>Начало</h2>" + paragraph * 1150              # ~5 MB
    assert _size(huge) > 5_000_000
    (root / "huge.html").write_text(_article("Огромная статья", huge), encoding="utf-8")
    normal = "<p>Короткий текст статьи.</p><blockquote>Цитата &amp; ответ.</blockquote>"
    (root / "normal.html").write_text(_article("Обычная статья", normal), encoding="utf-8")
    sources = ("  - id: news\n    url: ${SITE}\n    language: ru\n"
               "    list: {item: div.card, link: a}\n    article: {content: div.body}\n")
    with caplog.at_level(logging.INFO, logger="syndicator.normalise"), \
            _app(site, tmp_path, sources) as app:
        result = run_source(app, app.config.sources[0])
        assert result.ok and result.new == 2, result.errors
        items = _stored(app, "news")
    cut, whole = items["Огромная статья"], items["Обычная статья"]
    assert 250 * KIB < _size(cut.content) <= 256 * KIB
    assert_well_formed(cut.content)
    assert cut.content.startswith(f"<h2>Начало</h2><p>{SENTENCE.strip()}")
    assert cut.content.endswith(f'<p><a href="{cut.url}" rel="noopener noreferrer">'
                                "Читать дальше</a></p>")
    # Cut in the text, on a word (never inside one, nor inside a two-byte letter).
    last_text = cut.content.rsplit("</p>", 2)[0]
    assert last_text.endswith("…")
    assert last_text.removesuffix("…").rsplit(" ", 1)[-1].strip(".") in WORDS
    assert whole.content == sanitize_html(normal, base_url=whole.url)
    lines = [r.getMessage() for r in caplog.records if " cut content of " in r.getMessage()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"source news: {cut.url}: cut content of ")
    assert "(content.max_bytes: 262144)" in lines[0]


def test_backfill_stores_old_pages_under_the_same_bound(site: SiteServer, tmp_path: Path) -> None:
    root = Path(site.root)
    body = f"<p>{SENTENCE * 40}</p>" * 20                    # ~90 KB
    for page, following in ((1, "page2.html"), (2, None)):
        more = f'<a rel="next" href="/{following}">Older</a>' if following else ""
        (root / ("index.html" if page == 1 else f"page{page}.html")).write_text(
            f'<html><body><div class="card"><a href="/old{page}.html">Старая {page}</a>'
            f"</div>{more}</body></html>", encoding="utf-8")
        (root / f"old{page}.html").write_text(_article(f"Старая {page}", body),
                                              encoding="utf-8")
    sources = ("  - id: news\n    url: ${SITE}\n    language: ru\n"
               "    list: {item: div.card, link: a, next: 'a[rel=next]@href'}\n"
               "    article: {content: div.body}\n")
    with _app(site, tmp_path, sources, "content: {max_bytes: 8KiB}\n") as app:
        result = backfill(app, app.config.sources[0])
        items = _stored(app, "news")
    assert result.ok and result.new == 2 and sorted(items) == ["Старая 1", "Старая 2"]
    for item in items.values():
        assert 7 * KIB < _size(item.content) <= 8 * KIB
        assert_well_formed(item.content)
        assert item.content.endswith("…</p><p><a href=\"" + item.url
                                     + '" rel="noopener noreferrer">Читать дальше</a></p>')


# --- a feed with a huge entry, under the operator's bounds ------------------------------------

def _feed(entries: str) -> str:
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>Wire</title><link>http://wire.example/</link>{entries}</channel></rss>")


def _entry(number: int, title: str, content: str, extra: str = "") -> str:
    return (f"<item><title>{title}</title><link>http://wire.example/{number}</link>{extra}"
            f"<pubDate>Tue, 01 Dec 2026 1{number}:00:00 +0000</pubDate>"
            f"<description>Entry {number}</description>"
            f"<content:encoded><![CDATA[{content}]]></content:encoded></item>")


def test_an_ingested_feed_entry_is_cut_to_the_configured_bounds_in_every_output(
        site: SiteServer, tmp_path: Path) -> None:
    huge = "".join(f"<ul><li>Point {n} &lt;with&gt; <b>weight</b> &amp; more</li></ul>"
                   for n in range(40_000))               # ~2.5 MB of nested markup
    long_title = "Breaking: " + "a very long headline " * 250
    (Path(site.root) / "feed.xml").write_text(_feed(
        _entry(1, long_title, huge, "".join(f"<category>Тема {n} {'ы' * 300}</category>"
                                            for n in range(100)))
        + _entry(2, "Short", "<p>Small entry.</p>", "<category>Тема</category>")),
        encoding="utf-8")
    sources = "  - {id: wire, type: feed, url: \"${SITE}feed.xml\"}\n"
    feeds = "feeds:\n  - {id: wire, title: Wire, sources: [wire]}\n"
    content = "content: {max_bytes: 16KiB, max_title_chars: 120}\n"
    with _app(site, tmp_path, sources + feeds, content) as app:
        assert run_source(app, app.config.sources[0]).new == 2
        items = {item.url: item for item in app.store.latest(["wire"], limit=10)}
        build_and_report(app, echo=lambda line: None)
    cut, small = items["http://wire.example/1"], items["http://wire.example/2"]
    assert 15 * KIB < _size(cut.content) <= 16 * KIB
    assert_well_formed(cut.content)
    assert cut.content.endswith('…</li></ul><p><a href="http://wire.example/1" '
                                'rel="noopener noreferrer">Read more</a></p>')
    assert len(cut.title) == 117 and cut.title.endswith(" a…")      # cut on a word
    assert long_title.startswith(cut.title.removesuffix("…"))
    assert len(cut.categories) == 30 and cut.categories[29].startswith("Тема 29 ыыы")
    assert all(len(name) == 100 and name.endswith("ы…") for name in cut.categories)
    assert small.content == "<p>Small entry.</p>" and small.title == "Short"
    assert small.categories == ("Тема",)
    # What the feeds publish is the stored item: each format parses and carries it whole.
    for ext in ("rss", "atom"):
        data = (tmp_path / "feeds" / f"wire.{ext}").read_bytes()
        assert len(data) < 4 * 16 * KIB
        parsed = feedparser.parse(data, sanitize_html=False)
        assert not parsed.bozo, (ext, parsed.bozo_exception)
        published = {entry.link: entry for entry in parsed.entries}
        assert published["http://wire.example/1"].content[0].value == cut.content
    data = (tmp_path / "feeds" / "wire.json").read_bytes()
    assert len(data) < 3 * 16 * KIB
    published = {entry["url"]: entry for entry in json.loads(data)["items"]}
    assert published["http://wire.example/1"]["content_html"] == cut.content


# --- the cut itself --------------------------------------------------------------------------

TEXTS = {
    "cyrillic": f"<p>{SENTENCE * 300}</p>",
    "entities": "<p>" + "&lt;tag&gt; &amp;&quot;" * 2000 + "</p>",
    "one word": "<p>" + "Слово" * 5000 + "</p>",
    "nested": "<blockquote><ul>" + "<li><a href=\"https://x.example/l\">Ссылка</a> и "
              "<b>жирный <i>курсив</i></b></li>" * 400 + "</ul></blockquote>",
    "table": "<table><tbody>" + "<tr><td>ячейка</td><td>другая</td></tr>" * 600
             + "</tbody></table>",
    "images": "<p>" + '<img src="https://x.example/i.jpg" alt="фото">' * 900 + "</p>",
}


@pytest.mark.parametrize("name", TEXTS)
@pytest.mark.parametrize("cap", range(4 * KIB, 4 * KIB + 97, 8))
def test_every_cut_is_within_the_bound_whole_and_marked(name: str, cap: int) -> None:
    html = sanitize_html(TEXTS[name], base_url="https://x.example/")
    capped = cap_html(html, cap, url="https://x.example/a?b=1&c=2", language="be")
    assert capped is not None
    assert cap - 200 <= _size(capped) <= cap, _size(capped)
    assert_well_formed(capped)
    assert "…" in capped[-200:]
    assert capped.endswith('<a href="https://x.example/a?b=1&amp;c=2" '
                           'rel="noopener noreferrer">Чытаць далей</a></p>')


def test_content_within_the_bound_is_left_as_it_is() -> None:
    html = sanitize_html(TEXTS["cyrillic"], base_url="https://x.example/")
    assert cap_html(html, _size(html), url="https://x.example/a", language="ru") is None
    assert cap_html(html, _size(html) - 1, url="https://x.example/a", language="ru")


def test_a_url_too_long_for_the_marker_leaves_the_ellipsis_alone() -> None:
    html = sanitize_html(TEXTS["cyrillic"], base_url="https://x.example/")
    url = "https://x.example/" + "a" * 5000
    assert cap_html(html, 4 * KIB, url=url, language="ru") == "<p>…</p>"


def test_titles_are_cut_on_a_word_with_the_ellipsis_counted() -> None:
    assert shorten_to("Заголовок", 40) == "Заголовок"
    assert shorten_to("Очень длинный заголовок новости дня", 20) == "Очень длинный…"
    assert shorten_to("Ы" * 50, 40) == "Ы" * 39 + "…"


# --- the setting's bounds ----------------------------------------------------------------------

@pytest.mark.parametrize(("setting", "key", "message"), [
    ("{max_bytes: 1KB}", "content.max_bytes", "must be from 4KiB to 16MiB"),
    ("{max_bytes: 1GiB}", "content.max_bytes", "must be from 4KiB to 16MiB"),
    ("{max_bytes: lots}", "content.max_bytes", "is not a size"),
    ("{max_title_chars: 5}", "content.max_title_chars", "must be from 40 to 10000 characters"),
    ("{max_chars: 5}", "content.max_chars", "unknown key"),
])
def test_validate_names_the_key_of_a_bound_out_of_range(setting: str, key: str,
                                                        message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(f"content: {setting}\n", file="config.yaml")
    assert raised.value.path == key
    assert "config.yaml:1:" in str(raised.value) and message in str(raised.value)


def test_the_defaults_and_sizes_in_units() -> None:
    assert parse_config("").content.limits().content_bytes == 256 * KIB
    assert parse_config("").content.limits().title_chars == 1000
    assert parse_config("content: {max_bytes: 1MiB}\n").content.max_bytes == KIB * KIB


def test_validate_exits_2_naming_both_keys(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("content:\n  max_bytes: 1KB\n  max_title_chars: 20000\n")
    done = run_cli("--config", str(config), "validate")
    assert done.returncode == 2
    assert "bad.yaml:2:14: content.max_bytes: must be from 4KiB to 16MiB" in done.stderr
    assert "bad.yaml:3:20: content.max_title_chars: must be from 40 to 10000" in done.stderr
