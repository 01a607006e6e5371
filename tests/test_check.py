"""`syndicator check`: a dry run whose output makes a wrong selector obvious: per field
whether the selector matched, matched nothing or which fallback filled it; per card the date
as written and as parsed; exit 1 when most cards have no link or no title."""

from __future__ import annotations

import codecs
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from syndicator.demo import demo_config_path, demo_site_root
from syndicator.demo.server import SiteServer
from syndicator.uris import redact
from tests.test_cli import run_cli


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    with SiteServer(demo_site_root()) as server:
        yield server.url


def test_check_prints_every_field_and_writes_nothing(demo_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(demo_config_path().read_text())
    done = run_cli("--config", str(config), "check", "office-be",
                   env={"SYNDICATOR_DEMO_URL": demo_url})
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "5 item(s) on the first page; next page: " in out
    assert "list.date" in out and "list.title" in out
    assert "article.content" in out
    assert "published  20" in out and "precision: time" in out
    assert "WARNING" not in out
    assert "all fields extracted" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]  # no db, no feeds


def test_check_makes_a_wrong_selector_obvious(demo_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    text = demo_config_path().read_text()
    assert "date: .news-card__date" in text
    config.write_text(text.replace("date: .news-card__date", "date: .news-card__when"))
    done = run_cli("--config", str(config), "check", "office-en",
                   env={"SYNDICATOR_DEMO_URL": demo_url})
    out = done.stdout
    line = next(x for x in out.splitlines() if x.strip().startswith("list.date"))
    assert "selector '.news-card__when' matched nothing" in line and "<-- WARNING" in line
    assert "WARNING: list.date selector '.news-card__when' matched nothing" in out
    assert done.returncode == 0   # a missing date is a warning: the items are still items


def test_check_reports_a_listing_that_matches_nothing(demo_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    text = demo_config_path().read_text()
    assert "item: article.news-card" in text
    config.write_text(text.replace("item: article.news-card", "item: div.card"))
    done = run_cli("--config", str(config), "check", "office-en",
                   env={"SYNDICATOR_DEMO_URL": demo_url})
    assert done.returncode == 1
    assert "WARNING: no items: list.item 'div.card' matched nothing" in done.stdout


def test_check_unreachable_site_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(demo_config_path().read_text())
    done = run_cli("--config", str(config), "check", "office-en",
                   env={"SYNDICATOR_DEMO_URL": "http://127.0.0.1:9/"})
    assert done.returncode == 1
    assert "ERROR fetching the listing: http://127.0.0.1:9/en/news/" in done.stdout


# A small news site written for these tests: a listing of four cards (each with a link, a
# heading-less link text, a date and a lead) and article pages whose JSON-LD and OpenGraph
# carry the title, date and image; a listing whose cards mostly have image-only links; one
# whose cards mostly have no link; and one whose bytes are not the UTF-8 its BOM names.
CARD = """<div class="card"><a class="more" href="/story-{n}.html">Story number {n} about the
  budget</a><span class="when">{day} June 2024 10:15</span><p class="lead">Lead {n}.</p></div>"""
ARTICLE = """<!doctype html><html lang="en"><head><title>Story {n} | Site</title>
<meta property="og:image" content="/img/{n}.jpg">
<script type="application/ld+json">{{"@type": "NewsArticle", "headline": "Story {n} in full",
 "datePublished": "2024-06-0{n}T10:15:00+03:00"}}</script></head>
<body><article><h1 class="headline">Story {n} in full</h1><div class="text"><p>{body}</p></div>
</article></body></html>"""
SENTENCE = "The council met on Monday and agreed the budget for the coming year. "


def _write_site(root: Path) -> None:
    cards = "\n".join(CARD.format(n=n, day=n) for n in range(1, 5))
    pages = {
        "news/index.html": f"<html><body><main>{cards}</main></body></html>",
        "images/index.html": "<html><body>" + CARD.format(n=1, day=1) + "".join(
            f'<div class="card"><a class="more" href="/story-{n}.html"><img src="/i{n}.jpg">'
            f'</a><span class="when">{n} June 2024</span></div>' for n in range(2, 5))
            + "</body></html>",
        "teasers/index.html": "<html><body>" + CARD.format(n=1, day=1) + "".join(
            f'<div class="card"><span class="more">Teaser {n}</span></div>'
            for n in range(2, 5)) + "</body></html>",
    }
    for n in range(1, 5):
        pages[f"story-{n}.html"] = ARTICLE.format(n=n, body=SENTENCE * 8)
    for name, text in pages.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    broken = (root / "broken" / "index.html")
    broken.parent.mkdir()
    broken.write_bytes(codecs.BOM_UTF8 + pages["news/index.html"].encode().replace(
        b"budget", b"bud\xffget"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("check-site")
    _write_site(root)
    with SiteServer(root) as server:
        yield server.url


def _check(site: str, tmp_path: Path, page: str, list_block: str,
           article_block: str = "") -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.yaml"
    config.write_text(
        "timezone: Europe/Minsk\n"
        "fetch: {delay: 0s, allow_private: true}\n"
        "sources:\n"
        f"  - id: news\n    url: \"{site}{page}/\"\n    language: en\n"
        f"    list: {list_block}\n" + (f"    article: {article_block}\n" if article_block
                                        else ""))
    return run_cli("--config", str(config), "check", "news", "--cards", "4")


def _line(out: str, start: str) -> str:
    return next(x.strip() for x in out.splitlines() if x.strip().startswith(start))


def test_check_tells_matched_from_matched_nothing_and_fallbacks(site: str,
                                                                tmp_path: Path) -> None:
    done = _check(site, tmp_path, "news",
                  "{item: .card, link: a.more@href, title: h2.nope, date: .when, summary: .lead}",
                  "{title: h1.nope, date: .nope}")
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert _line(out, "list.link") == "list.link      4/4 by selector 'a.more@href'"
    assert _line(out, "list.summary") == "list.summary   4/4 by selector '.lead'"
    title = _line(out, "list.title")
    assert title.startswith("list.title     selector 'h2.nope' matched nothing; "
                            "4/4 from link text")
    assert "<-- WARNING" in title and "4/4 filled" not in out
    assert "WARNING: list.title selector 'h2.nope' matched nothing (link text filled it)" in out
    assert "title     Story number 1 about the budget  [link text]" in out
    # the article page: which fallback filled each field
    assert ("article.title     Story 1 in full  [selector 'h1.nope' matched nothing; "
            "from JSON-LD]") in out
    assert f"article.image     {site}img/1.jpg  [from OpenGraph]" in out
    assert "article.content   " in out and "[from main text (trafilatura)]" in out
    assert "all fields extracted" not in out


def test_check_shows_each_cards_date_parsed_in_the_source_zone_and_utc(
        site: str, tmp_path: Path) -> None:
    done = _check(site, tmp_path, "news", "{item: .card, link: a.more@href, date: .when}")
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert ("date      3 June 2024 10:15  →  2024-06-03 10:15 Europe/Minsk = "
            "2024-06-03 07:15 UTC") in out
    assert "does not parse" not in out


def test_check_warns_when_the_date_is_not_a_date(site: str, tmp_path: Path) -> None:
    done = _check(site, tmp_path, "news", "{item: .card, link: a.more@href, date: a.more}")
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "date      Story number 1 about the budget   <-- WARNING: not a date" in out
    assert ("WARNING: the date text of 4 of 4 card(s) does not parse as a date "
            "(e.g. 'Story number 1 about the budget')") in out


@pytest.mark.parametrize(("page", "field", "line"), [
    # three of four links hold only an image: no title on them
    ("images", "title", "no selector; 1/4 from link text; 3/4 empty   <-- WARNING"),
    # three of four cards are teasers without a link: no items at all
    ("teasers", "link", "1/4 by selector 'a.more@href'; 3/4 empty   <-- WARNING"),
])
def test_check_fails_when_most_cards_lack_a_required_field(site: str, tmp_path: Path, page: str,
                                                           field: str, line: str) -> None:
    done = _check(site, tmp_path, page, "{item: .card, link: a.more@href, date: .when}")
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert _line(out, f"list.{field}") == f"{'list.' + field:<14} {line}"
    assert f"WARNING: list.{field} empty on 3 of 4 cards: they are no items" in out


def test_check_shows_a_charset_problem(site: str, tmp_path: Path) -> None:
    done = _check(site, tmp_path, "broken", "{item: .card, link: a.more@href}")
    out = done.stdout
    assert "charset problem: the bytes are not valid utf-8, which their byte-order mark " \
           "names" in out
    assert "WARNING: " + site + "broken/: the bytes are not valid utf-8" in out


def test_check_fails_when_no_card_has_a_link(site: str, tmp_path: Path) -> None:
    done = _check(site, tmp_path, "news", "{item: .card, link: a.gone@href}")
    assert done.returncode == 1, done.stdout + done.stderr
    assert ("WARNING: no items: list.item matched 4 element(s), none with a usable link "
            "(list.link 'a.gone@href')") in done.stdout


def test_no_url_credentials_in_check_fetch_status_or_the_log(tmp_path: Path) -> None:
    """A page may link to a URL with user:password@ (and the config may not hold one):
    `check`, `fetch` (its summary, its log at -vv), the run log and `status` show every URL
    without them."""
    root = tmp_path / "site"
    root.mkdir()
    with SiteServer(root) as server:
        leaky = server.url.replace("http://", "http://reader:s3cret-pw@")
        (root / "news").mkdir()
        (root / "news" / "index.html").write_text(
            "<html><body>" + "".join(
                f'<div class="card"><a class="more" href="{leaky}story-{n}.html">Story {n} '
                f'about the budget</a></div>' for n in (1, 2))
            + f'<a class="next" href="{leaky}news/2/">more</a></body></html>')
        done = _check(server.url, tmp_path, "news", "{item: .card, link: a.more@href, "
                                                    "next: a.next@href, max_pages: 2}")
        assert "s3cret-pw" not in done.stdout + done.stderr
        assert "reader" not in done.stdout + done.stderr
        assert f"link      {server.url}story-1.html" in done.stdout
        assert f"next page: {server.url}news/2/" in done.stdout

        config = tmp_path / "config.yaml"
        config.write_text(f'storage: "sqlite:///{tmp_path / "store.db"}"\n'
                          + config.read_text()
                          + "feeds:\n  - {id: news, title: News, sources: [news]}\n")
        fetched = run_cli("--config", str(config), "-vv", "fetch")
        assert fetched.returncode == 0, fetched.stderr
        assert f"not followed (list it in follow_hosts to follow it): {server.url}news/2/" \
            in fetched.stdout
        assert "source news: 2 link(s) on another origin not followed" in fetched.stderr
        status = run_cli("--config", str(config), "status", "--json", "--port", "0")
        assert status.returncode == 0, status.stderr
        assert f"{server.url}news/2/" in status.stdout          # the run's warning, stored
        for shown in (fetched, status):
            assert "s3cret-pw" not in shown.stdout + shown.stderr
            assert "reader" not in shown.stdout + shown.stderr

        config.write_text(config.read_text().replace(f"{server.url}news/", f"{leaky}news/"))
        refused = run_cli("--config", str(config), "check", "news")
        assert refused.returncode == 2
        assert "sources[0].url: holds user:password@ (not shown)" in refused.stderr
        assert "s3cret-pw" not in refused.stdout + refused.stderr


@pytest.mark.parametrize(("text", "shown"), [
    ("http://u:p@h/x", "http://h/x"),
    ("failed: https://u:p@ss@host:8/p?q=a@b (HTTP 500)",
     "failed: https://host:8/p?q=a@b (HTTP 500)"),
    ("x http://a:1\\@b:2/ y HTTPS://TOKEN@h/", "x http://b:2/ y HTTPS://h/"),
    ("http://u:***@evil:pw@h/", "http://h/"),
    # Left as they are: a path's @, an address, a URL whose password is already hidden.
    ("https://medium.com/@user and news@example.org", "https://medium.com/@user and "
                                                      "news@example.org"),
    ("postgresql+psycopg://syn:***@127.0.0.1:1/db", "postgresql+psycopg://syn:***@127.0.0.1:1/db"),
    # A URL ends where a character no URL holds stands (a quote, an angle bracket): an
    # address after it is no user info of the URL, and the text between stays.
    ('{"url":"https://news.example.org","author":"ann@example.org"}',
     '{"url":"https://news.example.org","author":"ann@example.org"}'),
    ("<https://news.example.org>, ann@example.org", "<https://news.example.org>, ann@example.org"),
])
def test_redact_removes_the_user_info_of_every_url_in_a_text(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_every_log_line_is_written_without_url_credentials() -> None:
    """Whoever logs a URL with user:password@ (a library, a traceback), the line written
    through the one logging setup has none."""
    script = ("import logging; from syndicator.logsetup import setup_logging\n"
              "setup_logging(logging.INFO)\n"
              "logging.getLogger('somelib').warning('retrying %s', 'http://reader:pw-77@h/a')\n"
              "try:\n    raise ValueError('bad http://reader:pw-77@h/b')\n"
              "except ValueError:\n    logging.getLogger('x').exception('failed')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "WARNING somelib: retrying http://h/a" in done.stderr
    assert "ValueError: bad http://h/b" in done.stderr
    assert "pw-77" not in done.stderr and "reader" not in done.stderr
