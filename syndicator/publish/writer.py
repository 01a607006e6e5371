"""Atomic file replacement for published files.

Readers (a web server, a feed reader polling the file) must never see a half-written feed:
the bytes go to a temporary file in the same directory (same file system, so the rename is
atomic), are flushed and fsynced, and then replace the target in one `os.replace`.
Unchanged content is not rewritten, so the file's mtime — and the Last-Modified/ETag a web
server derives from it — stays put and readers' conditional GETs keep getting 304.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from syndicator.errors import PublishError

# Published files are meant to be served; mkstemp's 0600 would hide them from a web server
# running as another user.
FILE_MODE = 0o644
# Threads for fsynced writes: fsync waits for the disk (~1-4 ms on slow disks), so a build's
# few files are written in parallel and their waits overlap.
FSYNC_THREADS = 8


def write_atomic(path: Path, data: bytes) -> bool:
    """Write `data` to `path` atomically. False (and nothing written) when it already holds
    exactly these bytes. Raises PublishError when the file cannot be read or written."""
    if _holds(path, data):
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise PublishError(f"cannot create a temporary file: {exc}", path=str(path)) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, FILE_MODE)
        os.replace(temp_name, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise PublishError(f"cannot write: {exc}", path=str(path)) from exc
    fsync_path(path.parent)
    return True


def _holds(path: Path, data: bytes) -> bool:
    try:
        if path.stat().st_size != len(data):  # cheap check before reading the whole file
            return False
        return path.read_bytes() == data
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise PublishError(f"cannot read the current file: {exc}", path=str(path)) from exc


def fsync_path(path: Path) -> None:
    """fsync a file, or a folder to persist a rename in it. Best effort: not every platform
    can open a directory."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def fsync_threads() -> ThreadPoolExecutor:
    """Threads for fsynced writes, kept between builds (starting them costs ~0.1-1 ms each).
    Callers must not wait on this pool from inside one of its own tasks."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(FSYNC_THREADS, thread_name_prefix="feed-writer")
        return _POOL
