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

The feed path does no I/O, hashing or compression per request: it looks the file up and
sends the precomputed bytes. A GET or HEAD of a feed or archive file without a query never
reaches Starlette: `WebApp` answers it from prepared ASGI messages (fastpath.py), and under
`syndicator run`/`serve` uvicorn's protocol answers it before ASGI (protocol.py); the
handlers below answer the same thing for everything those decline. Everything else that
reads the store runs in the threadpool.
The only Starlette user besides the routes other parts add through `extra_routes`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
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
from syndicator.publish import render_atom, render_json, render_rss
from syndicator.status import CachedStatus, StatusReport, log_store_error
from syndicator.stories import with_versions
from syndicator.web import conditional, pages
from syndicator.web.cache import MEDIA_TYPES, CachedFile, RenderedCache, make_cached
from syndicator.web.context import WebContext
from syndicator.web.fastpath import FastPath
from syndicator.web.hardening import SecurityHeaders, slash_redirect
from syndicator.web.limits import BodyLimit
from syndicator.web.query import (
    MAX_LIMIT,
    FeedQuery,
    QueryError,
    asks_view,
    has_query,
    parse_query,
    select_items,
)
from syndicator.web.ratelimit import REFUSED, QueryGate, retry_after

log = logging.getLogger(__name__)

MIN_MAX_AGE = 60
MAX_MAX_AGE = 3600
ARCHIVE_CACHE_CONTROL = "public, max-age=31536000, immutable"
STATIC_CACHE_CONTROL = "public, max-age=604800"

_RENDERERS: dict[str, Callable[..., bytes]] = {
    "rss": render_rss, "atom": render_atom, "json": render_json,
}
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
_FAST_METHODS = frozenset({"GET", "HEAD"})
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
        self.max_age = {feed.id: feed_max_age(ctx.config, feed) for feed in ctx.config.feeds}
        shortest = min(self.max_age.values(), default=MAX_MAX_AGE)
        self.directory_cache_control = f"public, max-age={shortest}"
        self.rendered = RenderedCache()
        self.static = self._load_static()
        # "style.css" → "static/style.css?v=<etag prefix>": a new version is a new URL.
        self.assets = {name: f"static/{name}?v={file.etag.strip(chr(34))[:12]}"
                       for name, file in self.static.items()}
        self.index = make_cached("/", pages.render_index(ctx.config, self.assets),
                                 media_type=MEDIA_TYPES[".html"], mtime=time.time())
        self._csp_memo: dict[str, str] = {}
        # /status and /status.json: one report per build or STATUS_TTL_S, rendered once.
        self.status = CachedStatus(ctx.status, token=ctx.cache.snapshot)
        self._status_pages: tuple[StatusReport, bytes, bytes] | None = None
        self.query_gate = QueryGate(ctx.config.server.query_rate,
                                    ctx.config.server.query_burst, headers=_FEED_HEADERS)

    # -- sending -----------------------------------------------------------------------------

    def send(self, request: Request, file: CachedFile, cache_control: str,
             extra: Mapping[str, str]) -> Response:
        """`file` with validators, gzip when accepted, or 304 when the client has it."""
        headers = request.headers
        use_gzip = file.gzip is not None and conditional.accepts_gzip(
            headers.get("accept-encoding"))
        out = {**extra, "ETag": file.gzip_etag if use_gzip else file.etag,
               "Last-Modified": file.last_modified, "Cache-Control": cache_control}
        if file.gzip is not None:
            out["Vary"] = "Accept-Encoding"
        if conditional.is_fresh(headers.get("if-none-match"), headers.get("if-modified-since"),
                                (file.etag, file.gzip_etag), file.last_modified):
            return Response(status_code=304, headers=out)
        if use_gzip:
            out["Content-Encoding"] = "gzip"
            return Response(file.gzip, headers=out, media_type=file.media_type)
        return Response(file.body, headers=out, media_type=file.media_type)

    def feed_cache_control(self, feed_id: str) -> str:
        return f"public, max-age={self.max_age.get(feed_id, MAX_MAX_AGE)}"

    @staticmethod
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

    # -- feeds ---------------------------------------------------------------------------------

    async def feed(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return self.preflight(request)
        path: str = request.scope["path"]
        feed_id: str = request.path_params["feed_id"]
        if request.scope["query_string"] and has_query(request.query_params):
            return await self.feed_query(request, path, feed_id)
        cached = self.ctx.cache.get(path)
        if cached is None:
            return _text(f"no feed at {path}", 404, _CORS)
        return self.send(request, cached, self.feed_cache_control(feed_id), _FEED_HEADERS)

    async def feed_query(self, request: Request, path: str, feed_id: str) -> Response:
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
            wait = self.query_gate.take(client)
            if wait > 0:
                return _text(REFUSED, 429, {**_CORS, "Retry-After": retry_after(wait)})
            try:
                result = await run_in_threadpool(self._render_query, feed, query, ext, path,
                                                 cached)
            except SyndicatorError as exc:
                log.warning("feed %s: cannot answer query %s: %s", feed_id, query.key(), exc)
                return self._fallback(request, feed_id, cached)
            except Exception:
                # Never a 5xx for a feed we have: log the bug loudly, send the file.
                log.exception("feed %s: query %s failed", feed_id, query.key())
                return self._fallback(request, feed_id, cached)
            self.rendered.put(key, result)
        self.query_gate.answered(path, request.scope["query_string"])
        return self.send(request, result, self.feed_cache_control(feed_id), _FEED_HEADERS)

    def _fallback(self, request: Request, feed_id: str, cached: CachedFile | None) -> Response:
        if cached is None:
            return _text("the feed is not available right now", 503,
                         {**_CORS, "Retry-After": "60"})
        return self.send(request, cached, self.feed_cache_control(feed_id), _FEED_HEADERS)

    def _render_query(self, feed: FeedConfig, query: FeedQuery, ext: str, path: str,
                      cached: CachedFile | None) -> CachedFile:
        items = with_versions(select_items(feed, self.ctx.store, query), self.ctx.store)
        # The published file's date stands in for "now": the same items give the same bytes.
        mtime = _timestamp(cached.last_modified) if cached is not None else time.time()
        body = _RENDERERS[ext](feed, items, self.config.site, datetime.fromtimestamp(mtime, UTC))
        return make_cached(path, body, media_type=MEDIA_TYPES["." + ext], mtime=mtime)

    async def archive(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return self.preflight(request)
        path: str = request.scope["path"]
        cached = self.ctx.cache.get(path)
        if cached is None:
            return _text(f"no archive page at {path}", 404, _CORS)
        return self.send(request, cached, ARCHIVE_CACHE_CONTROL, _FEED_HEADERS)

    async def opml(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return self.preflight(request)
        cached = self.ctx.cache.get("/feeds.opml")
        if cached is None:
            return _text("feeds.opml has not been built yet", 404)
        return self.send(request, cached, self.directory_cache_control, _FEED_HEADERS)

    # -- pages ---------------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        return self.send(request, self.index, self.directory_cache_control, _HTML_HEADERS)

    async def published_index(self, request: Request) -> Response:
        cached = self.ctx.cache.get("/index.html")
        if cached is None:
            return _text("index.html has not been built yet", 404)
        headers = {**_SECURITY, "Content-Security-Policy": self._inline_csp(cached)}
        return self.send(request, cached, self.directory_cache_control, headers)

    def _inline_csp(self, file: CachedFile) -> str:
        """The published index.html has its style and copy script inline (it must work from
        any static host); allow exactly those by hash rather than 'unsafe-inline'."""
        policy = self._csp_memo.get(file.etag)
        if policy is None:
            hashes: dict[str, list[str]] = {"script": [], "style": []}
            for kind, content in _INLINE.findall(file.body.decode("utf-8", "replace")):
                digest = base64.b64encode(hashlib.sha256(content.encode()).digest()).decode()
                hashes[kind].append(f"'sha256-{digest}'")
            policy = (PAGE_CSP + "; script-src 'self' " + " ".join(hashes["script"])
                      + "; style-src 'self' " + " ".join(hashes["style"])).rstrip()
            self._csp_memo = {file.etag: policy}   # only the current file matters
        return policy

    async def preview(self, request: Request) -> Response:
        feed_id: str = request.path_params["feed_id"]
        feed = self.feeds.get(feed_id)
        if feed is None:
            return _text(f"no feed {feed_id!r}", 404)
        cached = self.ctx.cache.get(f"/{feed_id}.rss")
        key = ("preview", feed_id, cached.etag if cached else "")
        page = self.rendered.get(key)
        if page is None:
            try:
                page = await run_in_threadpool(self._render_preview, feed)
            except SyndicatorError as exc:
                log.warning("feed %s: cannot render the preview: %s", feed_id, exc)
                return _text("the preview is not available right now", 503,
                             {"Retry-After": "60"})
            self.rendered.put(key, page)
        return self.send(request, page, self.feed_cache_control(feed_id), _HTML_HEADERS)

    def _render_preview(self, feed: FeedConfig) -> CachedFile:
        limit = min(feed.limit, pages.PREVIEW_ITEMS)
        items = with_versions(select_items(feed, self.ctx.store, FeedQuery(limit=limit)),
                              self.ctx.store)
        body = pages.render_preview(self.config, feed, items, self.assets)
        return make_cached(f"/feeds/{feed.id}", body, media_type=MEDIA_TYPES[".html"],
                           mtime=time.time())

    async def _status_rendered(self) -> tuple[bytes, bytes] | None:
        """The status page and JSON of the current report, each rendered once; None when the
        store does not answer (the reason goes to the log, never to the client)."""
        try:
            report = self.status.fresh()
            if report is None:
                report = await run_in_threadpool(self.status.report)
        except SyndicatorError as exc:
            if isinstance(exc, StoreError):
                log_store_error(exc)
            else:
                log.warning("status: %s", exc)
            return None
        kept = self._status_pages
        if kept is None or kept[0] is not report:
            html = pages.render_status(self.config, report, self.assets)
            data = json.dumps(report.to_json(), ensure_ascii=False, indent=2).encode() + b"\n"
            kept = self._status_pages = (report, html, data)
        return kept[1], kept[2]

    async def status_page(self, request: Request) -> Response:
        rendered = await self._status_rendered()
        if rendered is None:
            return _text("status unavailable: the store does not answer", 503,
                         {"Retry-After": "30"})
        return Response(rendered[0], media_type=MEDIA_TYPES[".html"],
                        headers={**_HTML_HEADERS, "Cache-Control": "no-cache"})

    async def status_json(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return self.preflight(request)
        rendered = await self._status_rendered()
        if rendered is None:
            return _json({"error": "status unavailable: the store does not answer"}, 503)
        return Response(rendered[1], media_type="application/json",
                        headers={**_FEED_HEADERS, "Cache-Control": "no-cache"})

    async def healthz(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return self.preflight(request)
        ok, details = await run_in_threadpool(self.status.healthy)
        return _json({"status": "ok" if ok else "unhealthy", **details},
                     200 if ok else 503, cache_control="no-store")

    async def metrics(self, request: Request) -> Response:
        body, content_type = self.ctx.metrics.render()
        return Response(body, headers={"Content-Type": content_type,
                                       "Cache-Control": "no-store", **_SECURITY})

    async def static_file(self, request: Request) -> Response:
        file = self.static.get(request.path_params["name"])
        if file is None:
            return _text("not found", 404)
        return self.send(request, file, STATIC_CACHE_CONTROL, _SECURITY)

    @staticmethod
    def _load_static() -> dict[str, CachedFile]:
        files: dict[str, CachedFile] = {}
        for path in sorted(_STATIC.iterdir()):
            media_type = _STATIC_TYPES.get(path.suffix)
            if media_type is not None:
                files[path.name] = make_cached(f"/static/{path.name}", path.read_bytes(),
                                               media_type=media_type,
                                               mtime=path.stat().st_mtime)
        return files


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
    """Starlette with the feed fast path (fastpath.py) in front: a GET or HEAD of a published
    feed or archive file is answered from prepared messages; Starlette gets the rest."""

    def __init__(self, fast: FastPath, metrics: Metrics, gate: QueryGate | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fast = fast
        self.metrics = metrics
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] in _FAST_METHODS
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
                and scope["method"] in _FAST_METHODS and await self._refused(scope, send)):
            return
        await super().__call__(scope, receive, send)

    async def _refused(self, scope: Scope, send: Send) -> bool:
        """Answer 429 here when the query gate refuses a feed view (ratelimit.py)."""
        assert self.gate is not None
        routed = self.fast.route(scope["path"])
        if (routed is None or not routed[0].startswith("/{feed_id}")
                or not asks_view(scope["query_string"])):
            return False
        refused = self.gate.early(scope)
        if refused is None:
            return False
        started = time.perf_counter()
        try:
            await send(refused[0])
            await send(refused[1])
        finally:
            self.metrics.http_request(routed[0], scope["method"], 429,
                                      time.perf_counter() - started)
        return True


def create_web_app(ctx: WebContext, *, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The ASGI app serving `ctx`. `extra_routes` (e.g. subscribe forms) come after ours."""
    handlers = _Handlers(ctx)
    fast = FastPath(ctx.cache, extra=_FEED_HEADERS,
                    feed_cache_control=handlers.feed_cache_control,
                    archive_cache_control=ARCHIVE_CACHE_CONTROL)
    read = ["GET"]                      # Starlette adds HEAD to every GET route
    cors_read = ["GET", "OPTIONS"]
    # Feeds first: Starlette tries routes in order, and feeds are nearly all the traffic.
    # /status.json must still come before "/{feed_id}.json".
    routes: list[BaseRoute] = [
        Route("/status.json", handlers.status_json, methods=cors_read),
        *(Route(f"/{{feed_id}}.{ext}", handlers.feed, methods=cors_read)
          for ext in ("rss", "atom", "json")),
        Route("/", handlers.home, methods=read),
        Route("/index.html", handlers.published_index, methods=read),
        Route("/feeds.opml", handlers.opml, methods=cors_read),
        Route("/status", handlers.status_page, methods=read),
        Route("/healthz", handlers.healthz, methods=cors_read),
        Route("/metrics", handlers.metrics, methods=read),
        Route("/static/{name}", handlers.static_file, methods=read),
        Route("/feeds/{feed_id}", handlers.preview, methods=read),
        Route("/archive/{path:path}", handlers.archive, methods=cors_read),
        *extra_routes,
    ]
    # Outermost first: every answer is counted, bodies are capped before any route reads
    # them, and every answer gets the security headers (limits.py, hardening.py).
    web = WebApp(fast, ctx.metrics, gate=handlers.query_gate, routes=routes,
                 middleware=[Middleware(MetricsMiddleware, metrics=ctx.metrics),
                             Middleware(BodyLimit,
                                        max_bytes=ctx.config.server.limits.body_bytes),
                             Middleware(SecurityHeaders)])
    web.router.default = slash_redirect(web.router)
    return web
