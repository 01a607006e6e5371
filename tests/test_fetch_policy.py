"""Fetch policy against real loopback servers (issue 17, findings 3 and 4): private addresses
refused (also after a redirect), content links kept on the source's origins, and overall
deadlines per request and per source run.

Every fixture server is on loopback, which the policy refuses. To stand for a public site,
a test lets 127.0.0.2 count as public (`public_127_0_0_2`): the connection is still made by
the real code path, only that one address's classification changes.
"""

from __future__ import annotations

import ipaddress
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from syndicator import fetchpolicy
from syndicator.app import make_app
from syndicator.cli import run_sources
from syndicator.config import FetchConfig, parse_config
from syndicator.errors import AddressRefused, ConfigError, DeadlineExceeded
from syndicator.fetch import Fetcher
from syndicator.fetchpolicy import OriginPolicy, refusal
from syndicator.model import Page, RunResult
from syndicator.pipeline import run_source

SECRET = "INTERNAL-STATUS-9f3c"       # what the "internal" service's /status shows
Handler = Callable[[BaseHTTPRequestHandler], None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


@contextmanager
def serve(host: str, routes: dict[str, Handler | tuple[int, dict[str, str], str]], *,
          tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """A threaded HTTP server on `host` answering `routes` (path → handler or a canned
    (status, headers, body)); yields its base URL with a trailing slash (https with `tls`)."""

    class Handle(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            route = routes.get(self.path)
            if callable(route):
                route(self)
                return
            status, headers, body = route or (404, {}, "not found")
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

    server = _Server((host, 0), Handle)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://{host}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def public_127_0_0_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """127.0.0.2 counts as a public address for this test."""
    stand_in = ipaddress.ip_address("127.0.0.2")

    def patched(address: fetchpolicy.IPAddress) -> str | None:
        return None if address == stand_in else refusal(address)

    monkeypatch.setattr(fetchpolicy, "refusal", patched)


def page(title: str, body: str) -> str:
    return (f"<html><head><title>{title}</title></head><body><h1>{title}</h1>"
            f"<div class='content'><p>{body}</p></div></body></html>")


def listing(links: list[str]) -> str:
    cards = "".join(f"<article class='card'><a class='link' href='{link}'>Story {n}</a>"
                    f"<time class='date'>2025-10-0{n + 1} 10:00</time></article>"
                    for n, link in enumerate(links))
    return f"<html><body>{cards}</body></html>"


def html_config(url: str, tmp_path: Path, fetch: str, extra: str = "") -> str:
    return f"""
storage: "sqlite:///{tmp_path / 'store.db'}"
output_dir: "{tmp_path / 'feeds'}"
fetch: {{delay: 0s, robots: false, retries: 0, {fetch}}}
sources:
  - id: news
    url: "{url}news/"
    list: {{item: article.card, link: a.link@href, title: a.link, date: .date}}
    article: {{title: h1, content: .content}}
{extra}
feeds:
  - {{id: news, title: News, sources: [news]}}
"""


# --- addresses --------------------------------------------------------------------------------

@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1",
    "169.254.169.254", "fd00:ec2::254", "fe80::1", "100.64.0.1", "0.0.0.0", "::",
    "224.0.0.1", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "fc00::1", "240.0.0.1", "198.18.0.1"])
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111",
                                     "::ffff:93.184.216.34"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_loopback_is_refused_unless_allowed() -> None:
    with serve("127.0.0.1", {"/": (200, {}, page("Home", SECRET))}) as base, \
            Fetcher() as fetcher:
        for url in (base, base.replace("127.0.0.1", "localhost")):
            with pytest.raises(AddressRefused) as refused:
                fetcher.get(url, FetchConfig(robots=False, delay=0))
            assert str(refused.value).startswith(url)
            assert "loopback" in str(refused.value)
            assert "allow_private" in str(refused.value)
        answer = fetcher.get(base, FetchConfig(robots=False, delay=0, allow_private=True))
        assert isinstance(answer, Page) and SECRET in answer.text


def test_a_redirect_to_loopback_is_refused(public_127_0_0_2: None) -> None:
    with serve("127.0.0.1", {"/status": (200, {}, page("Status", SECRET))}) as internal, \
            serve("127.0.0.2", {"/moved": (302, {"Location": internal + "status"}, ""),
                                "/ok": (200, {}, page("Fine", "public"))}) as public, \
            Fetcher() as fetcher:
        settings = FetchConfig(robots=False, delay=0)
        assert isinstance(fetcher.get(public + "ok", settings), Page)
        with pytest.raises(AddressRefused, match="loopback"):
            fetcher.get(public + "moved", settings)
        allowed = fetcher.get(public + "moved", settings.model_copy(
            update={"allow_private": True}))
        assert isinstance(allowed, Page) and SECRET in allowed.text


# --- the pipeline: a listing linking to loopback and to a redirecting host ---------------------

def run_listing_site(tmp_path: Path, host: str, moved_to: str, direct: str, fetch: str,
                     extra: str = "") -> tuple[RunResult, str, list[str], str]:
    """An html source on `host` whose listing links to a normal article, to a page of its
    own that redirects to `moved_to`, and to `direct`. Returns the run, the text of the
    stored items, their URLs and the listing site's base URL."""
    routes: dict[str, Handler | tuple[int, dict[str, str], str]] = {
        "/a1": (200, {}, page("First story", "Public text")),
        "/moved": (302, {"Location": moved_to}, "")}
    with serve(host, routes) as own:
        routes["/news/"] = (200, {}, listing([own + "a1", own + "moved", direct]))
        config = parse_config(html_config(own, tmp_path, fetch, extra))
        with make_app(config) as app:
            result = run_source(app, config.source("news"))
            items = app.store.latest(["news"], limit=50)
    text = " ".join(f"{i.url} {i.title} {i.content or ''} {i.summary or ''}" for i in items)
    return result, text, [i.url for i in items], own


@pytest.mark.parametrize("allow", [False, True])
def test_listing_links_to_private_addresses(tmp_path: Path, public_127_0_0_2: None,
                                            allow: bool) -> None:
    """The listing on 127.0.0.2 (public here) links to a normal article, to a page that
    redirects to the internal /status by the name `localhost`, and to /status directly on
    127.0.0.1. Both other origins are in follow_hosts: only the address policy decides."""
    with serve("127.0.0.1", {"/status": (200, {}, page("Status", SECRET))}) as internal:
        result, text, _urls, public = run_listing_site(
            tmp_path, "127.0.0.2", internal.replace("127.0.0.1", "localhost") + "status",
            internal + "status", f"allow_private: {str(allow).lower()}",
            "    follow_hosts: [localhost, \"127.0.0.1\"]")
    assert "Public text" in text
    if allow:
        assert result.errors == ()
        assert SECRET in text
    else:
        assert SECRET not in text
        assert len(result.errors) == 2
        assert all("loopback" in e and "allow_private" in e for e in result.errors)
        assert any(e.startswith(f"article {internal}status") for e in result.errors)
        assert any(e.startswith(f"article {public}moved: redirected to http://localhost:")
                   for e in result.errors)


@pytest.mark.parametrize("follow", [False, True])
def test_cards_on_other_origins_need_follow_hosts(tmp_path: Path, follow: bool) -> None:
    """allow_private on: only the origin policy decides. The other origin is another port of
    the same address; a page of the listing's own origin redirects there."""
    with serve("127.0.0.1", {"/status": (200, {}, page("Status", SECRET))}) as other:
        extra = f"    follow_hosts: [\"{other.rstrip('/')}\"]" if follow else ""
        result, text, stored, own = run_listing_site(
            tmp_path, "127.0.0.1", other + "status", other + "status", "allow_private: true",
            extra)
    assert "Public text" in text
    if follow:
        assert (result.errors, result.warnings) == ((), ())
        assert SECRET in text
        return
    assert SECRET not in text
    assert other + "status" not in stored                         # the card was skipped
    assert result.warnings == (f"1 link(s) on another origin not followed (list it in "
                               f"follow_hosts to follow it): {other}status",)
    # the same-origin card that redirects elsewhere: an error for that page, not the run
    assert result.ok
    assert len(result.errors) == 1 and "follow_hosts" in result.errors[0]
    assert result.errors[0].startswith(f"article {own}moved")


def test_origin_policy_matching() -> None:
    policy = OriginPolicy("http://News.example.org/en/", ["cdn.example.net", "*.img.example",
                                                          "https://api.example.com:8443"])
    assert policy.allows("http://news.example.org/a")
    assert policy.allows("https://news.example.org/a")          # upgraded to https
    assert not policy.allows("http://news.example.org:8080/a")
    assert not policy.allows("http://evil.example.org/a")
    assert policy.allows("http://cdn.example.net:81/x")
    assert policy.allows("https://a.b.img.example/x")
    assert not policy.allows("https://img.example.evil/x")
    assert policy.allows("https://api.example.com:8443/x")
    assert not policy.allows("https://api.example.com/x")


# --- deadlines --------------------------------------------------------------------------------

def dripping(interval: float, stop: threading.Event) -> Handler:
    """Headers at once, then a 1000-byte body one byte every `interval` seconds."""

    def handle(handler: BaseHTTPRequestHandler) -> None:
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/rss+xml")
            handler.send_header("Content-Length", "1000")
            handler.end_headers()
            handler.wfile.flush()
            for _ in range(1000):
                if stop.wait(interval):
                    return
                handler.wfile.write(b" ")
                handler.wfile.flush()
        except OSError:
            handler.close_connection = True
    return handle


FEED = ("<?xml version='1.0'?><rss version='2.0'><channel><title>Fine</title>"
        "<link>http://example.org/</link><item><title>A fine story</title>"
        "<link>http://example.org/fine</link><pubDate>Wed, 01 Oct 2025 10:00:00 GMT</pubDate>"
        "</item></channel></rss>")


def test_a_dripping_body_ends_at_the_request_deadline_and_later_sources_run(
        tmp_path: Path) -> None:
    stop = threading.Event()
    routes: dict[str, Handler | tuple[int, dict[str, str], str]] = {
        "/slow.xml": dripping(0.5, stop), "/fine.xml": (200, {}, FEED)}
    with serve("127.0.0.1", routes) as base:
        config = parse_config(f"""
storage: "sqlite:///{tmp_path / 'store.db'}"
output_dir: "{tmp_path / 'feeds'}"
fetch: {{delay: 0s, robots: false, retries: 0, allow_private: true, timeout: 5s,
        request_deadline: 2s}}
sources:
  - {{id: slow, type: feed, url: "{base}slow.xml"}}
  - {{id: fine, type: feed, url: "{base}fine.xml"}}
""")
        try:
            with make_app(config) as app:
                started = time.monotonic()
                lines: list[str] = []
                slow, fine = run_sources(app, ["slow", "fine"], echo=lines.append)
                slow_seconds = (slow.finished - slow.started).total_seconds()
                elapsed = time.monotonic() - started
        finally:
            stop.set()
    assert not slow.ok
    assert slow.errors == (f"{base}slow.xml: no complete answer within 2 s "
                           "(fetch.request_deadline)",)
    # a read timeout of 5 s per read never fires on a byte every 0.5 s: the deadline does
    assert 1.5 <= slow_seconds < 5.0
    assert elapsed < 10.0
    assert fine.ok and fine.new == 1
    assert lines[0].startswith("slow: FAILED") and lines[1].startswith("fine: ok")


def test_dripped_headers_end_at_the_deadline() -> None:
    stop = threading.Event()

    def drip_headers(handler: BaseHTTPRequestHandler) -> None:
        try:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for _ in range(100):
                if stop.wait(0.3):
                    return
                handler.wfile.write(b"X-Slow: 1\r\n")
                handler.wfile.flush()
        except OSError:
            handler.close_connection = True

    with serve("127.0.0.1", {"/": drip_headers}) as base, Fetcher() as fetcher:
        started = time.monotonic()
        try:
            with pytest.raises(DeadlineExceeded, match="request_deadline"):
                fetcher.get(base, FetchConfig(robots=False, delay=0, retries=0, timeout=5,
                                              allow_private=True, request_deadline=1.5))
        finally:
            stop.set()
        assert time.monotonic() - started < 4.5


def test_a_source_run_stops_at_its_deadline_and_keeps_what_it_read(tmp_path: Path) -> None:
    """Run deadline 2 s, one article page at a time: the first article page is cut at the
    deadline, the second is not fetched; both stories are stored from the listing alone,
    and the run says why."""
    stop = threading.Event()
    hits: list[str] = []

    def slow_article(handler: BaseHTTPRequestHandler) -> None:
        hits.append(handler.path)
        stop.wait(5.0)
        handler.close_connection = True

    body = listing(["/a1", "/a2"]).replace(
        "</body>", "<a class='next' href='/news/2/'>next</a></body>")
    routes: dict[str, Handler | tuple[int, dict[str, str], str]] = {
        "/news/": (200, {}, body), "/news/2/": (200, {}, listing([])),
        "/a1": slow_article, "/a2": slow_article}
    with serve("127.0.0.1", routes) as base:
        text = html_config(base, tmp_path, "allow_private: true, run_deadline: 2s, "
                                           "concurrency: 1, timeout: 5s")
        text = text.replace("date: .date}", "date: .date, next: a.next@href, max_pages: 3}")
        config = parse_config(text)
        try:
            with make_app(config) as app:
                started = time.monotonic()
                result = run_source(app, config.source("news"))
                elapsed = time.monotonic() - started
                stored = app.store.latest(["news"], limit=10)
        finally:
            stop.set()
    assert hits == ["/a1"]
    assert 1.9 <= elapsed < 8.0
    assert (result.pages, result.new, len(stored)) == (2, 2, 2)
    assert result.errors == (
        f"article {base}a1: the source run's deadline (fetch.run_deadline) passed during "
        "this request",
        "the run's deadline (2 s, fetch.run_deadline) passed: 1 article page(s) not fetched")


def test_fetch_policy_settings_globally_and_per_source() -> None:
    config = parse_config("""
fetch: {request_deadline: 30s}
sources:
  - {id: a, type: feed, url: "https://a.example.org/feed.xml"}
  - id: b
    type: feed
    url: "http://10.0.0.5/feed.xml"
    fetch: {allow_private: true, run_deadline: 2m}
    follow_hosts: [cdn.example.org, "*.img.example.org", "https://media.example.org:8443"]
""")
    a, b = (config.fetch_for(s) for s in config.sources)
    assert (a.allow_private, a.request_deadline, a.run_deadline) == (False, 30.0, 600.0)
    assert (b.allow_private, b.request_deadline, b.run_deadline) == (True, 30.0, 120.0)
    assert config.sources[0].follow_hosts == ()
    with pytest.raises(ConfigError, match="follow_hosts"):
        parse_config("""
sources:
  - {id: a, type: feed, url: "https://a.example.org/f", follow_hosts: ["a b/c"]}
""")


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (openssl), and its key."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


def test_https_is_checked_and_cut_at_the_deadline(tls_files: tuple[Path, Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Over TLS too: loopback refused without allow_private, and a dripping body ends at
    the deadline (the socket under the TLS layer is shut down)."""
    cert, key = tls_files
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    stop = threading.Event()
    routes: dict[str, Handler | tuple[int, dict[str, str], str]] = {
        "/": (200, {}, page("Home", SECRET)), "/slow": dripping(0.3, stop)}
    settings = FetchConfig(robots=False, delay=0, retries=0, timeout=5)
    with serve("127.0.0.1", routes, tls=context) as base, Fetcher() as fetcher:
        try:
            with pytest.raises(AddressRefused, match="loopback"):
                fetcher.get(base, settings)
            allowed = settings.model_copy(update={"allow_private": True,
                                                  "request_deadline": 1.5})
            answer = fetcher.get(base, allowed)
            assert isinstance(answer, Page) and SECRET in answer.text
            started = time.monotonic()
            with pytest.raises(DeadlineExceeded, match=r"within 1\.5 s"):
                fetcher.get(base + "slow", allowed)
            assert time.monotonic() - started < 4.5
        finally:
            stop.set()


def test_through_a_proxy_the_target_is_checked_before_the_request(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With HTTP_PROXY set the connection goes to the proxy, so the target's name is
    resolved and checked before anything is sent."""
    asked: list[str] = []

    def proxy(handler: BaseHTTPRequestHandler) -> None:
        asked.append(handler.path)
        handler.send_response(200)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    target = "http://localhost:9/status"
    with serve("127.0.0.1", {target: proxy}) as proxy_base:
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy_base)
        settings = FetchConfig(robots=False, delay=0, retries=0)
        with Fetcher() as fetcher:
            with pytest.raises(AddressRefused, match="localhost resolves"):
                fetcher.get(target, settings)
            assert asked == []
            # allowed: the request goes to the proxy (which answers for the target)
            fetcher.get(target, settings.model_copy(update={"allow_private": True}))
    assert asked == [target]


def test_feed_and_sitemap_links_to_other_origins(tmp_path: Path) -> None:
    """A feed whose article pages are fetched keeps an entry linking elsewhere with the
    feed's own content, without fetching it; a sitemap's entries and child sitemaps on
    other origins are not followed at all."""
    with serve("127.0.0.1", {"/status": (200, {}, page("Status", SECRET))}) as other:
        feed = FEED.replace("http://example.org/fine", "{own}a1").replace(
            "</channel>", f"<item><title>Elsewhere</title><link>{other}status</link>"
            "<pubDate>Wed, 01 Oct 2025 11:00:00 GMT</pubDate></item></channel>")
        routes: dict[str, Handler | tuple[int, dict[str, str], str]] = {
            "/a1": (200, {}, page("First story", "Public text"))}
        with serve("127.0.0.1", routes) as own:
            routes["/feed.xml"] = (200, {}, feed.replace("{own}", own))
            routes["/sitemap.xml"] = (200, {}, (
                "<?xml version='1.0'?><sitemapindex xmlns="
                "'http://www.sitemaps.org/schemas/sitemap/0.9'>"
                f"<sitemap><loc>{own}s1.xml</loc></sitemap>"
                f"<sitemap><loc>{other}s2.xml</loc></sitemap></sitemapindex>"))
            routes["/s1.xml"] = (200, {}, (
                "<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
                f"<url><loc>{own}a1</loc><lastmod>2025-10-01</lastmod></url>"
                f"<url><loc>{other}status</loc><lastmod>2025-10-02</lastmod></url></urlset>"))
            config = parse_config(f"""
storage: "sqlite:///{tmp_path / 'store.db'}"
output_dir: "{tmp_path / 'feeds'}"
fetch: {{delay: 0s, robots: false, retries: 0, allow_private: true}}
sources:
  - {{id: f, type: feed, url: "{own}feed.xml", fetch_articles: true,
      article: {{title: h1, content: .content}}}}
  - {{id: m, type: sitemap, url: "{own}sitemap.xml", article: {{title: h1, content: .content}}}}
""")
            with make_app(config) as app:
                in_feed = run_source(app, config.source("f"))
                in_sitemap = run_source(app, config.source("m"))
                feed_items = {i.url: i for i in app.store.latest(["f"], limit=10)}
                sitemap_items = [i.url for i in app.store.latest(["m"], limit=10)]
    assert in_feed.errors == () and in_sitemap.errors == ()
    assert in_feed.warnings == ("1 link(s) on another origin not followed (list it in "
                                f"follow_hosts to follow it): {other}status",)
    assert feed_items[f"{other}status"].title == "Elsewhere"         # the feed's own entry
    assert SECRET not in (feed_items[f"{other}status"].content or "")
    assert "Public text" in (feed_items[f"{own}a1"].content or "")   # own origin: fetched
    assert sitemap_items == [f"{own}a1"]
    assert in_sitemap.warnings[:2] == (     # (then: the page gives no date)
        f"1 sitemap(s) on another origin not followed (list it in follow_hosts to follow it): "
        f"{other}s2.xml",
        f"1 link(s) on another origin not followed (list it in follow_hosts to follow it): "
        f"{other}status")


# --- one parser: the origin checked is the origin connected to ---------------------------------

class _Everything(dict[str, "Handler | tuple[int, dict[str, str], str]"]):
    """Routes answering every path with the internal status page, noting each path asked."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def get(self, path: str, default: object = None) -> tuple[int, dict[str, str], str]:
        self.asked.append(path)
        return (200, {}, page("Status", SECRET))


def hostile_links(own: str, other: str) -> list[str]:
    """Links that urlsplit reads as on `own`'s origin (or that resolve there when a backslash
    is not read as a slash) but that name `other`, or that carry user info or whitespace."""
    mine, theirs = own.removeprefix("http://").rstrip("/"), other.removeprefix("http://").rstrip("/")
    return [f"http://{theirs}\\@{mine}/../status",        # urllib3 (and browsers): theirs
            f"http://{theirs}%5C@{mine}/../status",        # user info "theirs\"
            f"http://{theirs}@{mine}/status",              # user info
            f"http://{theirs}\t\\@{mine}/status",          # tab, then a backslash
            f"http://{theirs}\n@{mine}/status",            # newline in the user info
            f"http://{theirs[:-1]}\t{theirs[-1]}\\@{mine}/status",   # tab inside the port
            f"\\\\{theirs}/status",                        # scheme-relative, WHATWG style
            f"http:\\\\{theirs}\\status",
            f"http://2130706433:{theirs.rsplit(':', 1)[1]}/status"]  # 127.0.0.1, as a number


def test_links_that_parsers_read_differently_go_nowhere_else(tmp_path: Path) -> None:
    """allow_private on, no follow_hosts: a listing's cards and next-page link that urlsplit
    reads as the source's own origin but urllib3 (what connects) as another port never reach
    that other server, and nothing of it is stored."""
    other_routes = _Everything()
    with serve("127.0.0.1", other_routes) as other:
        routes: dict[str, Handler | tuple[int, dict[str, str], str]] = {
            "/a1": (200, {}, page("First story", "Public text"))}
        with serve("127.0.0.1", routes) as own:
            links = [own + "a1", *hostile_links(own, other)]
            nxt = hostile_links(own, other)[0].replace("/../status", "/news/2")
            routes["/news/"] = (200, {}, listing(links).replace(
                "</body>", f"<a class='next' href='{nxt}'>next</a></body>"))
            text = html_config(own, tmp_path, "allow_private: true").replace(
                "date: .date}", "date: .date, next: a.next@href, max_pages: 3}")
            config = parse_config(text)
            with make_app(config) as app:
                result = run_source(app, config.source("news"))
                items = app.store.latest(["news"], limit=50)
    assert other_routes.asked == []
    stored = " ".join(f"{i.url} {i.title} {i.content or ''} {i.summary or ''}" for i in items)
    assert "Public text" in stored and SECRET not in stored
    assert [i.url for i in items] == [own + "a1"]
    assert result.errors == ()
    assert any("next page" in w for w in result.warnings)


def test_the_fetcher_refuses_a_url_whose_host_parsers_read_differently() -> None:
    """Without any origin policy (a source's own URL): the connection goes where the policy
    looked, or nowhere."""
    other_routes = _Everything()
    settings = FetchConfig(delay=0, robots=False, retries=0, allow_private=True)
    with serve("127.0.0.1", other_routes) as other, \
            serve("127.0.0.1", {"/status": (200, {}, page("Own", "Own text"))}) as own, \
            Fetcher() as fetcher:
        mine, theirs = own[7:-1], other[7:-1]
        for url in (f"http://{theirs}\\@{mine}/../status", f"http://{theirs}\\@{mine}/status",
                    f"http://{theirs}\\x@{mine}/status"):
            with pytest.raises(AddressRefused, match="ambiguous URL"):
                fetcher.get(url, settings)
        # with an origin policy, user info is refused before any request
        with pytest.raises(AddressRefused, match="not an origin this source follows"):
            fetcher.get(f"http://{theirs}%5C@{mine}/status", settings,
                        follow=OriginPolicy(own))
        fine = fetcher.get(own + "status", settings, follow=OriginPolicy(own))
        assert isinstance(fine, Page) and "Own text" in fine.text
    assert other_routes.asked == []


def test_origin_policy_refuses_user_info_and_odd_authorities() -> None:
    policy = OriginPolicy("http://news.example.org/")
    assert policy.allows("http://news.example.org/a\\b")              # a backslash in a path
    for url in ("http://evil.example\\@news.example.org/", "http://u:p@news.example.org/",
                "http://evil.example%5C@news.example.org/", "http://news.example.org\t/",
                "http://news.example.org /", "http://evil.example\\news.example.org/"):
        assert not policy.allows(url), url


def test_sitemap_links_that_parsers_read_differently(tmp_path: Path) -> None:
    other_routes = _Everything()
    with serve("127.0.0.1", other_routes) as other:
        routes: dict[str, Handler | tuple[int, dict[str, str], str]] = {
            "/a1": (200, {}, page("First story", "Public text"))}
        with serve("127.0.0.1", routes) as own:
            bad = hostile_links(own, other)
            child = bad[0].replace("/../status", "/s2.xml")
            routes["/sitemap.xml"] = (200, {}, (
                "<?xml version='1.0'?><sitemapindex xmlns="
                "'http://www.sitemaps.org/schemas/sitemap/0.9'>"
                f"<sitemap><loc>{own}s1.xml</loc></sitemap>"
                f"<sitemap><loc>{child}</loc></sitemap></sitemapindex>"))
            locs = "".join(f"<url><loc>{link.replace('&', '&amp;')}</loc></url>"
                           for link in [own + "a1", *bad] if "\n" not in link)
            routes["/s1.xml"] = (200, {}, (
                "<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
                f"{locs}</urlset>"))
            config = parse_config(f"""
storage: "sqlite:///{tmp_path / 'store.db'}"
output_dir: "{tmp_path / 'feeds'}"
fetch: {{delay: 0s, robots: false, retries: 0, allow_private: true}}
sources:
  - {{id: m, type: sitemap, url: "{own}sitemap.xml", article: {{title: h1, content: .content}}}}
""")
            with make_app(config) as app:
                result = run_source(app, config.source("m"))
                items = app.store.latest(["m"], limit=20)
    assert other_routes.asked == []
    assert [i.url for i in items] == [own + "a1"]
    assert SECRET not in " ".join(i.content or "" for i in items)
    assert result.errors == ()


@pytest.mark.parametrize("kind", ["html", "sitemap"])
def test_check_follows_links_as_a_fetch_does(tmp_path: Path, kind: str) -> None:
    """`syndicator check` applies the source's origin policy to the links it follows (the
    first article, a sitemap index's child): neither reaches the other server."""
    from syndicator.check import check_source

    other_routes = _Everything()
    with serve("127.0.0.1", other_routes) as other:
        routes: dict[str, Handler | tuple[int, dict[str, str], str]] = {
            "/a1": (200, {}, page("First story", "Public text"))}
        with serve("127.0.0.1", routes) as own:
            port = other.rstrip("/").rsplit(":", 1)[1]
            bad = [f"http://2130706433:{port}/status", hostile_links(own, other)[0]]
            routes["/news/"] = (200, {}, listing([*bad, own + "a1"]))
            routes["/sitemap.xml"] = (200, {}, (
                "<?xml version='1.0'?><sitemapindex xmlns="
                "'http://www.sitemaps.org/schemas/sitemap/0.9'>"
                f"<sitemap><loc>{bad[1].replace('/../status', '/s.xml')}</loc></sitemap>"
                f"<sitemap><loc>{other}s.xml</loc></sitemap></sitemapindex>"))
            text = html_config(own, tmp_path, "allow_private: true")
            if kind == "sitemap":
                text = text.replace(f'url: "{own}news/"',
                                    f'type: sitemap\n    url: "{own}sitemap.xml"')
                text = "\n".join(line for line in text.split("\n")
                                 if not line.startswith("    list:"))
            config = parse_config(text)
            shown: list[str] = []
            with Fetcher() as fetcher:
                check_source(config, config.source("news"), fetcher, echo=shown.append)
    out = "\n".join(shown)
    assert other_routes.asked == []
    assert SECRET not in out
    assert "on another origin" in out and "follow_hosts" in out
