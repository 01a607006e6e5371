"""The feed fast path: GET/HEAD of a published feed or archive page, answered in raw ASGI.

Nearly all of a feed server's traffic is readers polling feeds. Starlette's routing, its
Request and Response objects and the metrics middleware cost more CPU than sending 200 KB
does (through Starlette a feed request costs over twice the Python it costs through this
path, where nearly all of it is uvicorn's own), so `WebApp` (app.py) asks
`FastPath.answer` first and Starlette sees only what it declines:

    - the path is a file in FeedCache that Starlette would route to the feed handler
      (`/{feed_id}.rss|atom|json`, but not `/status.json`, routed before them) or to the
      archive handler (`/archive/...`), asked without a query string (queries are views
      rendered by Starlette);
    - the answers of a file — identity or gzip, each as 200 and as 304 — are ASGI messages
      built once, the first time the file is asked for after a (re)load, and sent as they are;
    - an If-None-Match equal to one of the file's ETags is compared as bytes; any other value,
      If-Modified-Since and Accept-Encoding go through `conditional` (memoised there).

The answers are byte for byte the feed handler's (tests/test_web.py checks both paths), and
the caller counts them under the same route templates as the metrics middleware.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from syndicator.web import conditional
from syndicator.web.cache import CachedFile, FeedCache
from syndicator.web.sendfile import OpenFiles

Message = dict[str, Any]
Header = tuple[bytes, bytes]

FEED_EXTENSIONS = frozenset({"rss", "atom", "json"})
ARCHIVE_PREFIX = "/archive/"
ARCHIVE_ROUTE = "/archive/{path:path}"
# Routed before the feed routes, so never a feed even when such a file is published.
_SHADOWED = frozenset({"/status.json"})
EMPTY_BODY: Message = {"type": "http.response.body", "body": b""}


@dataclass(frozen=True, slots=True)
class Variant:
    """One representation (identity or gzip) of a file, as ready-made ASGI messages and, for
    the HTTP-level path (protocol.py), as ready-made header lines."""

    ok: Message                 # http.response.start, 200
    not_modified: Message       # http.response.start, 304
    body: Message               # http.response.body with the bytes
    ok_lines: bytes             # b"name: value\r\n" of `ok`
    not_modified_lines: bytes   # ... of `not_modified`
    data: bytes                 # the bytes sent for a 200 to a GET


@dataclass(frozen=True, slots=True)
class _Prepared:
    file: CachedFile
    route: str                  # the metrics label: the Starlette route template
    etags: frozenset[bytes]     # both variants' tags, as a client echoes them back
    tags: tuple[str, ...]       # the same for conditional.none_match
    plain: Variant
    packed: Variant | None      # gzip, when the file has a gzip body


def _lines(headers: Sequence[Header]) -> bytes:
    return b"".join(name + b": " + value + b"\r\n" for name, value in headers)


def _variant(body: bytes, etag: str, media_type: str, common: Sequence[Header],
             encoding: bytes | None) -> Variant:
    # The same headers as _Handlers.send through Starlette's Response: a 304 has no
    # Content-Type or Content-Length (RFC 9110 §15.4.5), a 200 has both.
    tagged = [*common, (b"etag", etag.encode("latin-1"))]
    full = [*tagged, *([(b"content-encoding", encoding)] if encoding else []),
            (b"content-length", str(len(body)).encode("latin-1")),
            (b"content-type", media_type.encode("latin-1"))]
    return Variant(ok={"type": "http.response.start", "status": 200, "headers": full},
                   not_modified={"type": "http.response.start", "status": 304,
                                 "headers": tagged},
                   body={"type": "http.response.body", "body": body},
                   ok_lines=_lines(full), not_modified_lines=_lines(tagged), data=body)


class FastPath:
    """Prepared answers for the files of `cache`, rebuilt lazily after every (re)load.

    `extra` are the headers every answer carries (CORS, nosniff); `feed_cache_control`
    gives a feed id's Cache-Control value. Used from the event loop thread only.
    """

    def __init__(self, cache: FeedCache, *, extra: Mapping[str, str],
                 feed_cache_control: Callable[[str], str], archive_cache_control: str) -> None:
        self._cache = cache
        self._extra = [(name.lower().encode("latin-1"), value.encode("latin-1"))
                       for name, value in extra.items()]
        self._feed_cache_control = feed_cache_control
        self._archive_cache_control = archive_cache_control
        self._files: Mapping[str, CachedFile] | None = None
        # Only paths of published files get entries (None: not a fast-path file), so this
        # stays as small as the folder however many unknown paths clients ask for.
        self._prepared: dict[str, _Prepared | None] = {}
        # Private file copies of large bodies for sendfile; closed with the entries whose
        # bodies they hold, and when this FastPath is dropped.
        self._open_files = OpenFiles(cache.output_dir)
        weakref.finalize(self, self._open_files.close_all)

    def file_descriptor(self, variant: Variant) -> int | None:
        """A descriptor of a file holding exactly `variant.data`, to send it with sendfile,
        or None (send the bytes). Valid until the next `select` (which closes the
        descriptors when the cache was reloaded): use it at once."""
        return self._open_files.fd_for(variant.data)

    def route(self, path: str) -> tuple[str, str] | None:
        """(route template, Cache-Control) when Starlette would send `path` from the cache
        through the feed or archive handler; None for every other path."""
        if path.startswith(ARCHIVE_PREFIX):
            return ARCHIVE_ROUTE, self._archive_cache_control
        if path.count("/") != 1 or path in _SHADOWED:
            return None
        stem, dot, ext = path[1:].rpartition(".")
        if not (dot and stem and ext in FEED_EXTENSIONS):
            return None
        return f"/{{feed_id}}.{ext}", self._feed_cache_control(stem)

    def answer(self, scope: Mapping[str, Any]) -> tuple[Message, Message, str] | None:
        """The start and body messages answering this GET or HEAD (asked without a query
        string) and its route template; None when Starlette should answer it."""
        chosen = self.select(scope["path"], scope["headers"])
        if chosen is None:
            return None
        variant, status, route = chosen
        if status == 304:
            return variant.not_modified, EMPTY_BODY, route
        if scope["method"] == "HEAD":
            return variant.ok, EMPTY_BODY, route
        return variant.ok, variant.body, route

    def select(self, path: str,
               headers: Iterable[Header]) -> tuple[Variant, int, str] | None:
        """The variant, status (200 or 304) and route template answering a GET or HEAD of
        `path` (asked without a query string) with these request headers (names in lower
        case); None when Starlette should answer it."""
        files = self._cache.snapshot()
        if files is not self._files:          # a (re)load: prepare anew, lazily
            self._files = files
            self._prepared = {}
            self._open_files.close_all()       # no entry names these descriptors now
        try:
            prepared = self._prepared[path]
        except KeyError:
            file = files.get(path)
            if file is None:
                return None                    # Starlette's 404, or another route
            prepared = self._prepared[path] = self._prepare(path, file)
        if prepared is None:
            return None
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
        variant = prepared.plain
        if (prepared.packed is not None and accept_encoding
                and conditional.accepts_gzip(accept_encoding.decode("latin-1"))):
            variant = prepared.packed
        if if_none_match is not None:
            fresh = (if_none_match in prepared.etags
                     or conditional.none_match(if_none_match.decode("latin-1"), prepared.tags))
        elif if_modified_since is not None:
            fresh = conditional.not_modified_since(if_modified_since.decode("latin-1"),
                                                   prepared.file.last_modified)
        else:
            fresh = False
        return variant, 304 if fresh else 200, prepared.route

    def _prepare(self, path: str, file: CachedFile) -> _Prepared | None:
        routed = self.route(path)
        if routed is None:
            return None
        route, cache_control = routed
        common = [*self._extra, (b"last-modified", file.last_modified.encode("latin-1")),
                  (b"cache-control", cache_control.encode("latin-1"))]
        if file.gzip is not None:
            common.append((b"vary", b"Accept-Encoding"))
        tags = (file.etag, file.gzip_etag)
        return _Prepared(
            file=file, route=route, tags=tags,
            etags=frozenset(tag.encode("latin-1") for tag in tags),
            plain=_variant(file.body, file.etag, file.media_type, common, None),
            packed=(_variant(file.gzip, file.gzip_etag, file.media_type, common, b"gzip")
                    if file.gzip is not None else None))
