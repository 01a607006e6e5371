"""Following the shared build output (PostgreSQL): whichever instance built a feed, every
serving process writes the files into its own output folder and serves them at once.

    OutputSync(folder, store, cache, outage)
        start()   under the folder's lock: read how far the folder is (its marker), load the
                  folder into the cache; then, in a thread: LISTEN, catch up, and from then
                  on catch up again on every notification and every FALLBACK_S seconds
                  (a notification missed while the listening connection was down)
        stop()

A round, under the output folder's lock (publish/shared.py, which also says what the
folder's marker, `.state/shared.json`, records):

    rows after this process's cursor, up to the folder's marker   another process wrote them
        into this folder (`serve`'s workers following into one folder, a build catching up
        before it builds): reloaded into the cache only
    rows after the marker                                          written into the folder by
                                                                   `apply_shared`
    then every file the round touched is reloaded into the cache at once

The store down: the folder and the cache keep what they have and are served; the outage is
logged once (StoreOutage), the connection is retried with backoff, and the first round after
it catches up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from syndicator.errors import PublishError, StoreError
from syndicator.publish.shared import (
    START,
    Key,
    OutputShare,
    apply_shared,
    folder_lock,
    read_marker,
)
from syndicator.store.outage import StoreOutage

log = logging.getLogger(__name__)

FALLBACK_S = 5.0            # a round at least this often, notified or not
WAKE_S = 1.0                # how often the thread looks whether it was asked to stop
RELISTEN_S = 0.1            # after the listening connection dropped: listen again this soon
RETRY_FIRST_S = 0.5         # after a store failure: wait this long, doubling ...
RETRY_MAX_S = 15.0          # ... up to this


class Listener(Protocol):
    def wait(self, timeout: float) -> bool: ...

    def close(self) -> None: ...


class SharedOutput(OutputShare, Protocol):
    """What the follower needs of the store (store/outputs.py)."""

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
        self._cursor: Key = START     # what this process's cache holds
        self._database: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="output-sync", daemon=True)
        self.rounds = 0                 # rounds completed (tests wait on it)

    def start(self) -> OutputSync:
        """Load the folder into the cache as the marker describes it, then follow."""
        with folder_lock(self._folder):
            self._database, self._cursor = read_marker(self._folder)
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
        known, marker = read_marker(self._folder)
        if known != self._database:
            self._cursor = START      # this cache's cursor was of another marker's database
        others = self._written_by_others(marker) if known is not None else []
        database, marker, written = apply_shared(self._folder, self._store)
        if known != database:
            others = []               # the folder was of another database: all rewritten
        self._database, self._cursor = database, marker
        return list(dict.fromkeys([*others, *written]))

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
