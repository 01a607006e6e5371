"""The published files held in memory, ready to send: bytes, gzip bytes and validators.

Everything a feed request needs is computed once, when a file is loaded: the strong ETag
(a SHA-256 prefix of the bytes), the HTTP date of its modification time, and the gzip body.
Serving is then a dict look-up. The scheduler thread calls `reload` after a build while
request handlers call `get`: writers replace the whole mapping under a lock (copy on write),
readers take the current mapping without locking — one reference read, atomic in Python.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Rendered = TypeVar("Rendered")

# What the output directory holds that the server should answer for (by file name suffix).
MEDIA_TYPES: dict[str, str] = {
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}
# Only these HTML files are published; other .html files in the folder are not ours to serve.
HTML_FILES = frozenset({"index.html"})
# Below this size gzip saves less than its header costs and the CPU it takes to inflate.
GZIP_MIN_BYTES = 512
GZIP_LEVEL = 6
RENDERED_ENTRIES = 128        # rendered answers kept in memory (RenderedCache)
RENDERED_TTL_S = 60.0         # ... and for how long at most


@dataclass(frozen=True)
class CachedFile:
    """One file as the server sends it. `path` is the URL path, e.g. "/office-en.rss"."""

    path: str
    body: bytes
    gzip: bytes | None          # None when compressing would not pay off
    etag: str                   # strong, quoted: "<sha256 prefix>"
    last_modified: str          # HTTP date
    media_type: str

    @property
    def gzip_etag(self) -> str:
        """The gzip variant is another representation, so it gets its own strong ETag."""
        return self.etag[:-1] + '-gz"'


def make_cached(path: str, body: bytes, *, media_type: str, mtime: float) -> CachedFile:
    """Hash and compress `body` once. `mtime` (seconds since the epoch) → Last-Modified."""
    digest = hashlib.sha256(body).hexdigest()[:32]
    packed: bytes | None = None
    if len(body) >= GZIP_MIN_BYTES:
        # mtime=0: the same bytes always compress to the same gzip bytes.
        packed = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
        if len(packed) >= len(body):
            packed = None
    return CachedFile(path=path, body=body, gzip=packed, etag=f'"{digest}"',
                      last_modified=formatdate(int(mtime), usegmt=True), media_type=media_type)


def media_type_for(path: Path) -> str | None:
    """The media type to serve `path` with, or None when it is not a published file."""
    if path.suffix == ".html" and path.name not in HTML_FILES:
        return None
    return MEDIA_TYPES.get(path.suffix)


class FeedCache:
    """The published files of `output_dir` in memory, by URL path. Thread-safe."""

    def __init__(self, output_dir: Path) -> None:
        self._root = Path(output_dir).resolve()
        self._files: Mapping[str, CachedFile] = {}
        self._lock = threading.Lock()

    @property
    def output_dir(self) -> Path:
        return self._root

    def load_all(self) -> None:
        """(Re)load every published file under output_dir; forget files that are gone."""
        files: dict[str, CachedFile] = {}
        if self._root.is_dir():
            for path in sorted(self._root.rglob("*")):
                loaded = self._load(path)
                if loaded is not None:
                    files[loaded.path] = loaded
        with self._lock:
            self._files = files
        log.debug("feed cache: %d files loaded from %s", len(files), self._root)

    def reload(self, paths: Iterable[Path]) -> None:
        """Re-read the given files (e.g. BuildResult.written); a missing one is dropped."""
        with self._lock:
            files = dict(self._files)
            for path in paths:
                url_path = self._url_path(Path(path))
                if url_path is None:
                    continue
                loaded = self._load(self._root / url_path.lstrip("/"))
                if loaded is None:
                    files.pop(url_path, None)
                else:
                    files[url_path] = loaded
            self._files = files

    def get(self, url_path: str) -> CachedFile | None:
        return self._files.get(url_path)

    def snapshot(self) -> Mapping[str, CachedFile]:
        """The current files. Never changed in place: every (re)load makes a new mapping, so a
        caller that derives data from the files can tell by identity when to derive anew."""
        return self._files

    def paths(self) -> list[str]:
        return sorted(self._files)

    def _url_path(self, path: Path) -> str | None:
        """"/a/b.rss" for <output_dir>/a/b.rss; None for paths outside output_dir."""
        try:
            relative = path.resolve().relative_to(self._root)
        except ValueError:
            log.warning("feed cache: %s is not under %s; ignored", path, self._root)
            return None
        return "/" + relative.as_posix()

    def _load(self, path: Path) -> CachedFile | None:
        media_type = media_type_for(path)
        url_path = self._url_path(path)
        if media_type is None or url_path is None:
            return None
        if any(part.startswith(".") for part in url_path.split("/")):
            return None     # temporary files of the atomic writer, archive digests, dot dirs
        try:
            # Status and bytes from one open file: the writers replace files by renaming, so
            # both describe the same version (Last-Modified is that version's).
            with path.open("rb") as handle:
                stat = os.fstat(handle.fileno())
                body = handle.read()
        except FileNotFoundError:
            return None
        except (IsADirectoryError, PermissionError) as exc:
            log.warning("feed cache: cannot read %s: %s", path, exc)
            return None
        return make_cached(url_path, body, media_type=media_type, mtime=stat.st_mtime)


class RenderedCache(Generic[Rendered]):
    """A small thread-safe LRU of rendered answers (feed query views, previews), each kept
    at most RENDERED_TTL_S: the store changes underneath. Keys are normal forms (the query
    views' hold the published file's ETag, so a rebuild makes new keys)."""

    def __init__(self, size: int = RENDERED_ENTRIES,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[Hashable, tuple[float, Rendered]] = OrderedDict()
        self._size = size
        self._monotonic = monotonic
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Rendered | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._monotonic() - entry[0] > RENDERED_TTL_S:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Hashable, value: Rendered) -> None:
        with self._lock:
            self._entries[key] = (self._monotonic(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
