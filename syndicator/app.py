"""make_app(): the one place that wires a Config to its store, fetcher and clock.

It also chooses where politeness and pacing live: a PostgreSQL store gives every instance
on it one shared rate state (`App.rates`, store/rates.py), so the per-host limits of the
Fetcher (`politeness.ClusterGates`) and Telegram's limits (`push/pacing.py`) hold across
all of them; on SQLite (one process) they stay in memory, as `LocalGates` and the
in-process windows.

Tests and commands inject real-but-local parts through the keyword arguments instead of
monkeypatching (a Store on a tmp path, a Fetcher with a custom session, a fixed clock).

The fetcher and the page workers are made (and their modules imported) when first used:
commands that only read the store, such as a build, are spared requests, the extraction
stack and dateparser (~15 MB of a build's peak RSS).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from syndicator.config import Config
from syndicator.store import Store

if TYPE_CHECKING:
    from syndicator.fetch import Fetcher
    from syndicator.politeness import SharedRates
    from syndicator.workers import PageWorkers

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class App:
    """What a command works with: config, store, fetcher, clock and page workers."""

    def __init__(self, config: Config, store: Store, fetcher: Fetcher | None = None,
                 clock: Clock = utc_now, workers: PageWorkers | None = None,
                 rates: SharedRates | None = None) -> None:
        """Without `workers`, the page workers are those the config asks for; without
        `rates`, politeness and pacing are this process's own."""
        self.config = config
        self.store = store
        self.clock = clock
        self.rates = rates
        self._fetcher = fetcher
        self._workers = workers
        # Fetch threads may be the first to ask for the fetcher.
        self._lock = threading.Lock()

    @property
    def fetcher(self) -> Fetcher:
        made = self._fetcher
        if made is not None:        # the fetch threads ask for it for every page
            return made
        with self._lock:
            if self._fetcher is None:
                from syndicator.fetch import Fetcher
                from syndicator.politeness import ClusterGates
                rates = self.rates
                self._fetcher = Fetcher(gates=None if rates is None else ClusterGates(rates))
            return self._fetcher

    @fetcher.setter
    def fetcher(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher

    @property
    def workers(self) -> PageWorkers:
        made = self._workers
        if made is not None:
            return made
        with self._lock:
            if self._workers is None:
                from syndicator.workers import PageWorkers
                self._workers = PageWorkers(extract_processes(self.config))
            return self._workers

    @workers.setter
    def workers(self, workers: PageWorkers) -> None:
        self._workers = workers

    @property
    def workers_if_made(self) -> PageWorkers | None:
        """The page workers if something has used them (a run), else None: what a build
        may borrow without making them (and importing what reading pages needs)."""
        return self._workers

    def close(self) -> None:
        if self._workers is not None:
            self._workers.close()
        if self._fetcher is not None:
            self._fetcher.close()
        if self.rates is not None:
            self.rates.close()
        self.store.close()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_app(config: Config, *, store: Store | None = None, fetcher: Fetcher | None = None,
             clock: Clock | None = None) -> App:
    store = store if store is not None else Store(config.storage_url)
    return App(
        config=config,
        store=store,
        fetcher=fetcher,
        clock=clock or utc_now,
        rates=store.shared_rates(),
    )


def extract_processes(config: Config) -> int:
    """The configured number of page worker processes ("auto" resolved)."""
    wanted = config.extract_processes
    if wanted != "auto":
        return wanted
    from syndicator.workers import auto_processes
    return auto_processes()
