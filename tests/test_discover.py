"""`syndicator discover URL`: proposals for sites it has never seen, checked against what
each fixture site really lists (tests/data/discover/*/expected.json).

Every site is served on loopback; the proposal is read back through the config loader and
the real extractor (that is what discover's preview is), and for the whole loop the CLI
writes a config that `check` and `fetch` then use.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from syndicator.config import FetchConfig, load_config
from syndicator.demo import demo_site_root
from syndicator.demo.server import SiteServer
from syndicator.discover import Discovery, add_to_config, discover
from syndicator.discover.render import source_block
from syndicator.errors import ConfigError, DiscoveryError, FetchError
from syndicator.fetch import Fetcher
from tests.browser.conftest import CHROMIUM
from tests.test_cli import run_cli

DATA = Path(__file__).resolve().parent / "data" / "discover"
SETTINGS = FetchConfig(delay=0, allow_private=True, retries=0)
LISTINGS = {"wordpress": "", "table": "news/", "ullist": "be/news/", "noclass": "",
            "jsonld": "news/", "feedsite": "", "linksonly": "press/"}


@pytest.fixture(scope="module")
def fetcher() -> Iterator[Fetcher]:
    with Fetcher() as client:
        yield client


def _discover(site: str, fetcher: Fetcher, **options: object) -> tuple[Discovery, str]:
    with SiteServer(DATA / site) as server:
        found = discover(server.url + LISTINGS[site], fetcher, SETTINGS, cards=10,
                         articles=10, **options)  # type: ignore[arg-type]
        return found, server.url


def _right(found: Discovery, site: str) -> int:
    """How many of the first 10 cards the proposal extracted as the site lists them."""
    expected = json.loads((DATA / site / "expected.json").read_text(encoding="utf-8"))[:10]
    right = 0
    for row, want in zip(found.preview, expected, strict=False):
        if (row.title == want["title"] and urlsplit(row.url).path == want["path"]
                and row.published.startswith(want["date"])):
            right += 1
    return right


@pytest.mark.parametrize(("site", "fields"), [
    ("wordpress", {"item", "link", "title", "date", "summary", "image", "next"}),
    ("table", {"item", "link", "title", "date"}),
    ("ullist", {"item", "link", "title", "date", "next"}),
    ("noclass", {"item", "link", "title", "date", "summary"}),
    ("jsonld", {"item", "link", "title", "summary", "image", "next"}),
    ("linksonly", {"item", "link", "title"}),
])
def test_discover_proposes_selectors_that_extract_the_cards(
        site: str, fields: set[str], fetcher: Fetcher) -> None:
    found, _url = _discover(site, fetcher)
    assert found.kind == "html"
    assert found.list_proposal is not None
    assert fields <= set(found.list_proposal.selectors), found.block
    assert ":nth-child" not in found.block
    assert len(found.preview) == 10, found.block
    assert _right(found, site) >= 8, (found.block, found.preview)


@pytest.mark.parametrize(("site", "path", "source_id", "timezone"), [
    ("cp1251", "news/", "zarechye-news", "Europe/Minsk"),
    ("jsonld", "blog/", "riverside-blog", "Europe/Berlin"),
    ("office", "en/news/", "office-en", "Europe/Minsk"),
])
def test_discover_on_fixture_sites_written_before_it(
        site: str, path: str, source_id: str, timezone: str, fetcher: Fetcher) -> None:
    """The other tests' sites (tests/data/README.md), with their hand-written expectations."""
    root = demo_site_root() if site == "office" else DATA.parent / site
    expected = [e for e in json.loads((DATA.parent / site / "expected.json").read_text(
        encoding="utf-8")) if e["source"] == source_id]
    with SiteServer(root) as server:
        found = discover(server.url + path, fetcher, SETTINGS, cards=10, articles=10,
                         timezone=timezone)
    assert found.kind == "html" and len(found.preview) >= 4
    for row, want in zip(found.preview, expected, strict=False):
        assert (row.title, urlsplit(row.url).path) == (want["title"], want["url"])
        if "T" in row.published:     # a time of day: the instant must be the expected one
            instant = datetime.fromisoformat(row.published).astimezone(UTC)
            assert instant.strftime("%Y-%m-%dT%H:%M:%SZ") == want["published"]


def test_wordpress_proposal_names_the_theme_classes(fetcher: Fetcher) -> None:
    found, _url = _discover("wordpress", fetcher)
    assert found.list_proposal is not None
    selectors = found.list_proposal.selectors
    assert selectors["item"] == "article.post"
    assert "entry-title" in selectors["title"]
    assert "entry-date" in selectors["date"]
    assert selectors["next"].endswith("a.next@href")
    assert "\n    max_pages: 2" in found.block


def test_belarusian_dates_are_read_in_belarusian(fetcher: Fetcher) -> None:
    found, _url = _discover("ullist", fetcher)
    assert found.list_proposal is not None
    assert found.source.language == "be"
    assert found.preview[0].published == "2021-06-28"


def test_dates_only_in_json_ld_come_from_the_article_pages(fetcher: Fetcher) -> None:
    found, _url = _discover("jsonld", fetcher)
    assert found.source.article is None            # `article:` can stay empty
    assert any("JSON-LD" in why and "dates come from there" in why for why in found.why)
    assert all("T" in row.published for row in found.preview)   # a time of day: JSON-LD


def test_dates_only_in_the_article_text_get_an_article_date_selector(
        fetcher: Fetcher) -> None:
    found, _url = _discover("linksonly", fetcher)
    assert found.source.article is not None
    assert found.source.article.date in ("p.meta", ".meta")
    assert "  article:\n    date: " in found.block
    assert found.preview[0].published == "2021-06-28"


def test_an_advertised_feed_is_proposed_instead(fetcher: Fetcher) -> None:
    found, url = _discover("feedsite", fetcher)
    assert found.kind == "feed"
    assert found.source.type == "feed" and found.source.url == url + "index.xml"
    assert "type: feed" in found.block
    assert any("advertises RSS feed" in why for why in found.why)
    expected = json.loads((DATA / "feedsite" / "expected.json").read_text(encoding="utf-8"))
    assert [row.title for row in found.preview] == [e["title"] for e in expected]
    assert [row.published for row in found.preview][:3] == ["2021-06-28T08:00+00:00",
                                                            "2021-06-24T08:00+00:00",
                                                            "2021-06-22T08:00+00:00"]


def test_scrape_proposes_the_page_even_with_a_feed(fetcher: Fetcher) -> None:
    found, _url = _discover("feedsite", fetcher, scrape=True)
    assert found.kind == "html"
    assert found.list_proposal is not None
    assert found.list_proposal.selectors["item"] == "article.post-entry"
    assert _right(found, "feedsite") >= 8, (found.block, found.preview)


def test_ranked_alternatives_put_the_cards_above_the_widgets(fetcher: Fetcher) -> None:
    found, _url = _discover("ullist", fetcher)
    assert len(found.alternatives) >= 2
    scores = [alt.score for alt in found.alternatives]
    assert scores == sorted(scores, reverse=True)
    assert "aside" not in found.alternatives[0].selector


def test_a_page_without_repeated_structure_is_a_clear_error(fetcher: Fetcher) -> None:
    with SiteServer(DATA / "wordpress") as server, pytest.raises(DiscoveryError) as caught:
        url = server.url + "about/"
        discover(url, fetcher, SETTINGS)
    assert f"no repeated structure found on {url}" in str(caught.value)


def test_not_html_is_a_clear_error(fetcher: Fetcher) -> None:
    with SiteServer(DATA / "noclass") as server, pytest.raises(DiscoveryError) as caught:
        discover(server.url + "img/photo.png", fetcher, SETTINGS)
    assert "is not an HTML page (Content-Type image/png)" in str(caught.value)


def test_unreachable_url_is_a_fetch_error(fetcher: Fetcher) -> None:
    with SiteServer(DATA / "noclass") as server:
        url = server.url
    with pytest.raises(FetchError):
        discover(url, fetcher, SETTINGS)


# --- the command line ------------------------------------------------------------------------

def test_cli_misuse_exits_2() -> None:
    done = run_cli("discover", "ftp://example.org/")
    assert done.returncode == 2
    assert "must be an http:// or https:// URL" in done.stderr
    done = run_cli("discover", "--id", "Bad Id", "http://127.0.0.1:9/")
    assert done.returncode == 2


def test_a_url_with_credentials_is_refused_unshown(tmp_path: Path) -> None:
    """As in a source's url (the block would not load): refused before anything is fetched
    or printed, pointing at a header from the environment."""
    done = run_cli("discover", "--allow-private", "http://reader:pw-4711@127.0.0.1:9/news/",
                   cwd=tmp_path)
    assert done.returncode == 2
    assert "holds user:password@ (not shown)" in done.stderr and "Authorization" in done.stderr
    assert "pw-4711" not in done.stdout + done.stderr
    assert "reader" not in done.stdout + done.stderr
    assert "fetching" not in done.stderr


def test_cli_errors_exit_1_with_one_line(tmp_path: Path) -> None:
    with SiteServer(DATA / "wordpress") as server:
        done = run_cli("discover", "--allow-private", server.url + "about/", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: no repeated structure")
    assert "Traceback" not in done.stderr


def test_from_discover_to_a_feed_on_the_demo_site(tmp_path: Path) -> None:
    """The README's "Adding a site": discover --write, check, fetch, build."""
    config = tmp_path / "config.yaml"
    config.write_text("fetch: {delay: 0s}\nstorage: \"sqlite:///demo.db\"\n"
                      "output_dir: feeds\ntimezone: Europe/Minsk\n")
    with SiteServer(demo_site_root()) as server:
        url = server.url + "en/news/"
        done = run_cli("--config", str(config), "discover", "--allow-private", "--id",
                       "demo-en", "--write", str(config), url, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "- id: demo-en" in done.stdout
        assert "item: \"article.news-card\"" in done.stdout
        assert "added source 'demo-en'" in done.stderr
        source = load_config(config).source("demo-en")
        assert source.list is not None and source.list.next is not None
        checked = run_cli("--config", str(config), "check", "demo-en", cwd=tmp_path)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        fetched = run_cli("--config", str(config), "fetch", "demo-en", cwd=tmp_path)
        assert fetched.returncode == 0, fetched.stdout + fetched.stderr
        assert "12 new" in fetched.stdout
    built = run_cli("--config", str(config), "build", cwd=tmp_path)
    assert built.returncode == 0, built.stdout + built.stderr
    feed = (tmp_path / "feeds" / "demo-en.rss").read_text(encoding="utf-8")
    assert feed.count("<item>") == 12


# --- --write ---------------------------------------------------------------------------------

_EXISTING = """# the office's feeds
timezone: Europe/Minsk
sources:
  - id: old            # the first source
    type: feed
    url: "https://example.org/feed.xml"

# feeds follow
feeds:
  - {id: old, title: "Old", sources: [old]}
output_dir: feeds
"""
_BLOCK = source_block("new", "https://example.org/news/", title='News: "all"', language="en",
                      lists={"item": "li.news", "link": "a@href", "date": "span.date"})


def test_write_adds_source_and_feed_and_keeps_the_file_as_written(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(_EXISTING)
    add_to_config(config, _BLOCK, "new", 'News: "all"')
    text = config.read_text()
    for line in _EXISTING.splitlines():
        assert line in text.splitlines()
    loaded = load_config(config)
    assert [s.id for s in loaded.sources] == ["old", "new"]
    assert [f.id for f in loaded.feeds] == ["old", "new"]
    assert loaded.feeds[1].sources == ("new",) and loaded.feeds[1].title == 'News: "all"'
    new = loaded.source("new")
    assert new.list is not None and new.list.item == "li.news" and new.list.date == "span.date"


def test_write_creates_a_missing_config(tmp_path: Path) -> None:
    config = tmp_path / "new.yaml"
    add_to_config(config, _BLOCK, "new", "News")
    loaded = load_config(config)
    assert [s.id for s in loaded.sources] == ["new"] and [f.id for f in loaded.feeds] == ["new"]


@pytest.mark.parametrize(("existing", "message"), [
    (_EXISTING.replace("old", "new"), "already has a source or feed 'new'"),
    ("sources: []\n", "`sources:` is written inline"),
])
def test_write_refuses_and_leaves_the_file_alone(tmp_path: Path, existing: str,
                                                 message: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(existing)
    with pytest.raises(ConfigError) as caught:
        add_to_config(config, _BLOCK, "new", "News")
    assert message in str(caught.value)
    assert config.read_text() == existing


# --- lists built by JavaScript ---------------------------------------------------------------

def test_a_list_built_by_javascript_is_found_with_render(fetcher: Fetcher) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with SiteServer(DATA.parent / "jsrender") as server:
        url = server.url + "news/"
        with pytest.raises(DiscoveryError) as caught:
            discover(url, fetcher, SETTINGS)
        assert "try --render" in str(caught.value)
        found = discover(url, fetcher, SETTINGS, render=True, timezone="Europe/Berlin")
    assert found.source.render == "browser" and "  render: browser" in found.block
    assert found.list_proposal is not None
    assert found.list_proposal.selectors["item"] == "article.card"
    assert [(row.title, urlsplit(row.url).path) for row in found.preview] == [
        ("The harbour reopens after the storm", "/news/harbour-reopens.html"),
        ("The Saturday market moves to the square", "/news/market-moves.html"),
        ("Lighthouse tours start in spring", "/news/lighthouse-tours.html")]
    assert found.preview[0].published == "2025-03-14T09:30+01:00"
