"""Red team: a rendered page is held to fetch.max_bytes as a fetched one is. A page of a few
hundred bytes whose script builds a large DOM (`'A'.repeat(…)`) gave page.content() whole to
the crawl: 63 MB from a 168-byte page under the default 5 MB cap, ~0.5 GB in the process."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from syndicator.config import FetchConfig
from syndicator.config_sources import BrowserSettings
from syndicator.demo.server import SiteServer
from syndicator.errors import FetchError
from syndicator.fetch import Fetcher
from tests.browser.conftest import CHROMIUM

pytestmark = pytest.mark.browser

PAGE = """<html><body><div id="x" style="display:none"></div><script>
document.getElementById("x").textContent = "A".repeat(2 * 1024 * 1024);
</script><p>built</p></body></html>"""


def test_a_rendered_dom_past_max_bytes_is_refused(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    (tmp_path / "grow.html").write_text(PAGE, encoding="utf-8")
    with SiteServer(tmp_path) as site:
        settings = FetchConfig(allow_private=True, delay=0.0, render=True, max_bytes=1_000_000,
                               source_url=site.url, browser=BrowserSettings(timeout=20.0))
        with Fetcher() as fetcher, pytest.raises(FetchError) as caught:
            fetcher.get_body(site.url + "grow.html", settings, deadline=time.monotonic() + 60)
    assert "1000000 bytes" in str(caught.value)


NAVIGATES = """<html><body><article class="card">a card</article><script>
location.href = new URLSearchParams(location.search).get("to");
</script></body></html>"""


def test_a_page_that_navigates_away_is_an_error_not_chromes_error_page(tmp_path: Path) -> None:
    """location.href to an origin the source does not follow: not fetched, and the crawl is
    told so (it was handed Chromium's 250 KB "This site can't be reached" page as the
    listing)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    (tmp_path / "away.html").write_text(NAVIGATES, encoding="utf-8")
    with SiteServer(tmp_path) as site, SiteServer(tmp_path) as other:
        elsewhere = other.url.replace("127.0.0.1", "localhost") + "away.html"
        settings = FetchConfig(allow_private=True, delay=0.0, render=True,
                               source_url=site.url, browser=BrowserSettings(timeout=20.0))
        with Fetcher() as fetcher, pytest.raises(FetchError) as caught:
            fetcher.get_body(site.url + f"away.html?to={elsewhere}", settings,
                             deadline=time.monotonic() + 60)
        assert other.requests == []
    assert "navigated" in str(caught.value) and "not an origin" in str(caught.value)


def test_errors_of_a_rendered_source_do_not_show_the_password_of_its_url(tmp_path: Path) -> None:
    """A source URL with user:password@ (redacted in every other fetch error) appeared whole
    in the errors of `render: browser` runs, which /status shows to anyone."""
    (tmp_path / "page.html").write_text("<html><body><p>x</p></body></html>", encoding="utf-8")
    with SiteServer(tmp_path) as site:
        url = site.url.replace("http://", "http://reader:s3cr3t-pw@") + "page.html"
        settings = FetchConfig(allow_private=True, delay=0.0, render=True, source_url=url,
                               browser=BrowserSettings(executable="/nonexistent/chromium"))
        with Fetcher() as fetcher, pytest.raises(FetchError) as caught:
            fetcher.get_body(url, settings, deadline=time.monotonic() + 60)
    assert "needs Chromium" in str(caught.value)
    assert "s3cr3t-pw" not in str(caught.value) and "s3cr3t-pw" not in caught.value.url
