"""make_app(): the one place that wires a Config to its store, fetcher and clock.

Tests and commands inject real-but-local parts through the keyword arguments instead of
monkeypatching (a Store on a tmp path, a Fetcher with a custom session, a fixed clock).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from syndicator.config import Config
from syndicator.fetch import Fetcher
from syndicator.store import Store
from syndicator.workers import PageWorkers, auto_processes

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class App:
    config: Config
    store: Store
    fetcher: Fetcher
    clock: Clock = field(default=utc_now)
    workers: PageWorkers = field(default_factory=lambda: PageWorkers(0))

    def close(self) -> None:
        self.workers.close()
        self.fetcher.close()
        self.store.close()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_app(config: Config, *, store: Store | None = None, fetcher: Fetcher | None = None,
             clock: Clock | None = None) -> App:
    return App(
        config=config,
        store=store if store is not None else Store(config.storage_url),
        fetcher=fetcher if fetcher is not None else Fetcher(),
        clock=clock or utc_now,
        workers=PageWorkers(extract_processes(config)),
    )


def extract_processes(config: Config) -> int:
    """The configured number of page worker processes ("auto" resolved)."""
    wanted = config.extract_processes
    return auto_processes() if wanted == "auto" else wanted
