"""The tasks of a parallel archive pass (parallel.py) that worker processes run
(processes.Pool): `keys_task` reads the second part of a history, `render_task` renders a
run of pages; their arguments and answers. Light on imports: what this module imports is
what a build's worker process loads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from syndicator.publish.pagewriter import PageWriter

if TYPE_CHECKING:   # types only: a worker process imports only what it uses
    from collections.abc import Iterator

    from syndicator.config import Config, FeedConfig
    from syndicator.model import FeedLink
    from syndicator.publish.pagerender import ItemReader, Key, PageJob

Page = tuple[str, int, str]     # feed id, page number, digest


class LinkReader(Protocol):
    """A store that reads part of a history (Store and reader.SqliteItems have it)."""

    def feed_links(self, source_ids: Sequence[str], *, text: bool = True,
                   first_id: str | None = None, below_id: str | None = None,
                   batch: int = 2000) -> Iterator[FeedLink]: ...


@dataclass(frozen=True)
class Task:
    jobs: list[PageJob]


@dataclass(frozen=True)
class Setup:
    """What every run of pages of one pass shares."""

    factory: Callable[[], ItemReader]
    config: Config
    output: Path
    now: datetime


@dataclass(frozen=True)
class Done:
    pages: list[Page]
    written: list[Path]
    unchanged: list[Path]


@dataclass(frozen=True)
class KeysTask:
    """Read the join keys of these feeds from the items with ids from `first_id` on."""

    factory: Callable[[], LinkReader]
    feeds: list[FeedConfig]
    sources: list[str]
    text: bool
    first_id: str


@dataclass(frozen=True)
class Keys:
    keys: dict[str, list[Key]]


def prepare() -> None:
    """A build worker's preparation: the modules its tasks use, imported while the parent
    plans the pass (a pool started for the pass waits for it)."""
    import syndicator.publish.history  # keys_task
    import syndicator.publish.pagerender  # noqa: F401  (render_task)


def keys_task(task: KeysTask) -> Keys:
    """The join keys of the second part of a history: its own reader, closed after."""
    from syndicator.publish.history import filtered_feeds, history_keys

    store = task.factory()
    try:
        links = store.feed_links(task.sources, text=task.text, first_id=task.first_id)
        keys = history_keys(filtered_feeds(task.feeds), links)
        for part in keys.values():
            part.sort()     # here, so that the parent merges sorted parts
        return Keys(keys)
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()


def render_task(setup: Setup, task: Task) -> Done:
    """One run of pages: rendered and written without fsync (the parent makes every file
    durable at once). The store is opened for the run and closed after it, so that nothing
    stays open in a worker that lives on (a crawl's page worker, lent to a build)."""
    from syndicator.publish.pagerender import no_gc, render_pages

    store = setup.factory()
    writer = PageWriter()
    try:
        with no_gc():
            pages = render_pages(setup.config, setup.output, task.jobs, store, writer,
                                 setup.now, {})
        written, unchanged = writer.finish(durable=False)
    except BaseException:
        writer.close()
        raise
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()
    return Done(pages=pages, written=written, unchanged=unchanged)
