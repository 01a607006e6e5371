"""Writing many archive pages quickly: in background threads, atomically, durable once.

A full build writes thousands of archive pages (1.5 GB for 100,000 items). `write_atomic`
fsyncs each file and its directory (~1-4 ms each); here every page still goes to a temporary
file that is renamed over the target (readers never see half a page, and an unchanged page is
not rewritten), but durability is settled once for the whole batch by `finish()`: a few
files are fsynced one by one, many by one syncfs(2) of the output's file system. The caller
records pages as done (archive state) only after `finish()`, so a crash before it only makes
the next build write those pages again.

The threads overlap the kernel's copying with the next pages' rendering (the GIL is released
while writing); at most `in_flight` documents wait in memory.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from syndicator.errors import PublishError
from syndicator.publish.writer import FILE_MODE, fsync_path

# Up to this many new files are fsynced one by one; more, and one syncfs covers them all.
FSYNC_EACH_MAX = 32


class PageWriter:
    """Atomic writes in `threads` background threads; `finish()` waits, makes them durable
    and returns (written, unchanged) paths in submission order."""

    def __init__(self, *, threads: int = 2, in_flight: int = 48) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="page-writer")
        self._slots = threading.BoundedSemaphore(in_flight)
        self._futures: list[tuple[Path, Future[bool]]] = []
        self._folders: set[Path] = set()

    def submit(self, path: Path, data: bytes) -> None:
        self._slots.acquire()
        try:
            future = self._pool.submit(self._write, path, data)
        except BaseException:
            self._slots.release()
            raise
        self._futures.append((path, future))

    def _write(self, path: Path, data: bytes) -> bool:
        try:
            return _replace(path, data)
        finally:
            self._slots.release()

    def finish(self) -> tuple[list[Path], list[Path]]:
        written: list[Path] = []
        unchanged: list[Path] = []
        error: BaseException | None = None
        for path, future in self._futures:
            try:
                (written if future.result() else unchanged).append(path)
            except BaseException as exc:  # every write is waited for before raising
                error = error or exc
        self._pool.shutdown(wait=True)
        self._futures = []
        if error is not None:
            raise error
        _make_durable(written)
        return written, unchanged

    def close(self) -> None:
        """Abandon what is queued (after an error elsewhere); wait for what runs."""
        for _, future in self._futures:
            future.cancel()
        self._pool.shutdown(wait=True)


def replace_file(path: Path, data: bytes) -> bool:
    """Atomically replace `path` with `data` without waiting for the disk (for files that are
    rebuilt from the store when lost: archive state); False when it already holds them."""
    return _replace(path, data)


def _replace(path: Path, data: bytes) -> bool:
    """Write `data` to a temporary file next to `path` and rename it over `path`; False when
    `path` already holds these bytes."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise PublishError(f"cannot read the current file: {exc}", path=str(path)) from exc
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise PublishError(f"cannot write: {exc}", path=str(path)) from exc
    return True


def _make_durable(paths: list[Path]) -> None:
    """Flush the files' data and their renames to disk."""
    if not paths:
        return
    folders = {path.parent for path in paths}
    if len(paths) > FSYNC_EACH_MAX and _syncfs(paths[0].parent):
        return
    # A few files: fsync them (then their folders) in parallel; the waits overlap.
    with ThreadPoolExecutor(max_workers=min(8, len(paths))) as pool:
        list(pool.map(fsync_path, paths))
        list(pool.map(fsync_path, folders))


def _syncfs(folder: Path) -> bool:
    """syncfs(2) on the file system holding `folder` (Linux); False where unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syncfs = libc.syncfs
    except (OSError, AttributeError):
        return False
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return False
    try:
        return bool(syncfs(fd) == 0)
    finally:
        os.close(fd)
