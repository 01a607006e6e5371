"""The HTTP server's Starlette app: feeds from memory, query views, human pages, status, metrics.

    /<feed>.rss .atom .json      the published files, from FeedCache (bytes, ETag, gzip ready)
      ?limit= filter= filterout= format=   rendered from the store (query.py), LRU-cached
    /archive/...                 archive pages, cached for a year (they never change)
    /index.html /feeds.opml      the published directory page and OPML list
    /                            the feed directory rendered here, with copy buttons
    /feeds/<feed>                a readable preview of a feed's latest items
    /status /status.json         per source and feed state (StatusProvider)
    /healthz                     200 healthy / 503 not, with JSON details
    /metrics                     Prometheus text (syndicator.metrics)
    /static/...                  the pages' CSS and JS, from memory

Whatever is sent from bytes made in advance (published files, rendered views and pages,
static files) is answered by a `Prepared` (prepared.py: validators, 304, gzip, HEAD, cache
lifetime, CORS), so a request costs no I/O, hashing or compression. The routes of published
and static files are `PreparedRoute`s: a GET or HEAD of one without a query string never
reaches Starlette, `WebApp` (and under `syndicator run`/`serve` the HTTP layer,
protocol.py) sends the route's prepared answer from the same route table. Everything that
reads the store runs in the threadpool.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syndicator.config import Config, FeedConfig
from syndicator.errors import StoreError, SyndicatorError
from syndicator.metrics import Metrics
from syndicator.publish import render_feed
from syndicator.publish.pages import PAGE_ASSETS
from syndicator.status import CachedStatus, StatusReport
from syndicator.stories import with_versions
from syndicator.web import pages
from syndicator.web.cache import MEDIA_TYPES, CachedFile, FeedCache, RenderedCache, make_cached
from syndicator.web.context import WebContext
from syndicator.web.hardening import SecurityHeaders, slash_redirect
from syndicator.web.limits import BodyLimit
from syndicator.web.prepared import (
    READ_METHODS,
    FastPath,
    Prepared,
    PreparedFiles,
    PreparedRoute,
)
from syndicator.web.query import (
    MAX_LIMIT,
    FeedQuery,
    QueryError,
    asks_view,
    parse_query,
    query_filter,
    select_items,
    tokens_for,
)
from syndicator.web.ratelimit import REFUSED, QueryGate, retry_after
from syndicator.web.storecalls import in_store

log = logging.getLogger(__name__)

MIN_MAX_AGE = 60
MAX_MAX_AGE = 3600
ARCHIVE_CACHE_CONTROL = "public, max-age=31536000, immutable"
STATIC_CACHE_CONTROL = "public, max-age=604800"

_CORS = {
    "Access-Control-Allow-Origin": "*",
    # Last-Modified is readable cross-origin anyway; ETag must be exposed explicitly.
    "Access-Control-Expose-Headers": "ETag",
}
_SECURITY = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
# Pages load only our own CSS and JS; images in previews come from the news sites.
PAGE_CSP = ("default-src 'self'; img-src 'self' https: http: data:; object-src 'none'; "
            "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
_HTML_HEADERS = {**_SECURITY, "Content-Security-Policy": PAGE_CSP}
_FEED_HEADERS = {**_CORS, "X-Content-Type-Options": "nosniff"}
_STATIC = Path(__file__).parent / "static"
_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
_METHODS = frozenset({"GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE", "PATCH"})
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


def feed_max_age(config: Config, feed: FeedConfig) -> int:
    """Seconds a feed may be cached: the shortest schedule interval of its enabled sources,
    within [MIN_MAX_AGE, MAX_MAX_AGE]. A client polling more often would only get 304s."""
    intervals = [source.schedule.interval_seconds for source in config.sources
                 if source.id in feed.sources and source.enabled]
    seconds = min(intervals, default=float(MAX_MAX_AGE))
    return int(min(max(seconds, MIN_MAX_AGE), MAX_MAX_AGE))


def _text(message: str, status: int, headers: Mapping[str, str] | None = None) -> Response:
    return PlainTextResponse(message + "\n", status_code=status, headers=dict(headers or {}))


def _json(data: Any, status: int = 200, cache_control: str = "no-cache") -> Response:
    body = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
    return Response(body, status_code=status, media_type="application/json",
                    headers={**_FEED_HEADERS, "Cache-Control": cache_control})


def _timestamp(http_date: str) -> float:
    try:
        return parsedate_to_datetime(http_date).timestamp()
    except (TypeError, ValueError):
        return time.time()


class _Handlers:
    """The request handlers, with everything they need computed once at start."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.config = ctx.config
        self.feeds = {feed.id: feed for feed in ctx.config.feeds}
        max_age = {feed.id: feed_max_age(ctx.config, feed) for feed in ctx.config.feeds}
        self.cache_control = {feed_id: f"public, max-age={seconds}"
                              for feed_id, seconds in max_age.items()}
        shortest = min(max_age.values(), default=MAX_MAX_AGE)
        self.directory_cache_control = f"public, max-age={shortest}"
        self.files = PreparedFiles(ctx.cache)
        self.rendered: RenderedCache[Prepared] = RenderedCache()
        self.static = {file.path.rsplit("/", 1)[1]: Prepared(file, STATIC_CACHE_CONTROL, _SECURITY)
                       for file in _load_static()}
        # "style.css" → "static/style.css?v=<etag prefix>": a new version is a new URL.
        self.assets = {name: f"static/{name}?v={answer.file.etag.strip(chr(34))[:12]}"
                       for name, answer in self.static.items()}
        self.index = Prepared(make_cached("/", pages.render_index(ctx.config, self.assets),
                                          media_type=MEDIA_TYPES[".html"], mtime=time.time()),
                              self.directory_cache_control, _HTML_HEADERS)
        # /status and /status.json: one report per build or STATUS_TTL_S, rendered once.
        self.status = CachedStatus(ctx.status, token=ctx.cache.snapshot)
        self._status_pages: tuple[StatusReport, Prepared, Prepared] | None = None
        self.query_gate = QueryGate(ctx.config.server.query_rate,
                                    ctx.config.server.query_burst, headers=_FEED_HEADERS)

    # -- prepared answers (cheap, no I/O: the fast path asks them too) ------------------------

    def feed_file(self, ext: str) -> Callable[[Mapping[str, str]], Prepared | None]:
        def prepared(params: Mapping[str, str]) -> Prepared | None:
            feed_id = params["feed_id"]
            return self.files.get(f"/{feed_id}.{ext}", self.feed_cache_control(feed_id),
                                  _feed_headers)
        return prepared

    def archive_file(self, params: Mapping[str, str]) -> Prepared | None:
        return self.files.get(f"/archive/{params['path']}", ARCHIVE_CACHE_CONTROL, _feed_headers)

    def opml_file(self, params: Mapping[str, str]) -> Prepared | None:
        return self.files.get("/feeds.opml", self.directory_cache_control, _feed_headers)

    def home_page(self, params: Mapping[str, str]) -> Prepared | None:
        return self.index

    def published_index(self, params: Mapping[str, str]) -> Prepared | None:
        return self.files.get("/index.html", self.directory_cache_control, _inline_csp)

    def static_file(self, params: Mapping[str, str]) -> Prepared | None:
        return self.static.get(params["name"])

    def feed_cache_control(self, feed_id: str) -> str:
        return self.cache_control.get(feed_id) or f"public, max-age={MAX_MAX_AGE}"

    # -- feeds ---------------------------------------------------------------------------------

    async def feed(self, request: Request) -> Response | Prepared:
        """A feed's OPTIONS, its query views, and a feed that is not published."""
        if request.method == "OPTIONS":
            return preflight(request)
        path: str = request.scope["path"]
        if asks_view(request.scope["query_string"]):
            return await self.feed_query(request, path, request.path_params["feed_id"])
        return _text(f"no feed at {path}", 404, _CORS)

    async def feed_query(self, request: Request, path: str, feed_id: str) -> Response | Prepared:
        try:
            query = parse_query(request.query_params)
        except QueryError as exc:
            return _text(f"bad query: {exc}", 400, _CORS)
        feed = self.feeds.get(feed_id)
        if feed is None:
            return _text(f"no feed at {path}", 404, _CORS)
        cached = self.ctx.cache.get(path)
        ext = query.format or path.rsplit(".", 1)[-1]
        # The normal form: the limit the feed would use anyway is no limit.
        limit = min(query.limit or feed.limit, MAX_LIMIT)
        key = ("query", feed_id, ext, limit, query.filter, query.filterout,
               cached.etag if cached else "")
        result = self.rendered.get(key)
        if result is None:
            client = request.client.host if request.client else ""
            wait = self.query_gate.take(client, tokens_for(query))
            if wait > 0:
                return _text(REFUSED, 429, {**_CORS, "Retry-After": retry_after(wait)})
            try:
                # Compiled in the thread: an RE2 compile takes tens of milliseconds.
                await run_in_threadpool(query_filter, query)
            except QueryError as exc:
                return _text(f"bad query: {exc}", 400, _CORS)
            try:
                result = await in_store(self.ctx.store_outage(), "the feed queries",
                                        self._render_query, feed, query, ext, path, cached)
            except SyndicatorError as exc:
                if not isinstance(exc, StoreError):     # that one is on the outage line
                    log.warning("feed %s: cannot answer query %s: %s", feed_id, query.key(), exc)
                return self._fallback(path, feed_id)
            except Exception:
                # Never a 5xx for a feed we have: log the bug loudly, send the file.
                log.exception("feed %s: query %s failed", feed_id, query.key())
                return self._fallback(path, feed_id)
            self.rendered.put(key, result)
        self.query_gate.answered(path, request.scope["query_string"])
        return result

    def _fallback(self, path: str, feed_id: str) -> Response | Prepared:
        published = self.files.get(path, self.feed_cache_control(feed_id), _feed_headers)
        if published is None:
            return _text("the feed is not available right now", 503, {**_CORS, "Retry-After": "60"})
        return published

    def _render_query(self, feed: FeedConfig, query: FeedQuery, ext: str, path: str,
                      cached: CachedFile | None) -> Prepared:
        items = with_versions(select_items(feed, self.ctx.store, query), self.ctx.store)
        # The published file's date stands in for "now": the same items give the same bytes.
        mtime = _timestamp(cached.last_modified) if cached is not None else time.time()
        body = render_feed(ext, feed, items, self.config.site, datetime.fromtimestamp(mtime, UTC))
        return Prepared(make_cached(path, body, media_type=MEDIA_TYPES["." + ext], mtime=mtime),
                        self.feed_cache_control(feed.id), _FEED_HEADERS)

    # -- pages ---------------------------------------------------------------------------------

    async def preview(self, request: Request) -> Response | Prepared:
        feed_id: str = request.path_params["feed_id"]
        feed = self.feeds.get(feed_id)
        if feed is None:
            return _text(f"no feed {feed_id!r}", 404)
        cached = self.ctx.cache.get(f"/{feed_id}.rss")
        key = ("preview", feed_id, cached.etag if cached else "")
        page = self.rendered.get(key)
        if page is None:
            try:
                page = await in_store(self.ctx.store_outage(), "the feed previews",
                                      self._render_preview, feed)
            except SyndicatorError as exc:
                if not isinstance(exc, StoreError):     # that one is on the outage line
                    log.warning("feed %s: cannot render the preview: %s", feed_id, exc)
                return _text("the preview is not available right now", 503, {"Retry-After": "60"})
            self.rendered.put(key, page)
        return page

    def _render_preview(self, feed: FeedConfig) -> Prepared:
        limit = min(feed.limit, pages.PREVIEW_ITEMS)
        items = with_versions(select_items(feed, self.ctx.store, FeedQuery(limit=limit)),
                              self.ctx.store)
        body = pages.render_preview(self.config, feed, items, self.assets)
        return Prepared(make_cached(f"/feeds/{feed.id}", body, media_type=MEDIA_TYPES[".html"],
                                    mtime=time.time()),
                        self.feed_cache_control(feed.id), _HTML_HEADERS)

    async def _status_rendered(self) -> tuple[Prepared, Prepared] | None:
        """The status page and JSON of the current report, each rendered once; None when the
        store does not answer (the reason goes to the log, never to the client)."""
        try:
            report = self.status.fresh()
            if report is None:
                report = await run_in_threadpool(self.status.report)
        except StoreError:
            return None                  # the status provider logged it
        except SyndicatorError as exc:
            log.warning("status: %s", exc)
            return None
        kept = self._status_pages
        if kept is None or kept[0] is not report:
            now = time.time()
            html = pages.render_status(self.config, report, self.assets)
            data = json.dumps(report.to_json(), ensure_ascii=False, indent=2).encode() + b"\n"
            kept = self._status_pages = (
                report,
                Prepared(make_cached("/status", html, media_type=MEDIA_TYPES[".html"],
                                     mtime=now), "no-cache", _HTML_HEADERS),
                Prepared(make_cached("/status.json", data, media_type="application/json",
                                     mtime=now), "no-cache", _FEED_HEADERS))
        return kept[1], kept[2]

    async def status_page(self, request: Request) -> Response | Prepared:
        rendered = await self._status_rendered()
        if rendered is None:
            return _text("status unavailable: the store does not answer", 503,
                         {"Retry-After": "30"})
        return rendered[0]

    async def status_json(self, request: Request) -> Response | Prepared:
        if request.method == "OPTIONS":
            return preflight(request)
        rendered = await self._status_rendered()
        if rendered is None:
            return _json({"error": "status unavailable: the store does not answer"}, 503)
        return rendered[1]

    async def healthz(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return preflight(request)
        ok, details = await run_in_threadpool(self.status.healthy)
        return _json({"status": "ok" if ok else "unhealthy", **details},
                     200 if ok else 503, cache_control="no-store")

    async def metrics(self, request: Request) -> Response:
        body, content_type = self.ctx.metrics.render()
        return Response(body, headers={"Content-Type": content_type,
                                       "Cache-Control": "no-store", **_SECURITY})


def preflight(request: Request) -> Response:
    """CORS preflight: reading feeds and JSON cross-origin is fine, nothing else is."""
    asked = request.headers.get("access-control-request-method", "").upper()
    if asked not in ("GET", "HEAD"):
        return _text("only GET and HEAD are allowed cross-origin", 405,
                     {"Allow": "GET, HEAD, OPTIONS"})
    return Response(status_code=204, headers={
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET, HEAD",
        "Access-Control-Allow-Headers": "If-None-Match, If-Modified-Since",
        "Access-Control-Max-Age": "86400",
    })


def _missing(message: str, *, cors: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint of a published file's route: 404 `message` (with "{path}" the path),
    and with `cors` the CORS preflight of OPTIONS."""
    async def endpoint(request: Request) -> Response:
        if cors and request.method == "OPTIONS":
            return preflight(request)
        return _text(message.format(path=request.scope["path"]), 404, _CORS if cors else None)
    return endpoint


def _feed_headers(file: CachedFile) -> Mapping[str, str]:
    return _FEED_HEADERS


def _inline_csp(file: CachedFile) -> Mapping[str, str]:
    """The published index.html has its style and copy script inline (it must work from
    any static host); allow exactly those by hash rather than 'unsafe-inline'."""
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for kind, content in _INLINE.findall(file.body.decode("utf-8", "replace")):
        digest = base64.b64encode(hashlib.sha256(content.encode()).digest()).decode()
        hashes[kind].append(f"'sha256-{digest}'")
    policy = (PAGE_CSP + "; script-src 'self' " + " ".join(hashes["script"])
              + "; style-src 'self' " + " ".join(hashes["style"])).rstrip()
    return {**_SECURITY, "Content-Security-Policy": policy}


def _load_static() -> list[CachedFile]:
    """The pages' style sheet and script (the publisher's) and the static folder's files."""
    paths = [*PAGE_ASSETS, *sorted(_STATIC.iterdir())]
    return [make_cached(f"/static/{path.name}", path.read_bytes(),
                        media_type=_STATIC_TYPES[path.suffix], mtime=path.stat().st_mtime)
            for path in paths if path.suffix in _STATIC_TYPES]


class MetricsMiddleware:
    """Counts every request by route *template* (never the raw path: unbounded labels),
    method and status, and times it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500      # what the client gets if the app raises before answering

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # The router records the matched route in the (shared) scope.
            route = getattr(scope.get("route"), "path", None) or "<unmatched>"
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            self.metrics.http_request(route, method, status, time.perf_counter() - started)


class WebApp(Starlette):
    """Starlette with the fast path (prepared.py) in front: a GET or HEAD without a query
    string that a PreparedRoute of its route table has an answer for is answered from
    prepared messages; Starlette gets the rest."""

    def __init__(self, cache: FeedCache, metrics: Metrics, gate: QueryGate | None = None,
                 rendered: RenderedCache[Prepared] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fast = FastPath(self.router.routes, cache)      # the router's own table
        self.metrics = metrics
        self.gate = gate
        self.rendered = rendered or RenderedCache[Prepared]()   # embed.py's renders too

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] in READ_METHODS
                and not scope["query_string"] and not scope.get("root_path")):
            started = time.perf_counter()
            answer = self.fast.answer(scope)
            if answer is not None:
                start, body, route = answer
                try:
                    await send(start)
                    await send(body)
                finally:
                    # Counted like the middleware counts Starlette's answers.
                    self.metrics.http_request(route, scope["method"], start["status"],
                                              time.perf_counter() - started)
                return
        if (self.gate is not None and scope["type"] == "http" and scope["query_string"]
                and scope["method"] in READ_METHODS and await self._refused(scope, send)):
            return
        await super().__call__(scope, receive, send)

    async def _refused(self, scope: Scope, send: Send) -> bool:
        """Answer 429 here when the query gate refuses a view (ratelimit.py)."""
        assert self.gate is not None
        routed = self.fast.route(scope["path"])
        if routed is None:
            return False
        route = routed[0]
        if (not isinstance(route, PreparedRoute) or route.views is None
                or not route.views(scope["query_string"])):
            return False
        refused = self.gate.early(scope)
        if refused is None:
            return False
        started = time.perf_counter()
        try:
            await send(refused[0])
            await send(refused[1])
        finally:
            self.metrics.http_request(route.path, scope["method"], 429,
                                      time.perf_counter() - started)
        return True


def create_web_app(ctx: WebContext, *, extra_routes: Sequence[BaseRoute] = ()) -> WebApp:
    """The ASGI app serving `ctx`. `extra_routes` (e.g. subscribe forms) come after ours."""
    handlers = _Handlers(ctx)
    read = ["GET"]                      # Starlette adds HEAD to every GET route
    cors_read = ["GET", "OPTIONS"]
    # Feeds first: Starlette (and the fast path) try routes in order, and feeds are nearly
    # all the traffic. /status.json must still come before "/{feed_id}.json".
    routes: list[BaseRoute] = [
        Route("/status.json", handlers.status_json, methods=cors_read),
        *(PreparedRoute(f"/{{feed_id}}.{ext}", handlers.feed_file(ext), handlers.feed,
                        methods=cors_read, views=asks_view)
          for ext in ("rss", "atom", "json")),
        PreparedRoute("/", handlers.home_page),
        PreparedRoute("/index.html", handlers.published_index,
                      _missing("index.html has not been built yet")),
        PreparedRoute("/feeds.opml", handlers.opml_file,
                      _missing("feeds.opml has not been built yet", cors=True), methods=cors_read),
        Route("/status", handlers.status_page, methods=read),
        Route("/healthz", handlers.healthz, methods=cors_read),
        Route("/metrics", handlers.metrics, methods=read),
        PreparedRoute("/static/{name}", handlers.static_file),
        Route("/feeds/{feed_id}", handlers.preview, methods=read),
        PreparedRoute("/archive/{path:path}", handlers.archive_file,
                      _missing("no archive page at {path}", cors=True), methods=cors_read),
        *extra_routes,
    ]
    # Outermost first: every answer is counted, bodies are capped before any route reads
    # them, and every answer gets the security headers (limits.py, hardening.py).
    web = WebApp(ctx.cache, ctx.metrics, gate=handlers.query_gate,
                 rendered=handlers.rendered, routes=routes,
                 middleware=[Middleware(MetricsMiddleware, metrics=ctx.metrics),
                             Middleware(BodyLimit,
                                        max_bytes=ctx.config.server.limits.body_bytes),
                             Middleware(SecurityHeaders)])
    web.router.default = slash_redirect(web.router)
    return web
