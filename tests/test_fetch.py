"""Fetcher against real loopback HTTP servers (the demo SiteServer with scripted routes)."""

from __future__ import annotations

import gzip
import itertools
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import requests

from syndicator.config import FetchConfig
from syndicator.decode import decode_body
from syndicator.demo.server import SiteServer
from syndicator.errors import FetchError, ResponseTooLarge, RobotsDisallowed
from syndicator.fetch import Fetcher, parse_retry_after, product_token
from syndicator.fetch.failures import describe
from syndicator.model import NotModified, Page, Validators
from tests.net_support import free_port

Route = Callable[[BaseHTTPRequestHandler], None]

CYRILLIC = (
    "Мінск, 12 сакавіка. Урад абвясціў новую праграму падтрымкі малога бізнесу ў рэгіёнах. "
    "Па словах міністра, грошы атрымаюць больш за тысячу прадпрыемстваў да канца года. "
    "В Москве прошла пресс-конференция, посвящённая развитию общественного транспорта: "
    "власти обещают обновить троллейбусы и автобусы, а также продлить линии метро. "
    "Эксперты считают, что это сократит время в пути для жителей спальных районов."
)
FRENCH = ("Le café de la gare a été rénové cet été ; les habitués sont ravis et déjà nombreux "
          "à revenir à l'heure du déjeuner.")


def cyrillic_html(head: str = "") -> str:
    return (f"<!DOCTYPE html><html><head>{head}<title>Навіны</title></head>"
            f"<body><h1>Галоўнае</h1><p>{CYRILLIC}</p></body></html>")


def cfg(**changes: Any) -> FetchConfig:
    """Fast settings for tests: no delay, no robots unless a test asks for them."""
    values: dict[str, Any] = {"delay": 0.0, "robots": False, "timeout": 5.0,
                              "connect_timeout": 2.0, "allow_private": True}
    values.update(changes)
    return FetchConfig(**values)


def reply(handler: BaseHTTPRequestHandler, status: int = 200, body: bytes = b"",
          content_type: str | None = "text/html; charset=utf-8",
          headers: dict[str, str] | None = None) -> None:
    try:
        handler.send_response(status)
        if content_type:
            handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(body)
    except OSError:  # the client gave up (timeouts, caps): nothing to answer any more
        handler.close_connection = True


@dataclass
class Scripted:
    """The shared SiteServer, answering from `routes` and noting when each request arrived."""

    server: SiteServer
    root: Path
    routes: dict[str, Route] = field(default_factory=dict)
    arrivals: list[tuple[str, float]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def hits(self, path: str) -> int:
        return sum(1 for _, p, _ in self.server.requests if p == path)

    def headers(self, path: str) -> dict[str, str]:
        return next(h for _, p, h in self.server.requests if p == path)


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Scripted]]:
    """One server for the module (stopping one costs half a second); tests swap its script."""
    current: list[Scripted] = []

    def hook(handler: BaseHTTPRequestHandler, path: str) -> bool:
        scripted = current[-1]
        scripted.arrivals.append((path, time.monotonic()))
        route = scripted.routes.get(path)
        if route is None:
            return False
        route(handler)
        return True

    root = tmp_path_factory.mktemp("site")
    with SiteServer(root=root, hook=hook) as server:
        current.append(Scripted(server=server, root=root))
        yield current


@pytest.fixture
def site(shared_server: list[Scripted]) -> Scripted:
    previous = shared_server[-1]
    previous.server.requests.clear()
    fresh = Scripted(server=previous.server, root=previous.root)
    shared_server.append(fresh)
    return fresh


class FakeClock:
    """Injected sleep/monotonic: sleeping advances the clock; no wall time passes."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fetcher(clock: FakeClock) -> Iterator[Fetcher]:
    with Fetcher(sleep=clock.sleep, monotonic=clock.monotonic) as fetcher:
        yield fetcher


def page_of(result: Page | NotModified) -> Page:
    assert isinstance(result, Page), result
    return result


def sequence(*routes: Route) -> Route:
    """A route answering with each of `routes` in turn, then repeating the last."""
    calls = iter(range(10_000))

    def route(handler: BaseHTTPRequestHandler) -> None:
        routes[min(next(calls), len(routes) - 1)](handler)
    return route


def status(code: int, headers: dict[str, str] | None = None) -> Route:
    return lambda h: reply(h, code, f"status {code}".encode(), "text/plain", headers)


def ok(body: str = "<p>ok</p>") -> Route:
    return lambda h: reply(h, 200, body.encode())


# --- 1. request headers and timeouts ----------------------------------------------------------

def test_sends_user_agent_accept_and_encoding(site: Scripted, fetcher: Fetcher) -> None:
    site.routes["/page"] = ok()
    page_of(fetcher.get(site.url + "page", cfg(user_agent="TestBot/2.0 (+x)")))
    headers = site.headers("/page")
    assert headers["User-Agent"] == "TestBot/2.0 (+x)"
    assert headers["Accept-Encoding"] == "gzip, deflate"
    assert "text/html" in headers["Accept"] and "application/rss+xml" in headers["Accept"]


def test_cookies_set_by_a_site_are_sent_back(site: Scripted, fetcher: Fetcher) -> None:
    # The Fetcher prepares requests itself (not through Session.request): the session's
    # cookie jar must still be filled by answers and read for the next request.
    site.routes["/first"] = lambda h: reply(h, 200, b"<p>hi</p>",
                                            headers={"Set-Cookie": "consent=yes; Path=/"})
    site.routes["/second"] = ok()
    page_of(fetcher.get(site.url + "first", cfg()))
    page_of(fetcher.get(site.url + "second", cfg()))
    assert "Cookie" not in site.headers("/first")
    assert site.headers("/second")["Cookie"] == "consent=yes"


def test_credentials_in_the_url_become_basic_auth(site: Scripted, fetcher: Fetcher) -> None:
    site.routes["/private"] = ok()
    url = site.url.replace("http://", "http://user:s3cret@") + "private"
    page_of(fetcher.get(url, cfg()))
    assert site.headers("/private")["Authorization"] == "Basic dXNlcjpzM2NyZXQ="


def test_only_our_headers_and_the_session_defaults_are_sent(site: Scripted,
                                                            fetcher: Fetcher) -> None:
    site.routes["/page"] = ok()
    fetcher.get(site.url + "page", cfg(), validators=Validators(etag='"v1"'))
    headers = site.headers("/page")
    assert headers["If-None-Match"] == '"v1"'
    assert "If-Modified-Since" not in headers
    assert headers["Connection"] == "keep-alive"
    assert "python-requests" not in str(headers)


class RecordingSession(requests.Session):
    """A real session that remembers the keyword arguments of each request."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[dict[str, Any]] = []

    def request(self, method: str | bytes, url: str | bytes,  # type: ignore[override]
                **kwargs: Any) -> requests.Response:
        self.calls.append(kwargs)
        return super().request(method, url, **kwargs)


def test_connect_and_read_timeouts_reach_requests(site: Scripted) -> None:
    site.routes["/page"] = ok()
    session = RecordingSession()
    with Fetcher(session=session) as fetcher:
        fetcher.get(site.url + "page", cfg(connect_timeout=3.0, timeout=7.5))
    assert session.calls[0]["timeout"] == (3.0, 7.5)
    assert session.calls[0]["allow_redirects"] is False
    session.close()


def test_read_timeout_is_a_fetch_error(site: Scripted, fetcher: Fetcher) -> None:
    release = threading.Event()

    def slow(handler: BaseHTTPRequestHandler) -> None:
        release.wait(2.0)
        reply(handler)

    site.routes["/slow"] = slow
    started = time.monotonic()
    with pytest.raises(FetchError, match="read timeout") as caught:
        fetcher.get(site.url + "slow", cfg(timeout=0.2, retries=0))
    release.set()
    assert time.monotonic() - started < 1.0
    assert caught.value.status is None


# --- 2. retries and backoff -------------------------------------------------------------------

def test_5xx_is_retried_with_exponential_backoff(site: Scripted, fetcher: Fetcher,
                                                 clock: FakeClock) -> None:
    site.routes["/flaky"] = sequence(status(503), status(502), ok("<p>finally</p>"))
    page = page_of(fetcher.get(site.url + "flaky", cfg(retries=2)))
    assert "finally" in page.text
    assert site.hits("/flaky") == 3
    assert clock.sleeps == [0.5, 1.0]


def test_retry_after_is_honoured_and_capped(site: Scripted, fetcher: Fetcher,
                                            clock: FakeClock) -> None:
    site.routes["/busy"] = sequence(status(503, {"Retry-After": "2"}),
                                    status(429, {"Retry-After": "86400"}), ok())
    page_of(fetcher.get(site.url + "busy", cfg(retries=3)))
    assert clock.sleeps == [2.0, 30.0]


def test_persistent_5xx_gives_fetch_error_with_status(site: Scripted, fetcher: Fetcher) -> None:
    site.routes["/down"] = status(500)
    with pytest.raises(FetchError) as caught:
        fetcher.get(site.url + "down", cfg(retries=2))
    assert caught.value.status == 500
    assert caught.value.url == site.url + "down"
    assert site.hits("/down") == 3


def test_4xx_is_not_retried(site: Scripted, fetcher: Fetcher, clock: FakeClock) -> None:
    site.routes["/gone"] = status(410)
    with pytest.raises(FetchError) as caught:
        fetcher.get(site.url + "gone", cfg(retries=3))
    assert caught.value.status == 410
    assert site.hits("/gone") == 1
    assert clock.sleeps == []


def test_connection_refused_is_retried_then_wrapped(fetcher: Fetcher, clock: FakeClock) -> None:
    url = f"http://127.0.0.1:{free_port()}/page"
    with pytest.raises(FetchError, match="connection failed") as caught:
        fetcher.get(url, cfg(retries=2))
    assert caught.value.status is None
    assert caught.value.url == url
    assert isinstance(caught.value.__cause__, requests.RequestException)
    assert clock.sleeps == [0.5, 1.0]


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None


# --- 3. size cap ------------------------------------------------------------------------------

HUGE = 64 * 1024 * 1024


def streaming(written: list[int], *, declare_length: bool) -> Route:
    """Send a HUGE body in chunks, noting how much went out before the client hung up."""
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        if declare_length:
            handler.send_header("Content-Length", str(HUGE))
        else:
            handler.send_header("Connection", "close")
        handler.end_headers()
        chunk = b"x" * 65536
        sent = 0
        try:
            while sent < HUGE:
                handler.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            pass
        written.append(sent)
    return route


def test_content_length_over_cap_is_abandoned(site: Scripted, fetcher: Fetcher) -> None:
    written: list[int] = []
    site.routes["/big"] = streaming(written, declare_length=True)
    with pytest.raises(ResponseTooLarge, match="Content-Length") as caught:
        fetcher.get(site.url + "big", cfg(max_bytes=100_000))
    assert caught.value.status == 200
    _wait_for(lambda: bool(written))
    assert written[0] < HUGE


def test_streamed_body_crossing_cap_stops_reading(site: Scripted, fetcher: Fetcher) -> None:
    written: list[int] = []
    site.routes["/endless"] = streaming(written, declare_length=False)
    with pytest.raises(ResponseTooLarge, match="body exceeds"):
        fetcher.get(site.url + "endless", cfg(max_bytes=300_000))
    _wait_for(lambda: bool(written))
    assert written[0] < HUGE


def test_gzip_is_decoded_and_a_gzip_bomb_is_capped(site: Scripted, fetcher: Fetcher) -> None:
    small = gzip.compress("<p>сжатая страница</p>".encode())
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))
    site.routes["/small"] = lambda h: reply(h, body=small, headers={"Content-Encoding": "gzip"})
    site.routes["/bomb"] = lambda h: reply(h, body=bomb, headers={"Content-Encoding": "gzip"})
    assert "сжатая страница" in page_of(fetcher.get(site.url + "small", cfg())).text
    assert len(bomb) < 1_000_000
    with pytest.raises(ResponseTooLarge):
        fetcher.get(site.url + "bomb", cfg(max_bytes=1_000_000))


def _wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


# --- 4. robots.txt ----------------------------------------------------------------------------

def robots(text: str) -> Route:
    return lambda h: reply(h, body=text.encode(), content_type="text/plain")


def test_robots_disallow_and_cache(site: Scripted, fetcher: Fetcher) -> None:
    site.routes["/robots.txt"] = robots("User-agent: *\nDisallow: /private/\n")
    site.routes["/news"] = ok()
    settings = cfg(robots=True)
    page_of(fetcher.get(site.url + "news", settings))
    page_of(fetcher.get(site.url + "news", settings))
    with pytest.raises(RobotsDisallowed) as caught:
        fetcher.get(site.url + "private/x", settings)
    assert caught.value.url == site.url + "private/x"
    assert site.hits("/robots.txt") == 1
    assert site.hits("/private/x") == 0


def test_robots_matches_the_product_token(site: Scripted, fetcher: Fetcher) -> None:
    site.routes["/robots.txt"] = robots(
        "User-agent: Syndicator\nDisallow: /\n\nUser-agent: *\nAllow: /\n")
    site.routes["/news"] = ok()
    assert product_token("Syndicator/0.1 (+https://example.org)") == "Syndicator"
    with pytest.raises(RobotsDisallowed):
        fetcher.get(site.url + "news", cfg(robots=True))  # default UA: Syndicator/0.1 (...)
    page_of(fetcher.get(site.url + "news", cfg(robots=True, user_agent="OtherBot/1.0")))


def test_robots_cache_expires_after_an_hour(site: Scripted, fetcher: Fetcher,
                                            clock: FakeClock) -> None:
    site.routes["/robots.txt"] = robots("User-agent: *\nDisallow: /private/\n")
    site.routes["/news"] = ok()
    fetcher.get(site.url + "news", cfg(robots=True))
    clock.now += 3500
    fetcher.get(site.url + "news", cfg(robots=True))
    assert site.hits("/robots.txt") == 1
    clock.now += 200
    fetcher.get(site.url + "news", cfg(robots=True))
    assert site.hits("/robots.txt") == 2


def test_missing_robots_allows_everything(site: Scripted, fetcher: Fetcher) -> None:
    site.routes["/news"] = ok()
    page_of(fetcher.get(site.url + "news", cfg(robots=True)))
    assert site.hits("/robots.txt") == 1  # the SiteServer answered 404


@pytest.mark.parametrize("broken", ["500", "hang-up"])
def test_broken_robots_allows_with_a_warning(site: Scripted, fetcher: Fetcher, broken: str,
                                             caplog: pytest.LogCaptureFixture) -> None:
    def hang_up(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True  # no answer at all: the client sees a dead connection

    site.routes["/robots.txt"] = status(500) if broken == "500" else hang_up
    site.routes["/news"] = ok()
    with caplog.at_level(logging.WARNING, logger="syndicator.fetch"):
        page_of(fetcher.get(site.url + "news", cfg(robots=True, retries=2)))
    assert "robots.txt" in caplog.text and "allowing all" in caplog.text
    assert site.hits("/robots.txt") == 1  # robots.txt is not retried


def test_robots_false_skips_the_check(site: Scripted, fetcher: Fetcher) -> None:
    site.routes["/robots.txt"] = robots("User-agent: *\nDisallow: /\n")
    site.routes["/news"] = ok()
    page_of(fetcher.get(site.url + "news", cfg(robots=False)))
    assert site.hits("/robots.txt") == 0


def test_robots_fetch_goes_through_the_politeness_gate(site: Scripted, fetcher: Fetcher,
                                                       clock: FakeClock) -> None:
    site.routes["/news"] = ok()
    fetcher.get(site.url + "news", cfg(robots=True, delay=1.0))
    assert clock.sleeps == [1.0]  # robots.txt started first, the page a second later


def test_robots_crawl_delay_lengthens_the_gap(site: Scripted, fetcher: Fetcher,
                                             clock: FakeClock) -> None:
    site.routes["/robots.txt"] = robots("User-agent: *\nCrawl-delay: 3\n")
    site.routes["/news"] = ok()
    fetcher.get(site.url + "news", cfg(robots=True, delay=1.0))
    fetcher.get(site.url + "news", cfg(robots=True, delay=1.0))
    assert clock.sleeps == [3.0, 3.0]


# --- 5. politeness ----------------------------------------------------------------------------

def test_delay_between_starts_uses_the_injected_clock(site: Scripted, fetcher: Fetcher,
                                                      clock: FakeClock) -> None:
    site.routes["/news"] = ok()
    for _ in range(3):
        fetcher.get(site.url + "news", cfg(delay=1.0))
    assert clock.sleeps == [1.0, 1.0]
    clock.now += 0.75
    fetcher.get(site.url + "news", cfg(delay=1.0))
    assert clock.sleeps == [1.0, 1.0, 0.25]


def test_delay_is_per_host(site: Scripted, fetcher: Fetcher, clock: FakeClock) -> None:
    site.routes["/news"] = ok()
    port = site.url.rsplit(":", 1)[1].rstrip("/")
    fetcher.get(f"http://127.0.0.1:{port}/news", cfg(delay=5.0))
    fetcher.get(f"http://localhost:{port}/news", cfg(delay=5.0))
    assert clock.sleeps == []


def run_threads(count: int, target: Callable[[], object]) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors, errors


def test_real_delay_between_request_starts(site: Scripted) -> None:
    site.routes["/news"] = ok()
    settings = cfg(delay=0.2, per_host=4, robots=True)
    with Fetcher() as fetcher:
        run_threads(4, lambda: fetcher.get(site.url + "news", settings))
    starts = sorted(t for path, t in site.arrivals if path == "/news")
    assert len(starts) == 4
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # The gate spaces the starts on the client's clock; the server sees each request a
    # moment later (request preparation, connection, thread scheduling), usually within
    # 2 ms of the next, rarely ~15 ms on a busy machine: hence the allowance.
    assert min(gaps) >= 0.2 - 0.025, gaps
    assert starts[-1] - starts[0] >= 3 * 0.2 - 0.025
    assert site.hits("/robots.txt") == 1  # four threads, one robots.txt fetch


def test_real_per_host_concurrency_limit(site: Scripted) -> None:
    lock = threading.Lock()
    active = [0]
    peak = [0]

    def slow(handler: BaseHTTPRequestHandler) -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.15)
        with lock:
            active[0] -= 1
        reply(handler)

    site.routes["/slow"] = slow
    with Fetcher() as fetcher:
        run_threads(6, lambda: fetcher.get(site.url + "slow", cfg(per_host=2)))
    assert site.hits("/slow") == 6
    assert peak[0] == 2


# --- 6. conditional GET -----------------------------------------------------------------------

def test_conditional_get_with_etag_and_last_modified(site: Scripted, fetcher: Fetcher) -> None:
    (site.root / "news.html").write_text("<p>static</p>", encoding="utf-8")
    server = site.server
    page = page_of(fetcher.get(server.url + "news.html", cfg()))
    assert page.validators.etag and page.validators.last_modified
    again = fetcher.get(server.url + "news.html", cfg(), validators=page.validators)
    assert again == NotModified(url=server.url + "news.html", validators=page.validators)
    assert server.requests[-1][2]["If-None-Match"] == page.validators.etag
    by_date = Validators(last_modified=page.validators.last_modified)
    result = fetcher.get(server.url + "news.html", cfg(), validators=by_date)
    assert isinstance(result, NotModified)
    assert server.requests[-1][2]["If-Modified-Since"] == page.validators.last_modified
    stale = fetcher.get(server.url + "news.html", cfg(), validators=Validators(etag='"x"'))
    assert page_of(stale).text == "<p>static</p>"


# --- 7. decoding ------------------------------------------------------------------------------

def test_windows_1251_without_any_declaration_is_detected(site: Scripted,
                                                          fetcher: Fetcher) -> None:
    folder = site.root / "by"
    folder.mkdir()
    (folder / ".charset").write_text("none")
    (folder / "index.html").write_bytes(cyrillic_html().encode("cp1251"))
    page = page_of(fetcher.get(site.url + "by/", cfg()))
    assert page.encoding == "cp1251"
    assert CYRILLIC in page.text
    assert page.content_type == "text/html"
    assert page.raw == cyrillic_html().encode("cp1251")


@pytest.mark.parametrize("header, head", [
    ("text/html", '<meta charset="windows-1251">'),
    ("text/html; charset=ISO-8859-1",
     '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'),
    ("text/html; charset=iso-8859-1", ""),  # weak header, no meta: detection wins
])
def test_meta_and_detection_beat_a_weak_latin1_header(site: Scripted, fetcher: Fetcher,
                                                      header: str, head: str) -> None:
    body = cyrillic_html(head).encode("cp1251")
    site.routes["/page"] = lambda h: reply(h, body=body, content_type=header)
    page = page_of(fetcher.get(site.url + "page", cfg()))
    assert page.encoding == "cp1251"
    assert CYRILLIC in page.text


def test_weak_latin1_header_still_decodes_western_text(site: Scripted, fetcher: Fetcher) -> None:
    body = f"<html><body><p>{FRENCH}</p></body></html>".encode("latin-1")
    site.routes["/fr"] = lambda h: reply(h, body=body, content_type="text/html; charset=ISO-8859-1")
    page = page_of(fetcher.get(site.url + "fr", cfg()))
    assert FRENCH in page.text
    assert page.encoding == "cp1252"


def test_header_charset_is_trusted(site: Scripted, fetcher: Fetcher) -> None:
    body = cyrillic_html('<meta charset="utf-8">').encode("koi8-r", errors="replace")
    site.routes["/koi"] = lambda h: reply(h, body=body, content_type="Text/HTML; Charset=KOI8-R")
    page = page_of(fetcher.get(site.url + "koi", cfg()))
    assert page.encoding == "koi8-r"
    assert "В Москве прошла пресс-конференция" in page.text
    assert page.content_type == "text/html"


def test_bom_wins_and_is_stripped(site: Scripted, fetcher: Fetcher) -> None:
    body = b"\xef\xbb\xbf" + cyrillic_html().encode("utf-8")
    site.routes["/bom"] = lambda h: reply(h, body=body, content_type="text/html; charset=latin1")
    page = page_of(fetcher.get(site.url + "bom", cfg()))
    assert page.encoding == "utf-8"
    assert page.text.startswith("<!DOCTYPE html>")
    assert CYRILLIC in page.text


def test_feed_keeps_raw_bytes_and_reads_the_xml_declaration(site: Scripted,
                                                            fetcher: Fetcher) -> None:
    xml = ('<?xml version="1.0" encoding="windows-1251"?>\n<rss version="2.0"><channel>'
           f"<title>Навіны</title><item><title>{CYRILLIC[:60]}</title></item></channel></rss>")
    body = xml.encode("cp1251")
    site.routes["/feed"] = lambda h: reply(h, body=body, content_type="application/rss+xml")
    page = page_of(fetcher.get(site.url + "feed", cfg()))
    assert page.raw == body
    assert page.content_type == "application/rss+xml"
    assert CYRILLIC[:60] in page.text


def test_json_feed_is_utf8_and_content_type_is_bare(site: Scripted, fetcher: Fetcher) -> None:
    body = '{"title": "Навіны"}'.encode()
    site.routes["/feed.json"] = lambda h: reply(
        h, body=body, content_type='Application/Feed+JSON; Charset="utf-8"')
    page = page_of(fetcher.get(site.url + "feed.json", cfg()))
    assert page.content_type == "application/feed+json"
    assert page.text == '{"title": "Навіны"}'


def test_decode_body_without_content_type() -> None:
    text, encoding, media = decode_body("<!doctype html><p>Прывітанне</p>".encode(), None)
    assert (text, encoding, media) == ("<!doctype html><p>Прывітанне</p>", "utf-8", "text/html")
    _, encoding, media = decode_body(b'<?xml version="1.0"?><feed/>', "")
    assert (encoding, media) == ("utf-8", "application/xml")


# --- 8. redirects -----------------------------------------------------------------------------

def redirect(location: str, code: int = 302) -> Route:
    return lambda h: reply(h, code, b"", "text/plain", {"Location": location})


def test_redirects_are_followed(site: Scripted, fetcher: Fetcher) -> None:
    site.routes["/a"] = redirect(site.url + "b", 301)
    site.routes["/b"] = redirect("c?x=1", 307)  # relative Location
    site.routes["/c"] = ok("<p>landed</p>")
    page = page_of(fetcher.get(site.url + "a", cfg(max_redirects=2)))
    assert page.url == site.url + "a"
    assert page.final_url == site.url + "c?x=1"
    assert page.text == "<p>landed</p>"


def test_redirect_loop_is_a_fetch_error(site: Scripted, fetcher: Fetcher) -> None:
    site.routes["/loop"] = redirect("/loop")
    with pytest.raises(FetchError, match="too many redirects"):
        fetcher.get(site.url + "loop", cfg(max_redirects=3))
    assert site.hits("/loop") == 4


def test_max_redirects_zero_refuses_any_redirect(site: Scripted, fetcher: Fetcher) -> None:
    site.routes["/a"] = redirect("/b")
    site.routes["/b"] = ok()
    with pytest.raises(FetchError, match="too many redirects"):
        fetcher.get(site.url + "a", cfg(max_redirects=0))
    assert site.hits("/b") == 0


def test_redirect_target_is_checked_against_robots(site: Scripted, fetcher: Fetcher) -> None:
    site.routes["/robots.txt"] = robots("User-agent: *\nDisallow: /private/\n")
    site.routes["/a"] = redirect("/private/b")
    with pytest.raises(RobotsDisallowed):
        fetcher.get(site.url + "a", cfg(robots=True))
    assert site.hits("/private/b") == 0


# --- 9. errors --------------------------------------------------------------------------------

def test_unsupported_scheme_is_a_fetch_error(fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match="not an http"):
        fetcher.get("ftp://example.org/file", cfg())


def test_credentials_in_urls_are_not_repeated_in_errors(site: Scripted, fetcher: Fetcher) -> None:
    url = site.url.replace("http://", "http://user:s3cret@") + "missing"
    with pytest.raises(FetchError) as caught:
        fetcher.get(url, cfg())
    assert caught.value.status == 404
    assert "s3cret" not in str(caught.value) and "s3cret" not in caught.value.url


def test_response_times_are_reported_per_host(site: Scripted) -> None:
    site.routes["/page"] = ok()
    seen: list[tuple[str, float]] = []
    with Fetcher(on_response=lambda host, seconds: seen.append((host, seconds))) as fetcher:
        fetcher.get(site.url + "page", FetchConfig(delay=0, robots=False, allow_private=True))
    assert [host for host, _ in seen] == ["127.0.0.1"]
    assert seen[0][1] >= 0


def test_connection_errors_are_described_without_urllib3_object_reprs() -> None:
    with socket.socket() as probe:              # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(requests.ConnectionError) as caught:
        requests.get(f"http://127.0.0.1:{port}/", timeout=5)
    text = describe(caught.value)
    assert text.startswith("connection failed: ") and "Connection refused" in text
    assert "object at 0x" not in text and "<urllib3" not in text
