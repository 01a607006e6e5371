"""The HTTP server over a real socket: uvicorn on a loopback port, a real Store on tmp SQLite
filled with items and feeds built by build_feeds, and a small StatusProvider whose report the
test sets (a source marked broken, health flipped)."""

from __future__ import annotations

import gzip
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from syndicator.config import Config, FeedConfig, Schedule, SiteConfig, SourceConfig
from syndicator.localdates import format_date
from syndicator.model import Item, RunResult
from syndicator.publish import build_feeds
from syndicator.status import FeedStatus, SourceStatus, StatusReport
from syndicator.store import Store
from syndicator.web import conditional
from syndicator.web.app import WebApp, create_web_app
from syndicator.web.cache import FeedCache, make_cached
from syndicator.web.context import WebContext
from syndicator.web.prepared import FastPath, Prepared, PreparedRoute
from syndicator.web.protocol import FeedHttpProtocol
from syndicator.web.query import QueryError, compile_pattern, parse_query

NOW = datetime(2024, 5, 10, 8, 0, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'
BASE = "https://feeds.example.org/"


# --- fixtures --------------------------------------------------------------------------------

def make_config(tmp: Path) -> Config:
    return Config(
        site=SiteConfig(title="Office feeds", base_url=BASE),
        output_dir="feeds",
        timezone="Europe/Minsk",
        sources=(
            SourceConfig(id="en", type="feed", url="https://office.example.org/en/feed",
                         language="en", schedule=Schedule(every=300)),
            SourceConfig(id="be", type="feed", url="https://office.example.org/be/feed",
                         language="be", schedule=Schedule(every=7200)),
            SourceConfig(id="fast", type="feed", url="https://fast.example.org/feed",
                         language="en", schedule=Schedule(cron="* * * * *")),
        ),
        feeds=(
            FeedConfig(id="office-en", title="News (English)", sources=("en",),
                       language="en", limit=20),
            FeedConfig(id="office-be", title="Навіны", sources=("be",), language="be"),
            FeedConfig(id="fast", title=HOSTILE, sources=("fast",), language="en"),
        ),
        base_dir=tmp,
    )


def item(n: int, source: str, title: str, published: datetime, **fields: Any) -> Item:
    url = fields.pop("url", f"https://office.example.org/{source}/{n}")
    return Item(id=f"{source}{n}", source_id=source, url=url, title=title,
                published=published, updated=published, **fields)


def fill(store: Store) -> None:
    en = [item(n, "en", f"Story {n} about the budget" if n % 3 == 0 else f"Story {n}",
               NOW - timedelta(hours=n), summary=f"Summary {n}", language="en",
               content=f"<p>Body {n}</p>")
          for n in range(1, 13)]
    en.append(item(99, "en", HOSTILE, NOW - timedelta(days=30), summary=HOSTILE,
                   language="en", image="https://img.example.org/x.jpg?a=1&b=2"))
    be = [item(1, "be", "Сустрэча ў Вільні", datetime(2021, 6, 3, 9, 0, tzinfo=UTC),
               summary="Кароткі змест", language="be",
               image="https://img.example.org/vilnia.jpg"),
          item(2, "be", "Other news", datetime(2021, 12, 24, 21, 30, tzinfo=UTC),
               summary="Summary in English", language="en")]
    fast = [item(1, "fast", HOSTILE, NOW, summary=HOSTILE, language="en"),
            item(2, "fast", "Scripted link", NOW - timedelta(hours=1), language="en",
                 url="javascript:alert(1)", image="javascript:alert(2)")]
    for source, items in (("en", en), ("be", be), ("fast", fast)):
        store.save_run(RunResult(source_id=source, started=NOW, finished=NOW, ok=True,
                                 pages=1), items, [])


@dataclass
class FakeStatus:
    """A StatusProvider with a settable report and health, as the service's would give."""

    ok: bool = True
    broken: bool = True
    calls: list[str] = field(default_factory=list)

    def report(self) -> StatusReport:
        self.calls.append("report")
        failed = RunResult(source_id="be", started=NOW, finished=NOW + timedelta(seconds=3),
                           ok=False, pages=2, not_modified=1,
                           errors=("https://office.example.org/be/feed: HTTP 500",
                                   "https://office.example.org/be/x: " + "long " * 100))
        good = RunResult(source_id="en", started=NOW, finished=NOW + timedelta(seconds=1),
                         ok=True, pages=3, not_modified=4, new=5, updated=6)
        return StatusReport(
            generated=NOW, scheduler_running=True,
            sources=(
                SourceStatus(source_id="en", last_run=good, last_success=good.finished,
                             next_run=NOW + timedelta(minutes=5), consecutive_failures=0,
                             broken=False, broken_reason=None, stale=False, items=13,
                             backoff_until=None),
                SourceStatus(source_id="be", last_run=failed, last_success=None,
                             next_run=NOW + timedelta(hours=1), consecutive_failures=4,
                             broken=self.broken,
                             broken_reason="4 failed runs in a row" if self.broken else None,
                             stale=False, items=2, backoff_until=None),
            ),
            feeds=(FeedStatus(feed_id="office-en", items=13, last_build=NOW),
                   FeedStatus(feed_id="office-be", items=2, last_build=None)),
        )

    def healthy(self) -> tuple[bool, dict[str, Any]]:
        self.calls.append("healthy")
        return self.ok, {"mode": "run", "stale": [] if self.ok else ["be"]}


# How feeds are answered: "http" is what `run` and `serve` use (FeedHttpProtocol writes feed
# answers at the HTTP layer), "asgi" is plain uvicorn (WebApp's fast path answers them).
PROTOCOLS: dict[str, Any] = {"http": FeedHttpProtocol, "asgi": "httptools"}


class Server:
    """uvicorn serving an ASGI app on a free loopback port, in a thread."""

    def __init__(self, app: Starlette, http: str = "http", keep_alive: int = 5) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                lifespan="off", ws="none", access_log=False,
                                http=PROTOCOLS[http], timeout_keep_alive=keep_alive)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    @property
    def url(self) -> str:
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class Env:
    config: Config
    store: Store
    cache: FeedCache
    status: FakeStatus
    ctx: WebContext
    client: httpx.Client
    web: WebApp

    def file(self, name: str) -> bytes:
        return (self.config.output_path / name).read_bytes()


def start(tmp: Path, http: str = "http") -> Iterator[Env]:
    config = make_config(tmp)
    store = Store(f"sqlite:///{tmp / 'db.sqlite'}")
    fill(store)
    build_feeds(config, store, NOW)
    cache = FeedCache(config.output_path)
    cache.load_all()
    status = FakeStatus()
    ctx = WebContext(config=config, store=store, cache=cache, status=status)
    web = create_web_app(ctx)
    with Server(web, http) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        yield Env(config, store, cache, status, ctx, client, web)
    store.close()


@pytest.fixture(scope="module", params=sorted(PROTOCOLS))
def env(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
        ) -> Iterator[Env]:
    """One server per way of answering feeds: every test using it runs against both."""
    yield from start(tmp_path_factory.mktemp("web"), request.param)


@pytest.fixture
def own_env(tmp_path: Path) -> Iterator[Env]:
    """A server of its own, for tests that break or change something."""
    yield from start(tmp_path)


PLAIN = {"Accept-Encoding": "identity"}


# --- feeds from memory -----------------------------------------------------------------------

@pytest.mark.parametrize(("ext", "media_type"), [
    ("rss", "application/rss+xml; charset=utf-8"),
    ("atom", "application/atom+xml; charset=utf-8"),
    ("json", "application/feed+json; charset=utf-8"),
])
def test_feeds_served_with_media_type_and_validators(env: Env, ext: str,
                                                     media_type: str) -> None:
    response = env.client.get(f"/office-en.{ext}", headers=PLAIN)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.content == env.file(f"office-en.{ext}")
    etag = response.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert "content-encoding" not in response.headers
    modified = (env.config.output_path / f"office-en.{ext}").stat().st_mtime
    assert response.headers["last-modified"] == formatdate(int(modified), usegmt=True)
    assert response.headers["x-content-type-options"] == "nosniff"


def test_if_none_match_answers_304_for_lists_and_weak_tags(env: Env) -> None:
    etag = env.client.get("/office-en.rss", headers=PLAIN).headers["etag"]
    for header in (etag, f'"nope", {etag}', f"W/{etag}", "*"):
        response = env.client.get("/office-en.rss", headers={**PLAIN, "If-None-Match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert response.headers["cache-control"] == "public, max-age=300"
    changed = env.client.get("/office-en.rss", headers={**PLAIN, "If-None-Match": '"other"'})
    assert changed.status_code == 200
    assert changed.content == env.file("office-en.rss")


def test_if_modified_since_and_precedence_of_if_none_match(env: Env) -> None:
    last = env.client.get("/office-en.atom", headers=PLAIN).headers["last-modified"]
    assert env.client.get("/office-en.atom",
                          headers={**PLAIN, "If-Modified-Since": last}).status_code == 304
    later = formatdate(time.time() + 3600, usegmt=True)
    assert env.client.get("/office-en.atom",
                          headers={**PLAIN, "If-Modified-Since": later}).status_code == 304
    earlier = "Sat, 01 Jan 2000 00:00:00 GMT"
    assert env.client.get("/office-en.atom",
                          headers={**PLAIN, "If-Modified-Since": earlier}).status_code == 200
    # A non-matching If-None-Match wins over a matching If-Modified-Since.
    both = env.client.get("/office-en.atom", headers={**PLAIN, "If-Modified-Since": last,
                                                      "If-None-Match": '"stale"'})
    assert both.status_code == 200
    garbage = env.client.get("/office-en.atom",
                             headers={**PLAIN, "If-Modified-Since": "yesterday"})
    assert garbage.status_code == 200


def test_gzip_variant_with_its_own_etag(env: Env) -> None:
    plain = env.client.get("/office-en.json", headers=PLAIN)
    with env.client.stream("GET", "/office-en.json",
                           headers={"Accept-Encoding": "gzip"}) as response:
        raw = b"".join(response.iter_raw())
        headers = response.headers
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    assert plain.headers["vary"] == "Accept-Encoding"
    assert headers["etag"] == plain.headers["etag"][:-1] + '-gz"'
    assert gzip.decompress(raw) == env.file("office-en.json")
    assert len(raw) < len(plain.content)
    assert int(headers["content-length"]) == len(raw)
    # Revalidating the gzip copy gives a 304 too.
    again = env.client.get("/office-en.json", headers={"Accept-Encoding": "gzip",
                                                       "If-None-Match": headers["etag"]})
    assert again.status_code == 304
    for refused in ("gzip;q=0", "br", "*;q=0", "identity"):
        response = env.client.get("/office-en.json", headers={"Accept-Encoding": refused})
        assert "content-encoding" not in response.headers, refused
    star = env.client.get("/office-en.json", headers={"Accept-Encoding": "*"})
    assert star.headers["content-encoding"] == "gzip"


def test_the_other_variants_etag_gets_the_bytes_not_a_304(env: Env) -> None:
    """RFC 9110 §13.1.2: If-None-Match is compared with the ETag of the representation the
    request would get. A client holding the gzip bytes that now asks for identity (or the
    reverse) has not got them: it gets a 200 with the bytes it asked for."""
    plain_tag = env.client.get("/office-en.atom", headers=PLAIN).headers["etag"]
    with env.client.stream("GET", "/office-en.atom",
                           headers={"Accept-Encoding": "gzip"}) as response:
        response.read()
        gzip_tag = response.headers["etag"]
    assert gzip_tag != plain_tag
    for header in (gzip_tag, f"W/{gzip_tag}", f'"nope", {gzip_tag}'):
        identity = env.client.get("/office-en.atom",
                                  headers={**PLAIN, "If-None-Match": header})
        assert identity.status_code == 200, header
        assert identity.headers["etag"] == plain_tag
        assert "content-encoding" not in identity.headers
        assert identity.content == env.file("office-en.atom")
    for header in (plain_tag, f"W/{plain_tag}", f'"nope", {plain_tag}'):
        with env.client.stream("GET", "/office-en.atom", headers={
                "Accept-Encoding": "gzip", "If-None-Match": header}) as response:
            raw = b"".join(response.iter_raw())
            assert response.status_code == 200, header
            assert response.headers["etag"] == gzip_tag
            assert response.headers["content-encoding"] == "gzip"
        assert gzip.decompress(raw) == env.file("office-en.atom")
    # Each variant's own tag (and a list holding both) still revalidates it.
    both = f"{plain_tag}, {gzip_tag}"
    for encoding, tag in (("identity", plain_tag), ("gzip", gzip_tag)):
        for header in (tag, both):
            again = env.client.get("/office-en.atom", headers={
                "Accept-Encoding": encoding, "If-None-Match": header})
            assert again.status_code == 304, (encoding, header)
            assert again.headers["etag"] == tag


def test_head_has_the_headers_without_a_body(env: Env) -> None:
    get = env.client.get("/office-en.rss", headers=PLAIN)
    head = env.client.head("/office-en.rss", headers=PLAIN)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    for name in ("etag", "last-modified", "content-type", "cache-control",
                 "access-control-allow-origin"):
        assert head.headers[name] == get.headers[name]


def test_cors_on_feeds_and_json_only(env: Env) -> None:
    for path in ("/office-en.rss", "/office-en.json", "/status.json", "/healthz",
                 "/feeds.opml"):
        response = env.client.get(path)
        assert response.headers["access-control-allow-origin"] == "*", path
    for path in ("/", "/status", "/feeds/office-en", "/index.html", "/metrics"):
        response = env.client.get(path)
        assert response.status_code == 200, path
        assert "access-control-allow-origin" not in response.headers, path
    preflight = env.client.options("/office-en.rss", headers={
        "Origin": "https://reader.example", "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "GET" in preflight.headers["access-control-allow-methods"]
    post = env.client.options("/office-en.rss", headers={
        "Origin": "https://reader.example", "Access-Control-Request-Method": "POST"})
    assert post.status_code == 405
    assert "access-control-allow-origin" not in post.headers
    page = env.client.options("/status", headers={"Access-Control-Request-Method": "GET"})
    assert page.status_code == 405
    assert "access-control-allow-origin" not in page.headers


def test_cache_lifetimes_follow_the_schedules(own_env: Env) -> None:
    def cache_control(path: str) -> str:
        return own_env.client.get(path).headers["cache-control"]

    assert cache_control("/office-en.rss") == "public, max-age=300"      # every 5 min
    assert cache_control("/office-be.rss") == "public, max-age=3600"     # 2 h, capped
    assert cache_control("/fast.atom") == "public, max-age=60"           # each minute
    assert cache_control("/feeds.opml") == "public, max-age=60"
    page = own_env.config.output_path / "archive" / "office-en" / "1.rss"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_bytes(own_env.file("office-en.rss"))
    (page.parent / ".pages.json").write_text("{}")
    own_env.cache.reload([page, page.parent / ".pages.json"])
    archived = own_env.client.get("/archive/office-en/1.rss")
    assert archived.status_code == 200
    assert archived.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert archived.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert own_env.client.get("/archive/office-en/.pages.json").status_code == 404


def test_reload_serves_the_new_bytes(own_env: Env) -> None:
    before = own_env.client.get("/office-be.json").headers["etag"]
    path = own_env.config.output_path / "office-be.json"
    path.write_bytes(path.read_bytes().replace(b"Other news", b"Changed news"))
    own_env.cache.reload([path])
    after = own_env.client.get("/office-be.json", headers=PLAIN)
    assert after.headers["etag"] != before
    assert b"Changed news" in after.content
    path.unlink()
    own_env.cache.reload([path])
    assert own_env.client.get("/office-be.json").status_code == 404


def test_unknown_feed_is_404(env: Env) -> None:
    for path in ("/nope.rss", "/nope.json?limit=3", "/feeds/nope", "/archive/x/1.rss",
                 "/nothing/here"):
        response = env.client.get(path)
        assert response.status_code == 404, path
        assert len(response.content) < 200


# --- the fast paths --------------------------------------------------------------------------

def _same_headers(response: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name != "date"}


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_fast_answers_are_the_routes_answers(env: Env, encoding: str) -> None:
    """A cache buster (an ignored parameter) sends the request through Starlette's route:
    the fast path must answer the same headers and bytes, for 200, 304 and HEAD."""
    asked = {"Accept-Encoding": encoding}
    for path in ("/office-en.json", "/office-be.rss", "/fast.atom", "/", "/index.html",
                 "/feeds.opml", "/static/style.css"):
        fast = env.client.get(path, headers=asked)
        slow = env.client.get(path + "?cachebuster=1", headers=asked)
        assert fast.status_code == slow.status_code == 200
        assert _same_headers(fast) == _same_headers(slow), path
        assert fast.content == slow.content
        tag = {"If-None-Match": fast.headers["etag"], **asked}
        fast_304 = env.client.get(path, headers=tag)
        slow_304 = env.client.get(path + "?cachebuster=1", headers=tag)
        assert fast_304.status_code == slow_304.status_code == 304
        assert _same_headers(fast_304) == _same_headers(slow_304)
        assert "content-length" not in fast_304.headers
        assert "content-type" not in fast_304.headers
        head = env.client.head(path, headers=asked)
        assert _same_headers(head) == _same_headers(fast)
        assert head.content == b""


def test_fast_path_follows_the_route_table(own_env: Env) -> None:
    fast = own_env.web.fast   # over the app's own routes

    def answer(path: str, *headers: tuple[bytes, bytes]) -> tuple[int, dict[bytes, bytes],
                                                               bytes, str] | None:
        found = fast.answer({"path": path, "method": "GET", "headers": list(headers)})
        if found is None:
            return None
        start, body, route = found
        return start["status"], dict(start["headers"]), body["body"], route

    got = answer("/office-en.rss")
    assert got is not None
    status, headers, body, route = got
    assert (status, route, body) == (200, "/{feed_id}.rss", own_env.file("office-en.rss"))
    assert headers[b"cache-control"] == b"public, max-age=300"
    tagged = answer("/office-en.rss", (b"if-none-match", headers[b"etag"]))
    assert tagged is not None and tagged[0] == 304 and tagged[2] == b""
    # Every prepared-bytes route takes it, each under its own template.
    for path, template in [("/index.html", "/index.html"), ("/feeds.opml", "/feeds.opml"),
                           ("/", "/")]:
        found = answer(path)
        assert found is not None and found[3] == template, path
    # Paths no prepared route has an answer for: Starlette's 404s and other routes.
    for path in ("/nope.rss", "/office-en.rss/x", "/status", "/feeds/office-en",
                 "/static/nope.css"):
        assert answer(path) is None, path
    status_json = own_env.config.output_path / "status.json"
    status_json.write_text("{}")
    page = own_env.config.output_path / "archive" / "office-en" / "1.rss"
    page.parent.mkdir(parents=True)
    page.write_bytes(b"<rss/>")
    own_env.cache.reload([status_json, page])
    assert answer("/status.json") is None         # its route comes before the feeds'
    archived = answer("/archive/office-en/1.rss")
    assert archived is not None and archived[3] == "/archive/{path:path}"
    assert archived[1][b"cache-control"] == b"public, max-age=31536000, immutable"


def test_the_first_route_that_takes_a_path_decides(tmp_path: Path) -> None:
    cache = FeedCache(tmp_path)
    file = make_cached("/x", b"prepared", media_type="text/plain", mtime=0)
    answer = Prepared(file, "max-age=1", {"X-Test": "1"})

    async def endpoint(request: Any) -> Any:
        return answer

    routes = [Route("/plain", endpoint), PreparedRoute("/{name}", lambda params: answer),
              PreparedRoute("/other", lambda params: None)]
    fast = FastPath(routes, cache)
    assert fast.select("/plain", []) is None                 # not a prepared route
    chosen = fast.select("/other", [(b"if-none-match", file.etag.encode())])
    assert chosen is not None and chosen[2:] == (304, "/{name}")
    found = fast.answer({"path": "/x", "method": "HEAD", "headers": []})
    assert found is not None and found[1]["body"] == b""
    assert dict(found[0]["headers"])[b"x-test"] == b"1"


def _exchange(server_url: str, raw: bytes) -> tuple[list[tuple[str, dict[str, str], bytes]],
                                                    bool]:
    """Send raw request bytes on one connection; the responses and whether it was closed."""
    host, port = server_url.removeprefix("http://").split(":")
    responses: list[tuple[str, dict[str, str], bytes]] = []
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(raw)
        data, closed = b"", False
        while raw.count(b"\r\n\r\n") > len(responses):
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    raise AssertionError(f"connection closed after {responses!r}")
                data += chunk
            head, data = data.split(b"\r\n\r\n", 1)
            status, *lines = head.decode("latin-1").split("\r\n")
            headers = {name.lower(): value.strip()
                       for name, value in (line.split(":", 1) for line in lines)}
            length = 0 if " 304 " in status + " " or raw.startswith(b"HEAD") \
                else int(headers["content-length"])
            while len(data) < length:
                data += sock.recv(65536)
            responses.append((status, headers, data[:length]))
            data = data[length:]
        if responses and responses[-1][1].get("connection") == "close":
            closed = sock.recv(1) == b""
    return responses, closed


def test_pipelined_requests_are_answered_in_order(env: Env) -> None:
    url = str(env.client.base_url).rstrip("/")
    raw = (b"GET /office-en.rss HTTP/1.1\r\nHost: x\r\n\r\n"
           b"GET /office-en.json?limit=1 HTTP/1.1\r\nHost: x\r\n\r\n"   # Starlette
           b"GET /office-be.atom HTTP/1.1\r\nHost: x\r\n\r\n"
           b"GET /status.json HTTP/1.1\r\nHost: x\r\n\r\n"
           b"GET /office-be.json HTTP/1.1\r\nHost: x\r\n\r\n")
    responses, _ = _exchange(url, raw)
    assert [status for status, _, _ in responses] == ["HTTP/1.1 200 OK"] * 5
    assert responses[0][2] == env.file("office-en.rss")
    assert len(responses[1][2].decode().split('"url"')) > 1        # one rendered item
    assert responses[2][2] == env.file("office-be.atom")
    assert b'"sources"' in responses[3][2]
    assert responses[4][2] == env.file("office-be.json")


@pytest.mark.parametrize("request_line", [
    b"GET /office-en.rss HTTP/1.0\r\n\r\n",
    b"GET /office-en.rss HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
])
def test_connection_close_is_honoured(env: Env, request_line: bytes) -> None:
    responses, closed = _exchange(str(env.client.base_url).rstrip("/"), request_line)
    assert len(responses) == 1 and responses[0][2] == env.file("office-en.rss")
    assert responses[0][1]["connection"] == "close"
    assert closed


@pytest.mark.parametrize("http", sorted(PROTOCOLS))
def test_idle_keep_alive_connections_are_closed_after_the_timeout(own_env: Env,
                                                                   http: str) -> None:
    # FeedHttpProtocol keeps one lazy timer per connection instead of uvicorn's timer per
    # response: the rule must stay uvicorn's. A connection asking every 0.4 s stays open
    # past the 1 s timeout (feed answers and Starlette answers alike); once it is quiet,
    # it is closed about a second after its last response.
    with Server(create_web_app(own_env.ctx), http, keep_alive=1) as server:
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            for path in ["/office-en.rss", "/office-en.json?limit=1"] * 3:
                sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                head = _read_answer(sock)
                assert head.startswith(b"HTTP/1.1 200 "), head
                time.sleep(0.4)
            last = time.monotonic()
            sock.settimeout(5)
            assert sock.recv(1) == b""                    # closed by the server
            idle = time.monotonic() - last
        assert 0.4 <= idle <= 2.5, idle


def _read_answer(sock: socket.socket) -> bytes:
    """Read one answer with a Content-Length body; return its head."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    while len(body) < length:
        body += sock.recv(65536)
    assert len(body) == length
    return head


def test_percent_encoded_feed_paths(env: Env) -> None:
    response = env.client.get("/office%2Den.rss", headers=PLAIN)
    assert response.status_code == 200
    assert response.content == env.file("office-en.rss")


def _metric(env: Env, labels: str) -> float:
    for line in env.client.get("/metrics").text.splitlines():
        if line.startswith("syndicator_http_requests_total{" + labels + "}"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_fast_answers_are_counted(env: Env) -> None:
    ok = 'method="HEAD",route="/{feed_id}.atom",status="200"'
    fresh = 'method="GET",route="/{feed_id}.atom",status="304"'
    before = _metric(env, ok), _metric(env, fresh)
    etag = env.client.head("/office-en.atom", headers=PLAIN).headers["etag"]
    env.client.head("/office-be.atom")
    env.client.get("/office-en.atom", headers={**PLAIN, "If-None-Match": etag})
    assert (_metric(env, ok), _metric(env, fresh)) == (before[0] + 2, before[1] + 1)


# --- query parameters ------------------------------------------------------------------------

def titles(response: httpx.Response) -> list[str]:
    return [entry["title"] for entry in response.json()["items"]]


def test_query_limit_filter_filterout_and_format(env: Env) -> None:
    limited = env.client.get("/office-en.rss?limit=3&format=json")
    assert limited.status_code == 200
    assert limited.headers["content-type"] == "application/feed+json; charset=utf-8"
    assert titles(limited) == ["Story 1", "Story 2", "Story 3 about the budget"]
    filtered = env.client.get("/office-en.json?filter=BUDGET")
    assert titles(filtered) == [f"Story {n} about the budget" for n in (3, 6, 9, 12)]
    regex = env.client.get(r"/office-en.json", params={"filter": r"^story \d{2}\b|summary 1$"})
    assert titles(regex) == ["Story 1", "Story 10", "Story 11", "Story 12 about the budget"]
    out = env.client.get("/office-en.json", params={"filterout": "budget|story 1", "limit": "3"})
    assert titles(out) == ["Story 2", "Story 4", "Story 5"]
    atom = env.client.get("/office-en.json?format=atom&limit=2")
    assert atom.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert atom.text.count("<entry") == 2
    assert atom.headers["cache-control"] == "public, max-age=300"
    assert atom.headers["access-control-allow-origin"] == "*"
    unknown_param = env.client.get("/office-en.rss?utm_source=x", headers=PLAIN)
    assert unknown_param.content == env.file("office-en.rss")


def test_query_results_have_validators(env: Env) -> None:
    first = env.client.get("/office-en.json?limit=2", headers=PLAIN)
    etag = first.headers["etag"]
    assert etag != env.client.get("/office-en.json", headers=PLAIN).headers["etag"]
    again = env.client.get("/office-en.json?limit=2", headers={**PLAIN, "If-None-Match": etag})
    assert again.status_code == 304
    assert env.client.get("/office-en.json?limit=3", headers={
        **PLAIN, "If-None-Match": etag}).status_code == 200


@pytest.mark.parametrize(("query", "message"), [
    ("limit=0", "limit"), ("limit=501", "limit"), ("limit=abc", "limit"),
    ("format=xml", "format"),
    ("filter=(a%2B)%2B$", "group cannot be repeated"),
    ("filter=(a|aa)*b", "group cannot be repeated"),
    ("filterout=.*.*.*x", "backtrack"),
    ("filter=(a)\\1", "backreferences"),
    ("filter=(?=x)", "look-arounds"),
    ("filter=" + "a" * 201, "200 characters"),
])
def test_bad_query_is_400_with_a_message(env: Env, query: str, message: str) -> None:
    response = env.client.get(f"/office-en.rss?{query}")
    assert response.status_code == 400
    assert message in response.text
    assert response.headers["content-type"].startswith("text/plain")


def test_query_falls_back_to_the_published_file_when_the_store_fails(own_env: Env) -> None:
    with sqlite3.connect(own_env.config.base_dir / "db.sqlite") as db:
        db.execute("DROP TABLE item_sources")
    response = own_env.client.get("/office-en.rss?limit=2", headers=PLAIN)
    assert response.status_code == 200
    assert response.content == own_env.file("office-en.rss")
    preview = own_env.client.get("/feeds/office-en")
    assert preview.status_code == 503


# --- pages -----------------------------------------------------------------------------------

class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.alternates: list[dict[str, str | None]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.append((tag, values))
        if tag == "link" and values.get("rel") == "alternate":
            self.alternates.append(values)


def parse(text: str) -> Links:
    parser = Links()
    parser.feed(text)
    return parser


def test_index_has_autodiscovery_and_subscribe_help(env: Env) -> None:
    response = env.client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    page = parse(response.text)
    found = {(link["type"], link["href"]) for link in page.alternates}
    expected = {(media, f"{BASE}{feed}.{ext}")
                for feed in ("office-en", "office-be", "fast")
                for ext, media in (("rss", "application/rss+xml"),
                                   ("atom", "application/atom+xml"),
                                   ("json", "application/feed+json"))}
    assert found == expected
    assert response.text.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    for reader in ("Feedly", "Inoreader", "NetNewsWire", "Thunderbird", "FreshRSS"):
        assert reader in response.text
    inputs = [attrs for tag, attrs in page.tags if tag == "input"]
    assert len(inputs) == 9
    assert all(str(attrs["value"]).startswith(BASE) for attrs in inputs)   # no feed: scheme
    hrefs = {attrs.get("href") for tag, attrs in page.tags if tag == "a"}
    assert {"feeds/office-en", "feeds/office-be", "feeds/fast", "feeds.opml"} <= hrefs
    buttons = [attrs for tag, attrs in page.tags if tag == "button"]
    assert len(buttons) == 9 and all(b.get("data-copy") for b in buttons)
    assert not any(tag == "script" and not attrs.get("src") for tag, attrs in page.tags)
    assert ('<h2 lang="be"><a href="feeds/office-be">Навіны</a></h2>') in response.text
    script = next(attrs["src"] for tag, attrs in page.tags if tag == "script")
    assert script is not None
    js = env.client.get("/" + script)
    assert js.status_code == 200 and "data-copy" in js.text
    css = next(attrs["href"] for tag, attrs in page.tags
               if tag == "link" and attrs.get("rel") == "stylesheet")
    assert env.client.get(f"/{css}").headers["content-type"] == "text/css; charset=utf-8"


def test_hostile_titles_are_escaped(env: Env) -> None:
    for path in ("/", "/feeds/fast", "/feeds/office-en"):
        text = env.client.get(path).text
        assert "<script>alert" not in text, path
        assert "<b>bold" not in text, path
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold" in text, path
        assert "javascript:" not in text, path
    assert "<h3>Scripted link</h3>" in env.client.get("/feeds/fast").text   # shown, not linked


def test_preview_writes_dates_in_the_feed_language(env: Env) -> None:
    response = env.client.get("/feeds/office-be")
    assert response.status_code == 200
    assert "content-security-policy" in response.headers
    text = response.text
    assert "3 чэрвеня 2021, 12:00" in text        # 09:00 UTC is noon in Minsk
    assert "December 25, 2021, 00:30" in text     # the English item, in Minsk time
    assert '<li class="item" lang="en">' in text
    assert '<ol class="items" lang="be">' in text
    page = parse(text)
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert images == [{"src": "https://img.example.org/vilnia.jpg", "alt": "",
                       "loading": "lazy", "referrerpolicy": "no-referrer",
                       "decoding": "async"}]
    assert len(page.alternates) == 3
    english = env.client.get("/feeds/office-en").text
    assert "May 10, 2024, 10:00" in english
    # The feed's time zone on the page, UTC on hover: as /status and the CLI show times.
    assert '<time datetime="2021-06-03T09:00:00Z" title="2021-06-03 09:00 UTC">' in text
    assert "<p>Body 1</p>" not in english      # summaries only
    assert env.client.get("/feeds/office-en", headers={
        "If-None-Match": response.headers["etag"]}).status_code == 200


def test_published_index_and_opml_from_the_cache(env: Env) -> None:
    index = env.client.get("/index.html", headers=PLAIN)
    assert index.content == env.file("index.html")
    policy = index.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in policy and "'unsafe-inline'" not in policy
    opml = env.client.get("/feeds.opml", headers=PLAIN)
    assert opml.content == env.file("feeds.opml")
    assert opml.headers["content-type"] == "text/x-opml; charset=utf-8"


def test_the_served_and_the_published_index_are_one_page(env: Env) -> None:
    served = env.client.get("/").text
    published = env.client.get("/index.html").text

    def boxes(text: str) -> list[tuple[str, dict[str, str | None]]]:
        return [(tag, attrs) for tag, attrs in parse(text).tags
                if tag in ("input", "button", "h1", "details", "section")]

    assert boxes(served) == boxes(published)
    # The same style sheet and copy script: files on the server, inline in the published page.
    tags = parse(served).tags
    css = next(a["href"] for t, a in tags if t == "link" and a.get("rel") == "stylesheet")
    script = next(a["src"] for t, a in tags if t == "script")
    assert env.client.get(f"/{css}").text in published
    assert env.client.get(f"/{script}").text in published
    # Only the server has previews; only the build knows the item counts.
    assert 'href="feeds/office-en"' in served and 'href="feeds/office-en"' not in published
    newest = ('<time datetime="2024-05-10T07:00:00Z" title="2024-05-10 07:00 UTC">'
              "2024-05-10 10:00</time>")              # the configured zone, Europe/Minsk
    assert newest in published
    counted = re.compile(r"\b\d+ items?\b")
    assert counted.search(published) and not counted.search(served)


# --- status, health, metrics -----------------------------------------------------------------

def test_status_page_shows_the_broken_source(env: Env) -> None:
    response = env.client.get("/status")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    text = response.text
    row = text.split('<tr id="source-be" class="broken">', 1)[1].split("</tr>", 1)[0]
    assert "broken" in row and "4 failed runs in a row" in row
    assert "HTTP 500" in row and "failed" in row
    en = text.split('<tr id="source-en">', 1)[1].split("</tr>", 1)[0]
    cells = [cell.split(">", 1)[1].split("</td>")[0] for cell in en.split("<td")[1:]]
    assert cells[2:7] == ["3", "4", "5", "6", "13"]
    assert "1 broken source" in text
    assert '<tr id="feed-office-en">' in text
    # One time zone, the configured one, as the CLI shows it; UTC on hover.
    assert "Times in Europe/Minsk" in text
    assert ('<time datetime="2024-05-10T08:00:01Z" title="2024-05-10 08:00 UTC">'
            "2024-05-10 11:00</time>") in en
    # A long error is cut, whole on hover.
    long = "https://office.example.org/be/x: " + "long " * 100
    assert f'title="{long}"' in row and "…</div>" in row


def test_status_json_is_the_report(env: Env) -> None:
    response = env.client.get("/status.json")
    assert response.headers["content-type"] == "application/json"
    data = response.json()
    assert data == env.status.report().to_json()
    be = next(s for s in data["sources"] if s["source_id"] == "be")
    assert be["broken"] is True and be["broken_reason"] == "4 failed runs in a row"


def test_healthz_follows_the_provider(own_env: Env) -> None:
    ok = own_env.client.get("/healthz")
    assert ok.status_code == 200
    assert ok.json() == {"status": "ok", "mode": "run", "stale": []}
    assert ok.headers["cache-control"] == "no-store"
    own_env.status.ok = False
    own_env.cache.load_all()        # the kept verdict goes with a build (or HEALTH_TTL_S)
    bad = own_env.client.get("/healthz")
    assert bad.status_code == 503
    assert bad.json()["stale"] == ["be"]


def test_metrics_count_requests_by_route_template(own_env: Env) -> None:
    own_env.client.get("/office-en.rss")
    own_env.client.get("/office-be.rss")
    own_env.client.get("/nope.rss")
    own_env.client.get("/no/such/page")
    own_env.ctx.metrics.source_run("en", False, 2.5, 0, 0)
    own_env.ctx.metrics.source_broken("en", True)
    own_env.ctx.metrics.items_stored("en", 13)
    response = own_env.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert ('syndicator_http_requests_total{method="GET",route="/{feed_id}.rss",status="200"} '
            '2.0') in text
    assert ('syndicator_http_requests_total{method="GET",route="/{feed_id}.rss",status="404"} '
            '1.0') in text
    assert 'route="<unmatched>",status="404"' in text
    assert "office-en" not in text and "/no/such/page" not in text
    assert 'syndicator_source_runs_total{outcome="failed",source="en"} 1.0' in text
    assert 'syndicator_source_broken{source="en"} 1.0' in text
    assert 'syndicator_items_stored{source="en"} 13.0' in text
    assert "syndicator_http_request_seconds_bucket" in text


# --- the pieces, without a server ------------------------------------------------------------

def test_accept_encoding_parsing() -> None:
    assert conditional.accepts_gzip("gzip, deflate, br")
    assert conditional.accepts_gzip("deflate;q=0.5, GZIP;q=0.1")
    assert conditional.accepts_gzip("*")
    assert not conditional.accepts_gzip("gzip;q=0, *")
    assert not conditional.accepts_gzip("*;q=0")
    assert not conditional.accepts_gzip("")
    assert not conditional.accepts_gzip(None)
    assert not conditional.accepts_gzip("gzip;q=zero")


def test_make_cached_skips_gzip_for_tiny_files() -> None:
    tiny = make_cached("/a.json", b"{}", media_type="application/json", mtime=0)
    assert tiny.gzip is None
    assert tiny.last_modified == "Thu, 01 Jan 1970 00:00:00 GMT"
    big = make_cached("/a.json", b"x" * 10_000, media_type="application/json", mtime=0)
    assert big.gzip is not None and gzip.decompress(big.gzip) == big.body
    assert big.etag == make_cached("/b", b"x" * 10_000, media_type="", mtime=5).etag


@pytest.mark.parametrize(("pattern", "text", "matches"), [
    ("Budget", "the BUDGET passed", True),
    ("a.b", "axb", True),
    ("a.b", "a.b", True),
    ("[0-9]{4}", "in 2024", True),
    ("^war|peace$", "war and peace", True),
    ("(?:vote|poll)s?", "Polls closed", True),
    (r"\d+ people", "12 people", True),
    ("x[.]y", "xzy", False),
    (r"c\+\+", "C++ news", True),
    ("a.*b", "a" * 5000, False),
])
def test_safe_patterns(pattern: str, text: str, matches: bool) -> None:
    assert compile_pattern(pattern)(text) is matches


@pytest.mark.parametrize("pattern", [
    "c++", "(a+)+", "(a*)*b", "(x|xx)+y", "a{1,5000}", "a?" * 20, r".*\s.*\s.*", "(?P<n>a)",
    "(?i)a", "[[:alpha:]]", "a)", "(a", "[a", "\\", "\\k<n>",
])
def test_unsafe_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(QueryError):
        compile_pattern(pattern)


def test_parse_query_accepts_the_documented_parameters() -> None:
    query = parse_query({"limit": "500", "filter": "a|b", "filterout": "c", "format": "atom"})
    assert query.key() == (500, "a|b", "c", "atom")
    assert parse_query({"filter": ""}).filter is None


@pytest.mark.parametrize(("language", "text"), [
    ("en", "June 3, 2021"), ("ru", "3 июня 2021"), ("be", "3 чэрвеня 2021"),
    ("be-BY", "3 чэрвеня 2021"), ("uk", "3 червня 2021"), ("de", "2021-06-03"),
    (None, "June 3, 2021"),
])
def test_dates_in_languages(language: str | None, text: str) -> None:
    assert format_date(datetime(2021, 6, 3, 12, 0, tzinfo=UTC), language) == text
    # The day is the one in the feed's time zone.
    late = datetime(2021, 6, 2, 22, 30, tzinfo=UTC)
    assert format_date(late, language, "Europe/Minsk") == text


@pytest.mark.parametrize(("path", "lang"), [("/", "en"), ("/feeds/office-be", "be"),
                                            ("/feeds/fast", "en"), ("/status", "en")])
def test_pages_are_well_formed_html5(env: Env, path: str, lang: str) -> None:
    import html5lib  # a dev dependency (pyproject [dev])

    parser = html5lib.HTMLParser(strict=True)     # raises on any HTML5 parse error
    document = parser.parse(env.client.get(path).text)
    assert document.get("lang") == lang


def test_the_directory_links_each_feed_to_its_news_site(env: Env) -> None:
    # "Website" goes to the site of the feed's source, not back to this server.
    text = env.client.get("/").text
    websites = [part.rsplit('<a href="', 1)[-1].split('"', 1)[0]
                for part in text.split(">Website</a>")[:-1]]
    assert websites == ["https://office.example.org/", "https://office.example.org/",
                        "https://fast.example.org/"]


def test_the_preview_page_speaks_its_feeds_language(env: Env) -> None:
    be = env.client.get("/feeds/office-be").text
    for text in ("Апошнія матэрыялы", "Як падпісацца", ">Капіяваць</button>", ">Стужкі</a>",
                 'data-copied="Скапіявана"', 'aria-label="Адрас RSS стужкі «Навіны»"'):
        assert text in be, text
    assert "Latest items" not in be and "How to subscribe" not in be
    en = env.client.get("/feeds/office-en").text
    assert "Latest items" in en and ">Copy</button>" in en
