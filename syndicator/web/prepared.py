"""The one way the server answers with prepared bytes, and the fast path that uses it.

    Prepared(file, cache_control, headers)      a CachedFile with its answers, built once
    PreparedRoute(path, prepared, endpoint)     a route table entry answered with them
    FastPath(routes, cache).select(path, hdrs)  the same answer, without Starlette

Every route that sends bytes made in advance (feeds, query views, archive pages, the
directory pages, OPML, previews, status pages, static and embed files) answers a GET or
HEAD with a `Prepared`: one strong ETag per representation (the gzip variant has its own,
cache.py), `If-None-Match` (a list, `*`, weak tags compared weakly, against the tag of the
representation the request would get, never the other one's) before
`If-Modified-Since` → 304 without a body, gzip when the client accepts it, with
`Vary: Accept-Encoding` whenever a gzip variant exists, HEAD as GET without the body, and
the route's Cache-Control and fixed headers (CORS, nosniff, a page's CSP). A `Prepared` is
an ASGI app, so a Starlette handler returns it as it would a Response.

The answers of a file (identity or gzip, each as 200 and as 304) are ASGI messages and
header lines built once, when the Prepared is made; choosing one is a few comparisons: an
If-None-Match equal to one of the ETags is compared as bytes, any other value,
If-Modified-Since and Accept-Encoding go through `conditional` (memoised there).

Nearly all of a feed server's traffic is readers polling feeds, and Starlette's routing,
its Request and the middleware cost more CPU than sending 200 KB does. So `WebApp`
(app.py) and, under `run`/`serve`, the HTTP layer (protocol.py) ask `FastPath.select`
first. It consults the app's own route table: the first route that takes the path (as
Starlette's router would pick it) decides; when that is a `PreparedRoute` whose
`prepared(path_params)` gives an answer, that answer is sent, counted under the route's
template; otherwise Starlette gets the request. Only GET and HEAD without a query string
take this path: a query may ask for a view (`?limit=`), which the route's endpoint renders.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from syndicator.web import conditional
from syndicator.web.cache import CachedFile, FeedCache
from syndicator.web.sendfile import OpenFiles

Message = dict[str, Any]
Header = tuple[bytes, bytes]
Endpoint = Callable[[Request], Awaitable[Any]]

READ_METHODS = frozenset({"GET", "HEAD"})
EMPTY_BODY: Message = {"type": "http.response.body", "body": b""}
_MEMO_MAX = 4096            # paths remembered by FastPath between two cache reloads


def _lines(headers: Sequence[Header]) -> bytes:
    return b"".join(name + b": " + value + b"\r\n" for name, value in headers)


class Variant:
    """One representation (identity or gzip) of a file, as ready-made ASGI messages and,
    for the HTTP layer (protocol.py), as ready-made header lines."""

    __slots__ = ("body", "data", "etag", "etag_bytes", "not_modified", "not_modified_lines",
                 "ok", "ok_lines")

    def __init__(self, data: bytes, etag: str, media_type: str, common: Sequence[Header],
                 encoding: bytes | None) -> None:
        self.etag = etag
        self.etag_bytes = etag.encode("latin-1")
        # A 304 has no Content-Type or Content-Length (RFC 9110 §15.4.5), a 200 has both.
        tagged = [*common, (b"etag", self.etag_bytes)]
        full = [*tagged, *([(b"content-encoding", encoding)] if encoding else []),
                (b"content-length", str(len(data)).encode("latin-1")),
                (b"content-type", media_type.encode("latin-1"))]
        self.ok: Message = {"type": "http.response.start", "status": 200, "headers": full}
        self.not_modified: Message = {"type": "http.response.start", "status": 304,
                                      "headers": tagged}
        self.body: Message = {"type": "http.response.body", "body": data}
        self.ok_lines = _lines(full)
        self.not_modified_lines = _lines(tagged)
        self.data = data                    # the bytes sent for a 200 to a GET

    def messages(self, status: int, method: str) -> tuple[Message, Message]:
        """The start and body messages of this variant's answer `status` (200 or 304) to a
        GET or HEAD: no body for a 304 or a HEAD."""
        if status == 304:
            return self.not_modified, EMPTY_BODY
        return self.ok, (EMPTY_BODY if method == "HEAD" else self.body)


class Prepared:
    """A file's answers to GET and HEAD, with `cache_control` and the route's fixed
    `headers`. An ASGI app: `await prepared(scope, receive, send)` answers the request."""

    __slots__ = ("file", "packed", "plain")

    def __init__(self, file: CachedFile, cache_control: str,
                 headers: Mapping[str, str]) -> None:
        common = [*((name.lower().encode("latin-1"), value.encode("latin-1"))
                    for name, value in headers.items()),
                  (b"last-modified", file.last_modified.encode("latin-1")),
                  (b"cache-control", cache_control.encode("latin-1"))]
        if file.gzip is not None:
            common.append((b"vary", b"Accept-Encoding"))
        self.file = file
        self.plain = Variant(file.body, file.etag, file.media_type, common, None)
        self.packed = (Variant(file.gzip, file.gzip_etag, file.media_type, common, b"gzip")
                       if file.gzip is not None else None)

    def choose(self, headers: Iterable[Header]) -> tuple[Variant, int]:
        """The variant and status (200 or 304) answering a GET or HEAD with these request
        headers (names in lower case, as ASGI and the HTTP layer give them)."""
        if_none_match = if_modified_since = accept_encoding = None
        for name, value in headers:
            # The first of repeated headers wins, as with Starlette's Headers.get.
            if name == b"if-none-match":
                if if_none_match is None:
                    if_none_match = value
            elif name == b"if-modified-since":
                if if_modified_since is None:
                    if_modified_since = value
            elif name == b"accept-encoding" and accept_encoding is None:
                accept_encoding = value
        variant = self.plain
        if (self.packed is not None and accept_encoding
                and conditional.accepts_gzip(accept_encoding.decode("latin-1"))):
            variant = self.packed
        if if_none_match is not None:
            # Only the tag of the representation this request gets counts (RFC 9110
            # §13.1.2): a client holding the gzip bytes that now asks for identity (or the
            # reverse) has not got what it would receive, so it gets a 200.
            fresh = (if_none_match == variant.etag_bytes
                     or conditional.none_match(if_none_match.decode("latin-1"),
                                               (variant.etag,)))
        elif if_modified_since is not None:
            fresh = conditional.not_modified_since(if_modified_since.decode("latin-1"),
                                                   self.file.last_modified)
        else:
            fresh = False
        return variant, 304 if fresh else 200

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        variant, status = self.choose(scope["headers"])
        start, body = variant.messages(status, scope["method"])
        await send(start)
        await send(body)


class PreparedFiles:
    """`Prepared` answers for the files of a FeedCache, each made the first time its path
    is asked for after a (re)load. Used from the event loop thread only."""

    def __init__(self, cache: FeedCache) -> None:
        self._cache = cache
        self._files: Mapping[str, CachedFile] | None = None
        self._prepared: dict[str, Prepared] = {}

    def get(self, path: str, cache_control: str,
            headers: Callable[[CachedFile], Mapping[str, str]]) -> Prepared | None:
        """The answer for the file at `path` (None when there is none), with
        `cache_control` and `headers(file)`, which must give the same for the same path
        until the next reload."""
        files = self._cache.snapshot()
        if files is not self._files:        # a (re)load: prepare anew, lazily
            self._files = files
            self._prepared = {}
        prepared = self._prepared.get(path)
        if prepared is None:
            file = files.get(path)
            if file is None:
                return None
            prepared = self._prepared[path] = Prepared(file, cache_control, headers(file))
        return prepared


async def not_found(request: Request) -> PlainTextResponse:
    return PlainTextResponse("not found\n", status_code=404)


class PreparedRoute(Route):
    """A route answered with prepared bytes. A GET or HEAD is answered with
    `prepared(path_params)` unless `views(query_string)` says that the request asks for
    more than those bytes (a feed's `?limit=`); `endpoint` answers everything else: other
    methods (a CORS preflight), views, and paths `prepared` has nothing for (None). The
    fast path calls `prepared` too, on the event loop for every such request, so it must
    be cheap and do no I/O."""

    def __init__(self, path: str, prepared: Callable[[Mapping[str, str]], Prepared | None],
                 endpoint: Endpoint = not_found, *, methods: Sequence[str] = ("GET",),
                 views: Callable[[bytes], bool] | None = None) -> None:
        self.prepared = prepared
        self.views = views

        async def answer(request: Request) -> Any:
            if request.method in READ_METHODS and not (
                    views is not None and views(request.scope["query_string"])):
                found = prepared(request.path_params)
                if found is not None:
                    return found
            return await endpoint(request)

        super().__init__(path, answer, methods=list(methods))


class FastPath:
    """GET and HEAD without a query string answered from the route table's prepared
    answers, before Starlette. Used from the event loop thread only."""

    def __init__(self, routes: Sequence[BaseRoute], cache: FeedCache) -> None:
        self._routes = routes
        self._cache = cache
        self._files: Mapping[str, CachedFile] | None = None
        # path → (answer, route template), for paths a PreparedRoute had an answer for (so
        # unknown paths leave no trace); forgotten at every reload of the feed cache.
        self._memo: dict[str, tuple[Prepared, str]] = {}
        # Private file copies of large bodies for sendfile; closed at every reload (the
        # bodies they hold are then replaced) and when this FastPath is dropped.
        self._open_files = OpenFiles(cache.output_dir)
        weakref.finalize(self, self._open_files.close_all)

    def route(self, path: str) -> tuple[BaseRoute, dict[str, str]] | None:
        """The route Starlette's router would send a GET of `path` to, and its path
        parameters; None when none takes it."""
        scope = {"type": "http", "path": path, "root_path": "", "method": "GET"}
        for route in self._routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                return route, child.get("path_params", {})
        return None

    def select(self, path: str, headers: Iterable[Header]
               ) -> tuple[Prepared, Variant, int, str] | None:
        """The answer, its variant and status (200 or 304) and the route template for a
        GET or HEAD of `path` asked without a query string (header names in lower case);
        None when Starlette should answer it."""
        files = self._cache.snapshot()
        if files is not self._files:          # a reload: old bodies, old answers
            self._files = files
            self._memo = {}
            self._open_files.close_all()       # no answer names these descriptors now
        known = self._memo.get(path)
        if known is None:
            routed = self.route(path)
            if routed is None or not isinstance(routed[0], PreparedRoute):
                return None
            route, params = routed[0], routed[1]
            found = route.prepared(params)
            if found is None:
                return None                    # the endpoint's 404, or its rendering
            known = (found, route.path)
            if len(self._memo) < _MEMO_MAX:
                self._memo[path] = known
        prepared, template = known
        variant, status = prepared.choose(headers)
        return prepared, variant, status, template

    def answer(self, scope: Mapping[str, Any]) -> tuple[Message, Message, str] | None:
        """The start and body messages answering this GET or HEAD (asked without a query
        string) and its route template; None when Starlette should answer it."""
        chosen = self.select(scope["path"], scope["headers"])
        if chosen is None:
            return None
        _, variant, status, template = chosen
        return *variant.messages(status, scope["method"]), template

    def file_descriptor(self, variant: Variant) -> int | None:
        """A descriptor of a file holding exactly `variant.data`, to send it with sendfile,
        or None (send the bytes). Valid until the next `select` (which closes the
        descriptors when the cache was reloaded): use it at once."""
        return self._open_files.fd_for(variant.data)
