"""Per-source `headers:` and `cookies:`: sent on every request of the source to its own
origins (listing, next pages, articles, feeds), never to another host a redirect leads to,
rejected at load time when the fetcher owns them, and never shown."""

from __future__ import annotations

from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner

from syndicator.app import make_app
from syndicator.cli import cli, run_sources
from syndicator.config import Config, parse_config
from syndicator.demo import demo_site_root
from syndicator.demo.server import SiteServer
from syndicator.errors import ConfigError
from syndicator.fetch import Fetcher
from syndicator.model import Page
from tests.conftest import DATA

API_KEY = "k3y-from-the-environment"
SESSION = "s3ss10n-from-the-environment"
ENV = {"SITE_URL": "", "TEST_API_KEY": API_KEY, "TEST_SESSION": SESSION}


def source_config(url: str, tmp_path: Path, *, kind: str = "html",
                  follow_hosts: str = "[]") -> Config:
    listing = ("""
    list:
      item: article.news-card
      link: a.news-card__link@href
      title: .news-card__title
      date: .news-card__date
      next: a.next.page-numbers@href
      max_pages: 2""" if kind == "html" else "")
    text = f"""
timezone: Europe/Minsk
fetch: {{delay: 0s, allow_private: true}}
sources:
  - id: guarded
    type: {kind}
    url: "{url}"
    follow_hosts: {follow_hosts}
    headers:
      X-Api-Key: {{env: TEST_API_KEY}}
      Accept-Language: be, ru;q=0.8
    cookies:
      session: {{env: TEST_SESSION}}
      consent: "yes"{listing}
feeds:
  - {{id: guarded, title: Guarded, sources: [guarded]}}
"""
    config = parse_config(text, env={**ENV, "SITE_URL": url})
    return config.model_copy(update={"base_dir": tmp_path})


def _sent(headers: dict[str, str]) -> bool:
    return (headers.get("X-Api-Key") == API_KEY
            and headers.get("Accept-Language") == "be, ru;q=0.8"
            and f"session={SESSION}" in headers.get("Cookie", "")
            and "consent=yes" in headers.get("Cookie", ""))


def test_every_request_of_an_html_source_carries_its_headers_and_cookies(
        tmp_path: Path) -> None:
    with SiteServer(demo_site_root()) as site:
        config = source_config(site.url + "en/news/", tmp_path)
        with make_app(config) as app:
            [result] = run_sources(app, ["guarded"], echo=lambda line: None)
        assert result.ok and result.new >= 10, result
        paths = [path for method, path, _ in site.requests if method == "GET"]
        assert "/en/news/" in paths and "/en/news/page/2/" in paths   # listing, next page
        articles = [path for path in paths if path.endswith(".html")]
        assert len(articles) >= 10
        for _method, path, headers in site.requests:
            assert _sent(headers), path


def test_a_feed_source_sends_them_too(tmp_path: Path) -> None:
    with SiteServer(DATA / "feeds") as site:
        config = source_config(site.url + "rss2.xml", tmp_path, kind="feed")
        with make_app(config) as app:
            [result] = run_sources(app, ["guarded"], echo=lambda line: None)
        assert result.ok and result.new > 0
        feed_requests = [headers for _m, path, headers in site.requests if path == "/rss2.xml"]
        assert feed_requests and all(_sent(headers) for headers in feed_requests)


def _redirect_to(target: str) -> Callable[[BaseHTTPRequestHandler, str], bool]:
    def hook(handler: BaseHTTPRequestHandler, path: str) -> bool:
        if path != "/moved":
            return False
        handler.send_response(302)
        handler.send_header("Location", target)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return True
    return hook


def _headers_of(server: SiteServer, path: str) -> list[dict[str, str]]:
    return [headers for _method, seen, headers in server.requests if seen == path]


@pytest.mark.parametrize("followed", [False, True])
def test_a_redirect_to_another_host_gets_them_only_when_followed(tmp_path: Path,
                                                                followed: bool) -> None:
    """The other server is addressed as `localhost`, the source as 127.0.0.1: two hosts.
    The redirect is that of a source's own URL, which may lead anywhere."""
    with SiteServer(demo_site_root()) as elsewhere:
        other = elsewhere.url.replace("127.0.0.1", "localhost")
        with SiteServer(demo_site_root(), hook=_redirect_to(other + "en/news/")) as site:
            follow = f'["{other}"]' if followed else "[]"
            config = source_config(site.url + "en/news/", tmp_path, follow_hosts=follow)
            with Fetcher() as fetcher:
                page = fetcher.get(site.url + "moved", config.fetch_for(config.sources[0]))
            assert isinstance(page, Page) and "news-card" in page.text
            [first] = _headers_of(site, "/moved")
            assert _sent(first)
            [second] = _headers_of(elsewhere, "/en/news/")
            if followed:
                assert _sent(second)
            else:
                assert "X-Api-Key" not in second and "Cookie" not in second
                assert "Accept-Language" not in second


def test_cookies_the_site_sets_join_the_configured_ones(tmp_path: Path) -> None:
    def hook(handler: BaseHTTPRequestHandler, path: str) -> bool:
        if path != "/login":
            return False
        handler.send_response(200)
        handler.send_header("Set-Cookie", "visited=1; Path=/")
        handler.send_header("Set-Cookie", f"session=other-{SESSION}; Path=/")
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"ok")
        return True

    with SiteServer(demo_site_root(), hook=hook) as site:
        config = source_config(site.url + "en/news/", tmp_path)
        settings = config.fetch_for(config.sources[0])
        with Fetcher() as fetcher:
            fetcher.get(site.url + "login", settings)
            fetcher.get(site.url + "en/news/", settings)
        cookie = site.requests[-1][2]["Cookie"]
        # The configured session wins over the one the site set; the site's other cookie stays.
        assert cookie == f"session={SESSION}; consent=yes; visited=1"


@pytest.mark.parametrize(("block", "expected"), [
    ("headers: {Host: example.org}", "header Host cannot be set here"),
    ("headers: {content-length: '5'}", "header content-length cannot be set here"),
    ("headers: {Transfer-Encoding: chunked}", "header Transfer-Encoding cannot be set"),
    ("headers: {Connection: close}", "header Connection cannot be set here"),
    ("headers: {Cookie: a=b}", "write cookies under `cookies:`"),
    ("headers: {User-Agent: x}", "set fetch.user_agent instead"),
    ("headers: {If-None-Match: x}", "conditional requests"),
    ("headers: {'X Bad': x}", "is not a header name"),
    ("headers: {X-Token: \"a\\r\\nHost: evil\"}", "the value of header X-Token holds a line"),
    ("cookies: {'a;b': x}", "is not a cookie name"),
    ("cookies: {sid: 'a; admin=1'}", "the value of cookie sid holds a character"),
    ("render: browser\n    type: feed", "are for html sources"),
])
def test_bad_headers_and_cookies_are_refused_with_the_key_path(block: str,
                                                                expected: str) -> None:
    text = f"""
sources:
  - id: guarded
    url: "https://news.example.org/"
    list: {{item: article, link: a@href}}
    {block}
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, env={})
    message = str(caught.value)
    assert "sources[0]" in message and expected in message
    assert "evil" not in message and "admin=1" not in message  # values are never echoed
    assert caught.value.line is not None


def test_secrets_are_not_shown_by_validate_or_in_any_repr(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("""
sources:
  - id: guarded
    url: "https://news.example.org/"
    list: {item: article, link: a@href}
    headers: {Authorization: {env: TEST_API_KEY}}
    cookies: {session: {env: TEST_SESSION}}
feeds:
  - {id: guarded, title: Guarded, sources: [guarded]}
""")
    result = CliRunner().invoke(cli, ["--config", str(path), "validate"], env=ENV)
    assert result.exit_code == 0, result.output
    assert API_KEY not in result.output and SESSION not in result.output
    config = parse_config(path.read_text(), env=ENV)
    settings = config.fetch_for(config.sources[0])
    for shown in (repr(config), str(config), repr(settings), str(config.sources[0])):
        assert API_KEY not in shown and SESSION not in shown
    assert dict(settings.headers) == {"Authorization": API_KEY}
