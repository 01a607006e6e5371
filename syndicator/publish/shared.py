"""A build's files shared through the store, and the lock that makes an output folder's
writers take turns.

On PostgreSQL (`Store.shares_outputs`) several instances, each with its own output folder,
serve one cluster's feeds: every build shares the files it wrote (current documents, index,
OPML, archive pages, the archive state its next build reads) through the store, and each
serving process's follower (outputsync.py) writes them into its own folder. On SQLite nothing
is shared: one process, and its folder is the truth.

    sharing(store)            the store, if builds share through it; else None
    share_build(config, share, paths, now, prune=, mark=)
                              the files read back from the folder (a batch at a time, at
                              most MAX_SHARED_BYTES each) and shared in one transaction,
                              under one new version (Store.share_outputs), never over a
                              path shared from a newer build mark
    take_back(folder, share, paths, mark)
                              under the folder's lock, after a share: the paths the store
                              holds from a newer mark written back over this build's files
    folder_lock(folder)       an exclusive flock on <folder>/.state/shared.lock
    apply_shared(folder, store)   under that lock: write what is shared after the folder's
                              marker into it; the paths written (the one way shared files
                              reach a folder: a follower's rounds, and a build before it
                              builds, so that it starts from the cluster's archive state
                              and feed summaries)
    read_marker(folder)       (database id, (version, path)) the folder has every shared
                              file up to, from <folder>/.state/shared.json

The lock: a build holds it while it catches up, writes and shares, a follower while it
reads what is shared and writes it, so the follower never writes an older shared file over
one a build has just written (a build's files become a version only when its share
commits). The marker names the database (a folder filled from another database starts
over) and the (version, path) up to which the folder has every shared file at that version
or a newer one: versions commit in the order they are given (store/outputs.py), so nothing
at or below it can appear later, and rows are applied in that order, only past it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from syndicator.config import Config
from syndicator.errors import PublishError
from syndicator.model import PublishedFile, SiteRender
from syndicator.publish import common
from syndicator.publish.archivestate import STATE_DIR
from syndicator.publish.pagerender import ARCHIVE_DIR
from syndicator.publish.pagewriter import replace_file
from syndicator.publish.writer import write_atomic

log = logging.getLogger(__name__)

LOCK_NAME = "shared.lock"
MARKER_NAME = "shared.json"
PAGE_BYTES = 8 << 20        # shared bytes read per statement
# The largest file a build may share (docs/service.md): far above any feed document or
# archive page (a feed of 1,000 items of 64 KiB each), and a bound on what one shared row
# holds in the memory of the build sharing it and of every follower.
MAX_SHARED_BYTES = 64 << 20

Key = tuple[int, str]       # (version, path): the order shared rows are applied in
START: Key = (0, "")
INDEX_FILE = "index.html"
OPML_FILE = "feeds.opml"
SUMMARIES_FILE = "summaries.json"


@runtime_checkable
class OutputShare(Protocol):
    """What sharing needs of the store (Store has it; store/outputs.py)."""

    @property
    def shares_outputs(self) -> bool: ...

    def share_outputs(self, files: Iterable[tuple[str, bytes]], *, removed: Iterable[str] = (),
                      keep: Callable[[str], bool] | None = None,
                      now: datetime, mark: int = 0, site: SiteRender | None = None,
                      feeds: Iterable[str] = ()) -> int | None: ...

    def build_mark(self) -> int: ...

    def published_newer(self, paths: Iterable[str], mark: int) -> list[PublishedFile]: ...

    def published_head(self) -> tuple[str, int]: ...

    def published_since(self, version: int, path: str = "", *, max_bytes: int = ...,
                        data: bool = True) -> list[PublishedFile]: ...


def sharing(store: object) -> OutputShare | None:
    """`store` when builds share their files through it, else None."""
    if isinstance(store, OutputShare) and store.shares_outputs:
        return store
    return None


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold the output folder's lock (blocking until it is free). The OS drops it however
    the process ends, so a crash never leaves it held."""
    path = folder / STATE_DIR / LOCK_NAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise PublishError(f"cannot open the output folder's lock: {exc}",
                           path=str(path)) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)     # closing drops the flock


def share_build(config: Config, share: OutputShare, written: Iterable[Path],
                removed: Iterable[Path], now: datetime, *, prune: bool,
                mark: int = 0, site: SiteRender | None = None) -> int | None:
    """Share the files of a build (`written`: every file it wrote or found unchanged, so
    that a file whose earlier share failed is shared now) and the ones it `removed`. With
    `prune` (only `syndicator build --prune-removed`, never an ordinary build: an instance
    on an older configuration would delete newer feeds everywhere) it also removes what is
    shared for feeds this configuration does not have. `mark`: the build mark taken before
    the build read the store (a path shared from a newer one is left alone); `site`: what
    renders the site-wide files inside the share (publish/site.py SharedSite). Returns the
    version, or None when nothing differed from what was shared."""
    root = config.output_path
    keep = belongs_to(config) if prune else None
    # Read as the store consumes them, a batch at a time (memory holds one batch, not the
    # build). Shares of the same feed take turns: they would write the same rows.
    paths = sorted(set(written))
    gone = [relative(root, path) for path in removed]
    feeds = {built_for(path) for path in [*(relative(root, path) for path in paths), *gone]}
    return share.share_outputs(_read(root, paths), removed=gone, keep=keep, now=now,
                               mark=mark, site=site, feeds=sorted(f for f in feeds if f))


def take_back(folder: Path, share: OutputShare, paths: Iterable[str], mark: int) -> list[str]:
    """Write over this build's files in `folder` the shared copies of `paths` that a build
    from a newer mark shared (the share left those rows alone): the folder serves what the
    cluster does. Call under `folder_lock(folder)`, after the share. Returns the paths."""
    taken = _apply_rows(folder, share.published_newer(paths, mark))
    if taken:
        log.info("shared builds: %d file(s) of %s were shared from a newer build; kept those",
                 len(taken), folder)
    return taken


def relative(root: Path, path: Path) -> str:
    """`path` as shared: relative to the output folder, with forward slashes."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        raise PublishError(f"not in the output folder {root}", path=str(path)) from None


def _read(root: Path, paths: Iterable[Path]) -> Iterator[tuple[str, bytes]]:
    """Each file's shared path and bytes, read as asked for; a file over MAX_SHARED_BYTES
    is a PublishError naming it and the limit."""
    for path in paths:
        try:
            with path.open("rb") as file:
                # Its size first: no buffer of the limit's size, and no read of a file over it.
                size = os.fstat(file.fileno()).st_size
                data = file.read() if size <= MAX_SHARED_BYTES else b""
        except FileNotFoundError:
            continue     # removed since (a stale archive page): not shared
        except OSError as exc:
            raise PublishError(f"cannot read a built file to share it: {exc}",
                               path=str(path)) from exc
        if max(size, len(data)) > MAX_SHARED_BYTES:
            raise PublishError(f"a built file is larger than a shared file may be "
                               f"({MAX_SHARED_BYTES} bytes, MAX_SHARED_BYTES): not shared",
                               path=str(path))
        yield relative(root, path), data


_FEED_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")     # the configuration's id pattern
_FIXED = frozenset({INDEX_FILE, OPML_FILE, f"{STATE_DIR}/{SUMMARIES_FILE}"})


def built_for(path: str) -> str | None:
    """The one home of "a path a build writes": the feed id a shared path belongs to, ""
    for the files every build writes (index, OPML, summaries), None for any other path.
    The shapes: `<feed>.<fmt>`, `archive/<feed>/<page>.<fmt>`, `.state/archive-<feed>.json`
    and the fixed files, spelled exactly so (no `.` or empty parts: a path is compared as
    written, so an unnormalised spelling is not one of these shapes)."""
    if path in _FIXED:
        return ""
    parts = path.split("/")
    if len(parts) == 1:
        feed, _, ext = parts[0].rpartition(".")
        return feed if _FEED_ID.fullmatch(feed) and ext in common.FORMATS else None
    if len(parts) == 3 and parts[0] == ARCHIVE_DIR:
        page, _, ext = parts[2].rpartition(".")
        return (parts[1] if _FEED_ID.fullmatch(parts[1]) and page.isdigit() and page.isascii()
                and ext in common.FORMATS else None)
    if len(parts) == 2 and parts[0] == STATE_DIR:
        name = parts[1]
        if name.startswith("archive-") and name.endswith(".json"):
            feed = name[len("archive-"):-len(".json")]
            return feed if _FEED_ID.fullmatch(feed) else None
    return None


def belongs_to(config: Config) -> Callable[[str], bool]:
    """Whether a shared path is one the configured feeds' builds write."""
    feeds = {feed.id for feed in config.feeds}

    def keep(path: str) -> bool:
        feed = built_for(path)
        return feed == "" or feed in feeds

    return keep


# -- shared files into a folder ---------------------------------------------------------------

def apply_shared(folder: Path, store: OutputShare) -> tuple[str, Key, list[str]]:
    """Write what is shared after the folder's marker into it, in (version, path) order, and
    move the marker past it. Call under `folder_lock(folder)`. Returns the database id, the
    marker and the paths written (or removed)."""
    database, _ = store.published_head()
    known, marker = read_marker(folder)
    if known != database:
        marker = START
    written: list[str] = []
    while rows := store.published_since(*marker, max_bytes=PAGE_BYTES):
        written += _apply_rows(folder, rows)
        marker = (rows[-1].version, rows[-1].path)
        _write_marker(folder, database, marker)
    return database, marker, written


def _apply_rows(folder: Path, rows: Iterable[PublishedFile]) -> list[str]:
    """Write (or remove) each row's file in `folder`; the paths done. A row that cannot be
    applied is logged and passed (a follower's marker moves past it): one bad row never
    stops this folder's follower or its builds."""
    done: list[str] = []
    for row in rows:
        try:
            _apply(folder, row)
        except (PublishError, OSError) as exc:
            log.warning("shared builds: %s; skipped", exc)
            continue
        done.append(row.path)
    return done


def _apply(folder: Path, row: PublishedFile) -> None:
    target = _target(folder, row.path)
    if target is None:
        raise PublishError("not a path a build writes", path=row.path)
    if row.data is not None:
        if _holds(target, row.data, row.sha256):
            # This folder wrote these bytes itself (its own build, shared since) or a round
            # before did: left alone, so that an unchanged file keeps its time (clients'
            # If-Modified-Since) and a large archive is not written again.
            return
        write_atomic(target, row.data)
        if row.published is not None:
            # The build's time, in every folder: one Last-Modified across the cluster.
            stamp = row.published.timestamp()
            try:
                os.utime(target, (stamp, stamp))
            except OSError as exc:
                raise PublishError(f"cannot set the modification time: {exc}",
                                   path=str(target)) from exc
        return
    try:
        target.unlink(missing_ok=True)
    except OSError as exc:
        raise PublishError(f"cannot remove a file a build removed: {exc}",
                           path=str(target)) from exc


def _holds(target: Path, data: bytes, sha256: str | None) -> bool:
    """Whether the file at `target` has these bytes (whose SHA-256 is `sha256`, if known):
    the same size (most differ there) and SHA-256 (the file hashed as it is read, never
    held whole)."""
    digest = sha256 or hashlib.sha256(data).hexdigest()
    try:
        if target.stat().st_size != len(data):
            return False
        with target.open("rb") as file:
            return hashlib.file_digest(file, "sha256").hexdigest() == digest
    except OSError:
        return False


def _target(folder: Path, path: str) -> Path | None:
    """Where a shared path goes: only a path of a shape builds write (`built_for`: never
    the lock's or the marker's files, never a path outside the folder)."""
    if built_for(path) is None:
        return None
    return folder.joinpath(*path.split("/"))


def read_marker(folder: Path) -> tuple[str | None, Key]:
    path = folder / STATE_DIR / MARKER_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return str(data["database"]), (int(data["version"]), str(data["path"]))
    except FileNotFoundError:
        return None, START
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s unreadable (%s); reading every shared file again", path, exc)
        return None, START


def _write_marker(folder: Path, database: str, key: Key) -> None:
    # Not fsynced: the files before it are (write_atomic), and a lost marker only means
    # reading those files again (not writing them: their bytes are there already).
    data = {"database": database, "version": key[0], "path": key[1]}
    replace_file(folder / STATE_DIR / MARKER_NAME, (json.dumps(data) + "\n").encode("utf-8"))
