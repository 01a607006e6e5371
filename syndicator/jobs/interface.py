"""The job interface: what jobs ask for (`Work`), what they run (`Bodies`), what the
commands drive (`Engine`). See the package docstring."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from syndicator.config import Config, Schedule

if TYPE_CHECKING:
    from syndicator.app import App
    from syndicator.model import RunResult
    from syndicator.store.outage import StoreOutage


PRUNE_EVERY = Schedule(every=3600.0)   # how often the engines run Bodies.prune


class Work(Protocol):
    """What a running job asks of the engine."""

    def build_feeds(self, feed_ids: Sequence[str]) -> tuple[str, ...]:
        """Have these feeds rebuilt; the ids of those already rebuilt (and changed) when
        it returns: all that changed when built at once, none when queued."""
        ...

    def send_due(self, source_id: str) -> None:
        """A poll of the source stored new or changed items: send what is due now."""
        ...


class Inline:
    """Work done at once in the caller's thread: the in-process engine's, and a service's
    before an engine takes it over."""

    def __init__(self, build: Callable[[Sequence[str]], tuple[str, ...]]) -> None:
        self._build = build
        self.kick: Callable[[], None] | None = None   # wakes the push job, when there is one

    def build_feeds(self, feed_ids: Sequence[str]) -> tuple[str, ...]:
        return self._build(feed_ids)

    def send_due(self, source_id: str) -> None:
        if self.kick is not None:
            self.kick()


class Bodies(Protocol):
    """What the jobs run (service.Service)."""

    app: App
    work: Work
    outage: StoreOutage
    after_build: list[Callable[[tuple[str, ...]], None]]
    after_run: list[Callable[[RunResult], None]]

    def poll(self, source_id: str) -> RunResult | None: ...

    def build(self, feed_ids: Sequence[str]) -> tuple[str, ...]: ...

    def prune(self) -> None:
        """Bound what grows as the service runs (the run log, the shared rate rows); never
        raises. Run hourly."""
        ...

    def stop(self) -> None: ...

    def wait_idle(self, timeout: float) -> bool: ...


class Engine(Protocol):
    """A running engine, as the commands and the status page see it."""

    description: str     # for the start line: "in-process", "procrastinate on ..."

    def start(self) -> None: ...

    def stop(self, timeout: float) -> bool:
        """Take no more jobs; wait up to `timeout` s for running ones. False if some still
        run (the caller exits anyway: their transactions are rolled back)."""
        ...

    @property
    def running(self) -> bool: ...

    @property
    def started(self) -> datetime | None: ...

    def next_run(self, source_id: str) -> datetime | None: ...


def is_cluster(config: Config) -> bool:
    """Whether the storage asks for the cluster engine (PostgreSQL) rather than the
    in-process one: the one place this is decided."""
    return config.storage_url.split(":", 1)[0].split("+", 1)[0] in ("postgresql", "postgres")
