"""Writing many archive pages quickly: in background threads, atomically, durable once.

A full build writes thousands of archive pages (1.5 GB for 100,000 items). `write_atomic`
fsyncs each file and its directory (~1-4 ms each); here every page still goes to a temporary
file that is renamed over the target (readers never see half a page, and an unchanged page is
not rewritten), but durability is settled once for the whole batch by `finish()`: a few
files are fsynced one by one, many by one syncfs(2) of the output's file system. The caller
records pages as done (archive state) only after `finish()`, so a crash before it only makes
the next build write those pages again.

The threads overlap the kernel's copying with the next pages' rendering (the GIL is released
while writing); at most `in_flight` bytes of documents wait in memory.

A batch larger than `keep_cached` bytes (a full build's archive history) does not stay in the
page cache: once a page's writeback, started as it was written, has finished, its cached
copy is released (posix_fadvise DONTNEED). Archive pages are rarely read, and caching 1.5 GB
of them would push out what is (the store, the current feeds); the kernel also reuses the
released memory for the next pages instead of taking fresh memory, which on a VM that
returns free memory to its host (free page reporting) costs a host fault per page, several
times what writing the page costs.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from syndicator.errors import PublishError
from syndicator.publish.writer import FILE_MODE, fsync_path, fsync_threads

# Up to this many new files are fsynced one by one; more, and one syncfs covers them all.
FSYNC_EACH_MAX = 32
# Documents waiting for a writer thread, in bytes: rendering runs ahead of the disk by this
# much at most (a page is ~0.2-0.7 MB per format).
IN_FLIGHT_BYTES = 4 << 20
# A batch keeps its pages in the page cache up to this many bytes; later pages are released
# once written to disk (an incremental build's few pages stay cached).
KEEP_CACHED_BYTES = 64 << 20
# Written pages wait this many newer ones before their release, so that the writeback started
# when each was written has usually finished and the release does not wait for the disk.
RELEASE_LAG = 16


class PageWriter:
    """Atomic writes in `threads` background threads; `finish()` waits, makes them durable
    and returns (written, unchanged) paths in submission order."""

    def __init__(self, *, threads: int = 2, in_flight: int = IN_FLIGHT_BYTES,
                 keep_cached: int = KEEP_CACHED_BYTES) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="page-writer")
        self._budget = in_flight
        self._queued = 0
        self._room = threading.Condition()
        self._futures: list[tuple[Path, Future[bool]]] = []
        self._folders: set[Path] = set()
        self._keep_cached = keep_cached if _SYNC_FILE_RANGE is not None else None
        self._submitted = 0
        self._to_release: deque[Path] = deque()
        self._release_lock = threading.Lock()

    def submit(self, path: Path, data: bytes) -> None:
        size = len(data)
        with self._room:
            # One document larger than the budget still goes, alone.
            self._room.wait_for(lambda: self._queued == 0 or self._queued + size <= self._budget)
            self._queued += size
        release = self._keep_cached is not None and self._submitted >= self._keep_cached
        self._submitted += size
        try:
            future = self._pool.submit(self._write, path, data, release)
        except BaseException:
            self._release(size)
            raise
        self._futures.append((path, future))

    def _release(self, size: int) -> None:
        with self._room:
            self._queued -= size
            self._room.notify_all()

    def _write(self, path: Path, data: bytes, release: bool) -> bool:
        try:
            folder = path.parent
            if folder not in self._folders:   # one mkdir per folder, not per page
                _make_folder(folder, path)
                self._folders.add(folder)
            written = _replace(path, data, mkdir=False, writeback=True)
        finally:
            self._release(len(data))
        if written and release:
            with self._release_lock:
                self._to_release.append(path)
                due = self._to_release.popleft() if len(self._to_release) > RELEASE_LAG else None
            if due is not None:
                _release_cached(due)
        return written

    def _release_rest(self) -> None:
        """Release the pages still waiting for their lag (all writes have finished)."""
        while self._to_release:
            _release_cached(self._to_release.popleft())

    def finish(self, *, also: Sequence[Path] = (), durable: bool = True,
               ) -> tuple[list[Path], list[Path]]:
        """Wait for every write; with `durable`, make the written files and `also` (files
        written by other processes, same file system) durable before returning."""
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
        self._release_rest()
        if durable:
            _make_durable([*written, *also])
        return written, unchanged

    def finish_later(self, *, also: Sequence[Path] = ()) -> Finishing:
        """`finish(also=also)` in a thread of its own, so that the caller can render the
        documents that go after these pages while their fsyncs wait for the disk."""
        return Finishing(lambda: self.finish(also=also))

    def close(self) -> None:
        """Abandon what is queued (after an error elsewhere); wait for what runs."""
        for _, future in self._futures:
            future.cancel()
        self._pool.shutdown(wait=True)


class Finishing:
    """A PageWriter's finish() under way in another thread; `wait()` returns its result or
    raises its error."""

    def __init__(self, finish: Callable[[], tuple[list[Path], list[Path]]]) -> None:
        self._finish = finish
        self._result: tuple[list[Path], list[Path]] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="page-durability", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._finish()
        except BaseException as exc:   # handed to the waiting thread
            self._error = exc

    def wait(self) -> tuple[list[Path], list[Path]]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


def replace_file(path: Path, data: bytes) -> bool:
    """Atomically replace `path` with `data` without waiting for the disk (for files that are
    rebuilt from the store when lost: archive state); False when it already holds them."""
    return _replace(path, data)


def _make_folder(folder: Path, path: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PublishError(f"cannot create the folder: {exc}", path=str(path)) from exc


def _replace(path: Path, data: bytes, *, mkdir: bool = True, writeback: bool = False) -> bool:
    """Write `data` to a temporary file next to `path` and rename it over `path`; False when
    `path` already holds these bytes. `mkdir` False: the folder is known to exist.
    `writeback`: start writing the file to disk now, without waiting (see _start_writeback)."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise PublishError(f"cannot read the current file: {exc}", path=str(path)) from exc
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        if mkdir:
            path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if writeback:
                _start_writeback(fd)
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
    pool = fsync_threads()
    list(pool.map(fsync_path, paths))
    list(pool.map(fsync_path, folders))


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()
_SYNC_FILE_RANGE = getattr(_LIBC, "sync_file_range", None) if _LIBC is not None else None
if _SYNC_FILE_RANGE is not None:
    _SYNC_FILE_RANGE.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
_SYNC_FILE_RANGE_WRITE = 2


def _start_writeback(fd: int) -> None:
    """sync_file_range(2) with SYNC_FILE_RANGE_WRITE (Linux): queue the file's dirty pages for
    writing and return. The kernel would otherwise hold a full build's 1.5 GB until the final
    syncfs (its own writeback starts after 30 s), which then waits for all of it; started
    here, the disk works while the next pages render. Durability still comes from
    `_make_durable`; this only moves the work earlier."""
    if _SYNC_FILE_RANGE is not None:
        _SYNC_FILE_RANGE(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)


_SYNC_FILE_RANGE_WAIT_BEFORE = 1
_SYNC_FILE_RANGE_WAIT_AFTER = 4


def _release_cached(path: Path) -> None:
    """Wait until `path`'s data is written to disk, then drop it from the page cache (a
    dirty page would not be dropped). Best effort: a file gone or replaced meanwhile is
    left as it is; durability is `_make_durable`'s, not this."""
    assert _SYNC_FILE_RANGE is not None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        _SYNC_FILE_RANGE(fd, 0, 0, _SYNC_FILE_RANGE_WAIT_BEFORE | _SYNC_FILE_RANGE_WRITE
                         | _SYNC_FILE_RANGE_WAIT_AFTER)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass
    finally:
        os.close(fd)


def _syncfs(folder: Path) -> bool:
    """syncfs(2) on the file system holding `folder` (Linux); False where unavailable."""
    syncfs = getattr(_LIBC, "syncfs", None) if _LIBC is not None else None
    if syncfs is None:
        return False
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return False
    try:
        return bool(syncfs(fd) == 0)
    finally:
        os.close(fd)
