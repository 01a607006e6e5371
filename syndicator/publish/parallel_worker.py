"""The worker process of a parallel archive pass (parallel.py): the messages both sides
pickle, and what the worker does with them.

A worker is started as `python -c BOOT`: it takes its parent's sys.path from stdin, then
`serve()` reads a Setup and Tasks (or a KeysTask) from stdin and writes one answer per task to
stdout. A lent page worker (workers.py) calls `keys_task` and `render_task` directly. Light on
imports: what this module imports is what every worker process loads.
"""

from __future__ import annotations

import os
import pickle
import sys
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

# What a lent worker is asked to call (Lender.call): this module's functions by name.
KEYS_TASK = f"{__name__}:keys_task"
RENDER_TASK = f"{__name__}:render_task"


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
    """The first message to a worker: what every task shares."""

    factory: Callable[[], ItemReader]
    config: Config
    output: Path
    now: datetime


@dataclass(frozen=True)
class Done:
    pages: list[Page]
    written: list[Path]
    unchanged: list[Path]
    peak_rss_mb: float


@dataclass(frozen=True)
class Failed:
    error: BaseException


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


# What the worker runs: sys.path first (so that it imports what its parent imported), then
# serve(). Not multiprocessing's spawn, which re-runs the parent's main script or module.
BOOT = ("import pickle, sys; sys.path[:] = pickle.load(sys.stdin.buffer); "
         "from syndicator.publish.parallel_worker import serve; serve()")


def serve() -> None:
    """The worker's loop: a Setup, then _Tasks until stdin closes; one answer per task.
    A KeysTask (the pass's history) may come before the Setup."""
    # Imported now, while the parent plans the pass (a prestarted worker waits for it).
    import syndicator.publish.history  # reads the second part of a history
    import syndicator.publish.pagerender  # noqa: F401
    # Answers go to the original stdout; anything printed goes to stderr instead.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    tasks = sys.stdin.buffer
    setup: Setup | None = None
    store: ItemReader | None = None
    while True:
        try:
            message: Setup | Task | KeysTask = pickle.load(tasks)
        except EOFError:
            return
        if isinstance(message, Setup):
            setup, store = message, message.factory()
            continue
        try:
            if isinstance(message, KeysTask):
                answer: Done | Failed | Keys = keys_task(message)
            else:
                assert setup is not None and store is not None, "a task before the setup"
                answer = render_run(setup, store, message)
        except Exception as exc:
            answer = Failed(exc)
        pickle.dump(answer, answers)
        answers.flush()
        # Not kept until the next answer: a history's keys would sit under the pages'
        # rendering (the worker's peak memory).
        del answer


def keys_task(task: KeysTask) -> Keys:
    """The join keys of the second part of a history (in a worker process, prestarted or
    lent through Lender.call): its own reader, closed after."""
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
    """One run of pages in a lent worker (a page worker, through Lender.call): the store
    is opened for the run and closed after it, so that nothing stays open in that process."""
    store = setup.factory()
    try:
        return render_run(setup, store, task)
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()


def render_run(setup: Setup, store: ItemReader, task: Task) -> Done:
    from syndicator.publish.pagerender import no_gc, render_pages

    writer = PageWriter()
    try:
        with no_gc():
            pages = render_pages(setup.config, setup.output, task.jobs, store, writer,
                                 setup.now, {})
        # Durability is settled by the parent for all processes at once.
        written, unchanged = writer.finish(durable=False)
    except BaseException:
        writer.close()
        raise
    return Done(pages=pages, written=written, unchanged=unchanged,
                 peak_rss_mb=_own_peak_rss_mb())


def _own_peak_rss_mb() -> float:
    """VmHWM of this process (Linux; 0 elsewhere). Not getrusage: after exec Linux keeps the
    forked copy of the parent's size in ru_maxrss."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0
