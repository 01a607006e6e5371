"""make_app(): the one place that wires a Config to its store, fetcher and clock.

It also chooses where politeness and pacing live: a PostgreSQL store gives every instance
on it one shared rate state (`App.rates`, store/rates.py), so the per-host limits of the
Fetcher (`politeness.ClusterGates`, `polite_fetcher`) and Telegram's limits
(`push/pacing.py`) hold across all of them; on SQLite (one process) they stay in memory, as
`LocalGates` and the in-process windows. Commands that fetch without an App (`check`,
`discover`) get the same politeness from `command_fetcher`.

Tests and commands inject real-but-local parts through the keyword arguments instead of
monkeypatching (a Store on a tmp path, a Fetcher with a custom session, a fixed clock).

The fetcher and the page workers are made (and their modules imported) when first used:
commands that only read the store, such as a build, are spared requests, the extraction
stack and dateparser (~15 MB of a build's peak RSS).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from syndicator.config import Config
from syndicator.store import Store
from syndicator.store.database import ONE_JOB, PoolSize

if TYPE_CHECKING:
    from syndicator.fetch import Fetcher
    from syndicator.politeness import SharedRates
    from syndicator.workers import PageWorkers

Clock = Callable[[], datetime]

log = logging.getLogger(__name__)


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
                self._fetcher = polite_fetcher(self.rates)
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
             clock: Clock | None = None, pool: PoolSize = ONE_JOB) -> App:
    """`pool`: the store's connection pool on PostgreSQL (store/database.py store_pool),
    when the store is opened here."""
    store = store if store is not None else Store(config.storage_url, pool=pool)
    return App(
        config=config,
        store=store,
        fetcher=fetcher,
        clock=clock or utc_now,
        rates=store.shared_rates(),
    )


def polite_fetcher(rates: SharedRates | None) -> Fetcher:
    """A Fetcher whose per-host politeness is every instance's on the database of `rates`
    (`ClusterGates`), or without shared rates this process's own (`LocalGates`)."""
    from syndicator.fetch import Fetcher
    from syndicator.politeness import ClusterGates

    return Fetcher(gates=None if rates is None else ClusterGates(rates))


@contextmanager
def command_fetcher(config: Config | None, command: str) -> Iterator[Fetcher]:
    """The Fetcher of a command that fetches without an App (`check`, `discover`), polite
    as make_app's would be: on a PostgreSQL store it shares the per-host limits of every
    instance polling from that database, so a command run against a site the cluster
    polls keeps `per_host` and `delay` with them. Without a config, its own politeness.

    A store configured but out of reach is no reason to refuse a dry run: the command
    warns and keeps its politeness to itself (the instances cannot fetch through the
    shared rates either while the database is down)."""
    rates = None
    if config is not None:
        from syndicator.errors import StoreError
        from syndicator.store.rates import shared_rates

        rates = shared_rates(config.storage_url)
        if rates is not None:
            try:
                rates.check()
            except StoreError as exc:
                rates.close()
                rates = None
                log.warning("%s; %s paces its requests by itself, not with the instances "
                            "on that database", exc, command)
    fetcher = polite_fetcher(rates)
    try:
        yield fetcher
    finally:
        fetcher.close()
        if rates is not None:
            rates.close()


def extract_processes(config: Config) -> int:
    """The configured number of page worker processes ("auto" resolved)."""
    wanted = config.extract_processes
    if wanted != "auto":
        return wanted
    from syndicator.workers import auto_processes
    return auto_processes()
