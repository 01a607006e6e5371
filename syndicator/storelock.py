"""The store lock: a `run` on a SQLite store holds an exclusive lock on `<db>.lock` for its
lifetime, so a second `run` on the same file refuses to start. The lock is on the real file:
`<db>` with every symbolic link resolved and made absolute, so a second `run` reaching the
same file through a symlink, a symlinked folder or another relative path refuses too."""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path

from syndicator.errors import StoreError

_SQLITE_URL = re.compile(r"^sqlite(?:\+\w+)?:///(?P<path>[^?]*)")


def sqlite_path(storage_url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and in-memory ones."""
    match = _SQLITE_URL.match(storage_url)
    if not match:
        return None
    path = match.group("path")
    if path in ("", ":memory:") or path.startswith("file:"):
        return None
    return Path(path)


class StoreLock:
    """An exclusive flock on `<db>.lock`, held while the process lives (released by the OS
    however the process ends, so a crash never leaves a stale lock)."""

    def __init__(self, db: Path) -> None:
        self.db = db
        # resolve(): symlinks followed (a dangling one too: the file it will create), ".."
        # and relative parts taken against the working folder, as SQLite opens the file.
        real = db.resolve()
        self.path = real.with_name(real.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> StoreLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot create the lock file {self.path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise StoreError(f"another syndicator run is using {self.db} (pid {holder})") \
                from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)   # closing drops the flock; the file stays (no unlink race)
            self._fd = None
