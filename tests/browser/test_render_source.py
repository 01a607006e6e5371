"""`render: browser`: a site that builds its list with JavaScript (tests/data/jsrender/) read
through headless Chromium (Debian's), every request of the page made by the Fetcher."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from syndicator.app import make_app
from syndicator.cli import build_and_report, run_sources
from syndicator.config import Config
from syndicator.demo.server import SiteServer
from tests.browser.conftest import CHROMIUM
from tests.conftest import DATA, Site, serve_site

pytestmark = pytest.mark.browser
SITE = DATA / "jsrender"


@pytest.fixture
def harbour(tmp_path: Path) -> Iterator[Site]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with serve_site(SITE, SITE / "config.yaml", "SITE_URL", tmp_path) as site:
        yield site


def with_source(config: Config, **changes: object) -> Config:
    source = config.sources[0].model_copy(update=changes)
    return config.model_copy(update={"sources": (source,)})


def test_without_render_the_script_built_list_is_not_there(harbour: Site) -> None:
    config = with_source(harbour.config, render="http")
    with make_app(config) as app:
        [result] = run_sources(app, ["harbour"], echo=lambda line: None)
    assert result.new == 0 and result.items_seen == 0
    assert any("no items matched list.item" in w for w in result.warnings), result.warnings
    assert not any(path.startswith("/api/") for _m, path, _h in harbour.server.requests)


def test_rendered_list_reaches_the_feed(harbour: Site) -> None:
    with make_app(harbour.config) as app:
        [result] = run_sources(app, ["harbour"], echo=lambda line: None)
        assert result.ok and result.new == 3, result
        build_and_report(app, echo=lambda line: None)
        items = {item.title: item for item in app.store.latest(["harbour"], limit=10)}
        user_agent = app.config.fetch_for(app.config.sources[0]).user_agent
    assert set(items) == {"The harbour reopens after the storm",
                          "The Saturday market moves to the square",
                          "Lighthouse tours start in spring"}
    first = items["The harbour reopens after the storm"]
    assert first.url == harbour.url + "news/harbour-reopens.html"
    assert first.published.isoformat() == "2025-03-14T08:30:00+00:00"
    assert "the full story" in (first.content or "")          # the plain article page
    feed = (harbour.config.output_path / "harbour.rss").read_text(encoding="utf-8")
    assert "The Saturday market moves to the square" in feed
    requests = harbour.server.requests
    paths = [path for _method, path, _headers in requests]
    # The script and its data were fetched by the Fetcher (our User-Agent, robots.txt read),
    # the image and the style sheet not at all.
    assert "/assets/list.js" in paths and "/api/news.json" in paths and "/robots.txt" in paths
    assert "/assets/logo.png" not in paths and "/assets/site.css" not in paths
    assert all(headers.get("User-Agent") == user_agent for _m, _p, headers in requests)


def test_a_rendered_page_reaches_no_other_origin(harbour: Site, tmp_path: Path) -> None:
    """The script asks another origin (a GET, a POST, a WebSocket): none of it is sent."""
    with SiteServer(tmp_path) as other:
        elsewhere = other.url.replace("127.0.0.1", "localhost")
        config = with_source(harbour.config, url=harbour.url + f"news/?other={elsewhere}")
        with make_app(config) as app:
            [result] = run_sources(app, ["harbour"], echo=lambda line: None)
        assert result.ok and result.new == 3, result
        assert other.requests == []


def test_a_missing_chromium_is_a_clear_error(harbour: Site) -> None:
    fetch = harbour.config.fetch.model_copy(update={
        "browser": harbour.config.fetch.browser.model_copy(  # type: ignore[union-attr]
            update={"executable": "/nonexistent/chromium"})})
    config = harbour.config.model_copy(update={"fetch": fetch})
    with make_app(config) as app:
        [result] = run_sources(app, ["harbour"], echo=lambda line: None)
    assert not result.ok
    assert "render: browser needs Chromium, not found at /nonexistent/chromium" in \
        result.errors[0], result.errors


def test_a_missing_playwright_is_a_clear_error(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """An install without the [browser] extra: the adapter module cannot be imported."""
    import syndicator.fetch

    monkeypatch.setitem(sys.modules, "syndicator.fetch.browser", None)
    monkeypatch.delattr(syndicator.fetch, "browser", raising=False)
    with serve_site(SITE, SITE / "config.yaml", "SITE_URL", tmp_path) as site:
        with make_app(site.config) as app:
            [result] = run_sources(app, ["harbour"], echo=lambda line: None)
        assert not result.ok
        assert "render: browser needs Playwright: pip install 'syndicator[browser]'" in \
            result.errors[0], result.errors
        assert not any(path.startswith("/assets/") for _m, path, _h in site.server.requests)
