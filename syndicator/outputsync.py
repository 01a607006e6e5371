"""Following the shared build output (PostgreSQL): whichever instance built a feed, every
serving process writes the files into its own output folder and serves them at once.

    OutputSync(folder, store, cache, outage)
        start()   under the folder's lock: read how far the folder is (its marker), load the
                  folder into the cache; then, in a thread: LISTEN, catch up, and from then
                  on catch up again on every notification and every FALLBACK_S seconds
                  (a notification missed while the listening connection was down)
        stop()

A round, under the output folder's lock (publish/shared.py; a build in this folder holds it
while it writes and shares, so a round never writes an older file over a build's newer one):

    rows after this process's cursor, up to the folder's marker   another process following
        into the same folder (`serve`'s workers) wrote them: reloaded into the cache only
    rows after the marker, in (version, path) order, in pages of   written atomically (a
        a few MB                                                   removed file: deleted),
                                                                   the marker moved past them
    then every file the round touched is reloaded into the cache at once

The marker, `.state/shared.json`, names the database (a folder filled from another database
starts over) and the (version, path) up to which the folder has every shared file at that
version or a newer one. Versions commit in the order they are given (store/outputs.py), so
nothing at or below the marker can appear later. A file's older version never overwrites a
newer one: rows are applied in version order, only past the marker, under the lock.

The store down: the folder and the cache keep what they have and are served; the outage is
logged once (StoreOutage), the connection is retried with backoff, and the first round after
it catches up.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from syndicator.errors import PublishError, StoreError
from syndicator.model import PublishedFile
from syndicator.publish.archivestate import STATE_DIR
from syndicator.publish.pagewriter import replace_file
from syndicator.publish.shared import LOCK_NAME, folder_lock
from syndicator.publish.writer import write_atomic
from syndicator.store.outage import StoreOutage

log = logging.getLogger(__name__)

FALLBACK_S = 5.0            # a round at least this often, notified or not
WAKE_S = 1.0                # how often the thread looks whether it was asked to stop
RELISTEN_S = 0.1            # after the listening connection dropped: listen again this soon
RETRY_FIRST_S = 0.5         # after a store failure: wait this long, doubling ...
RETRY_MAX_S = 15.0          # ... up to this
PAGE_BYTES = 8 << 20        # shared bytes read per statement
MARKER_NAME = "shared.json"
_OWN_FILES = frozenset({f"{STATE_DIR}/{MARKER_NAME}", f"{STATE_DIR}/{LOCK_NAME}"})

Key = tuple[int, str]       # (version, path): the order rows are applied in
_START: Key = (0, "")


class Listener(Protocol):
    def wait(self, timeout: float) -> bool: ...

    def close(self) -> None: ...


class SharedOutput(Protocol):
    """What the follower needs of the store (store/outputs.py)."""

    def published_head(self) -> tuple[str, int]: ...

    def published_since(self, version: int, path: str = "", *, max_bytes: int = ...,
                        data: bool = True) -> list[PublishedFile]: ...

    def output_listener(self) -> Listener: ...


class Cache(Protocol):
    """What the follower needs of the feed cache (web/cache.py FeedCache)."""

    def load_all(self) -> None: ...

    def reload(self, paths: Sequence[Path]) -> Any: ...


class FolderOnly:
    """No cache: a process that serves nothing (`worker`) follows into its folder only."""

    def load_all(self) -> None:
        """Nothing held in memory."""

    def reload(self, paths: Sequence[Path]) -> None:
        """Nothing held in memory."""


class OutputSync:
    """Keeps one process's output folder and feed cache up to date with the shared output."""

    def __init__(self, folder: Path, store: SharedOutput, cache: Cache, outage: StoreOutage,
                 *, fallback: float = FALLBACK_S) -> None:
        self._folder = Path(folder)
        self._store = store
        self._cache = cache
        self._outage = outage
        self._fallback = fallback
        self._cursor: Key = _START     # what this process's cache holds
        self._database: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="output-sync", daemon=True)
        self.rounds = 0                 # rounds completed (tests wait on it)

    def start(self) -> OutputSync:
        """Load the folder into the cache as the marker describes it, then follow."""
        with folder_lock(self._folder):
            self._database, self._cursor = self._marker()
            self._cache.load_all()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(WAKE_S * 2)

    def _loop(self) -> None:
        listener: Listener | None = None
        retry = RETRY_FIRST_S
        due = True
        next_round = 0.0
        try:
            while not self._stop.is_set():
                try:
                    if listener is None:
                        # Listening before the round: a build that commits during it wakes
                        # the next one.
                        listener = self._store.output_listener()
                        due = True
                    if due or time.monotonic() >= next_round:
                        self.round()
                        next_round = time.monotonic() + self._fallback
                    self._outage.answered()
                    retry = RETRY_FIRST_S
                    try:
                        due = listener.wait(max(0.0, min(WAKE_S,
                                                         next_round - time.monotonic())))
                    except StoreError as exc:
                        # The listening connection dropped (the server restarted, the
                        # connection was terminated or cut): listen again and catch up at
                        # once. Whether the store is down, that connection or round tells.
                        log.debug("the connection listening for builds dropped: %s", exc)
                        listener.close()
                        listener = None
                        self._stop.wait(RELISTEN_S)
                except (StoreError, PublishError) as exc:
                    if isinstance(exc, StoreError):
                        self._outage.failed(exc, "following the shared builds")
                    else:
                        log.error("cannot write a shared build into %s: %s", self._folder, exc)
                    if listener is not None:
                        listener.close()
                        listener = None
                    self._stop.wait(retry)
                    retry = min(retry * 2, RETRY_MAX_S)
        except Exception:
            log.exception("following the shared builds stopped unexpectedly")
        finally:
            if listener is not None:
                listener.close()

    def round(self) -> list[str]:
        """Catch up with the shared output; returns the paths reloaded into the cache."""
        with folder_lock(self._folder):
            touched = self._catch_up()
        if touched:
            self._cache.reload([self._folder / path for path in touched])
            log.debug("shared builds: %d file(s) of %s reloaded", len(touched), self._folder)
        self.rounds += 1
        return touched

    def _catch_up(self) -> list[str]:
        database, _ = self._store.published_head()
        known, marker = self._marker()
        if known != database:
            marker = _START
        if self._database != database:
            self._database, self._cursor = database, _START
        touched = dict.fromkeys(self._written_by_others(marker))
        self._cursor = max(self._cursor, marker)
        # What nobody wrote into this folder yet.
        while rows := self._store.published_since(*self._cursor, max_bytes=PAGE_BYTES):
            for row in rows:
                self._apply(row)
                touched[row.path] = None
            self._cursor = (rows[-1].version, rows[-1].path)
            self._write_marker(database, self._cursor)
        return list(touched)

    def _written_by_others(self, marker: Key) -> list[str]:
        """The paths after this cache's cursor up to the folder's marker: another process
        following into this folder wrote them (their bytes are read from the folder)."""
        paths: list[str] = []
        cursor = self._cursor
        while cursor < marker:
            rows = [row for row in self._store.published_since(*cursor, data=False)
                    if (row.version, row.path) <= marker]
            if not rows:
                break
            paths += [row.path for row in rows]
            cursor = (rows[-1].version, rows[-1].path)
        return paths

    def _apply(self, row: PublishedFile) -> None:
        target = self._target(row.path)
        if target is None:
            log.warning("shared builds: %r is not a path inside the output folder; ignored",
                        row.path)
            return
        if row.data is not None:
            write_atomic(target, row.data)
            return
        try:
            target.unlink(missing_ok=True)
        except OSError as exc:
            raise PublishError(f"cannot remove a file a build removed: {exc}",
                               path=str(target)) from exc

    def _target(self, path: str) -> Path | None:
        """Where a shared path goes: a plain relative path inside the folder, never one of
        the follower's own files."""
        parts = PurePosixPath(path).parts
        if (not parts or PurePosixPath(path).is_absolute() or "\\" in path
                or any(part in ("", ".", "..") for part in parts) or path in _OWN_FILES):
            return None
        return self._folder.joinpath(*parts)

    def _marker(self) -> tuple[str | None, Key]:
        path = self._folder / STATE_DIR / MARKER_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return str(data["database"]), (int(data["version"]), str(data["path"]))
        except FileNotFoundError:
            return None, _START
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s unreadable (%s); reading every shared file again", path, exc)
            return None, _START

    def _write_marker(self, database: str, key: Key) -> None:
        # Not fsynced: the files before it are, and a lost marker only means reading
        # (not writing: their bytes are there already) those files again.
        data = {"database": database, "version": key[0], "path": key[1]}
        replace_file(self._folder / STATE_DIR / MARKER_NAME,
                     (json.dumps(data) + "\n").encode("utf-8"))
