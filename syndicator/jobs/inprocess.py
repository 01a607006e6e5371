"""The in-process engine (SQLite, the embedded default): APScheduler in this process.

Every enabled source is an APScheduler job calling the service's poll; a poll that stored
something builds its feeds at once in its own thread (`Inline`) and wakes the push job, an
APScheduler job too (`pushjobs.py`: deliveries and digests), and so is the hourly pruning
of the run log (`Bodies.prune`). One process does all the work, so nothing is queued
anywhere: what `syndicator run` always did.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime

from syndicator.jobs.interface import PRUNE_EVERY, Bodies, Inline
from syndicator.scheduler import SourceScheduler

MAX_THREADS = 8   # scheduler threads by default: one per enabled source up to this


class InProcessEngine:
    description = "in-process"

    def __init__(self, bodies: Bodies, *, concurrency: int | None = None,
                 hub: Callable[[Sequence[str]], None] | None = None) -> None:
        from syndicator.pushjobs import schedule_push

        app = bodies.app
        config = app.config
        enabled = [s for s in config.sources if s.enabled]
        self._bodies = bodies
        self._scheduler = SourceScheduler(
            config.timezone,
            workers=concurrency or min(MAX_THREADS, max(1, len(enabled))))
        work = Inline(bodies.build)
        bodies.work = work
        if hub is not None:
            bodies.after_build.append(hub)
        for source in enabled:
            self._scheduler.add(source.id, source.schedule,
                                functools.partial(bodies.poll, source.id))
        # Its first run an interval from now: a process started to fetch or serve a moment
        # need not prune.
        self._scheduler.add("maintenance:prune", PRUNE_EVERY, bodies.prune,
                            first_run_in=PRUNE_EVERY.interval_seconds, name="run log pruning")
        if config.push:
            work.kick = schedule_push(self._scheduler, app, outage=bodies.outage)

    def start(self) -> None:
        self._scheduler.start()

    def stop(self, timeout: float) -> bool:
        self._bodies.stop()
        self._scheduler.shutdown(wait=False)
        return self._bodies.wait_idle(timeout)

    @property
    def running(self) -> bool:
        return self._scheduler.running

    @property
    def started(self) -> datetime | None:
        return self._scheduler.started

    def next_run(self, source_id: str) -> datetime | None:
        return self._scheduler.next_run(source_id)
