"""The cluster engine (PostgreSQL): any number of processes share the work through
procrastinate (jobs/queue.py).

    dispatch (every 2 s, one at a time across the cluster)
        job_schedule rows due now ──FOR UPDATE SKIP LOCKED──▶ advanced by their Schedule
        (scheduler.next_due: the triggers of the in-process engine) and, in that transaction,
        poll_source(id) / send_target(each target, every PUSH_EVERY: due deliveries and
        digests)
    poll_source(id) ──new or changed items──▶ build_feed(each feed of the source)
                                            ▶ send_target(each enabled push target)
    build_feed(id)  ──the feed changed──▶ websub_ping(id)   (with `websub.hub`)

Every enabled source and the push tick have a row; rows are added when a process starts (a
row already there keeps its time), rows of removed or disabled sources stay but are never
claimed. A job for a feed, source or push target this process's configuration does not have
(instances on different configurations) is given back: NotConfiguredHere, retried later by
any instance (jobs/queue.py RETRIES), with a "configs differ" warning. A due time is claimed
by one dispatcher only (the row lock), and a poll already waiting is not queued twice (its
queueing lock); a dispatch that could not queue its jobs rolls back and the rows stay due
for the next one.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from syndicator.config import Schedule
from syndicator.errors import NotConfiguredHere, StoreError
from syndicator.jobs.interface import Bodies
from syndicator.jobs.queue import Handlers, TaskQueue
from syndicator.jobs.tuning import cluster_concurrency, failover_problem
from syndicator.pushjobs import PUSH_EVERY, send_due
from syndicator.scheduler import next_due
from syndicator.store.database import libpq_url
from syndicator.store.outage import describe_store

log = logging.getLogger("syndicator.jobs")

NEXT_RUN_TTL = 2.0        # seconds the status page reuses the due times it read
PUSH_KEY = "push"


class ClusterEngine:
    def __init__(self, bodies: Bodies, *, concurrency: int | None = None,
                 hub: Callable[[Sequence[str]], None] | None = None) -> None:
        app = bodies.app
        config = app.config
        self._bodies = bodies
        self._app = app
        self._hub = hub
        workers = cluster_concurrency(concurrency)
        self.description = (f"procrastinate on {describe_store(config.storage_url)}, "
                            f"{workers} workers")
        self._schedules: dict[str, Schedule] = {
            f"source:{s.id}": s.schedule for s in config.sources if s.enabled}
        self._targets = [t.id for t in config.push if t.enabled]
        if self._targets:
            self._schedules[PUSH_KEY] = PUSH_EVERY
        self._planned = False
        self._due_cache: tuple[float, dict[str, datetime]] = (0.0, {})
        self._lock = threading.Lock()
        self._unqueued: set[str] = set()     # feeds whose build could not be queued
        self.queue = TaskQueue(
            libpq_url(config.storage_url),
            Handlers(poll_source=self._poll, build_feed=self._build,
                     send_target=self._send, websub_ping=self._ping, dispatch=self.dispatch,
                     prune=bodies.prune),
            concurrency=workers, outage=bodies.outage,
            probe=self._probe, stalled=config.jobs.stalled_after,
            name=f"{socket.gethostname()}-{os.getpid()}")
        problem = failover_problem(config.jobs.stalled_after)
        if problem is not None:
            log.warning("%s", problem)
        self._started: datetime | None = None
        self._checked = False
        bodies.work = self

    def _probe(self) -> None:
        """Whether the store answers (StoreError if not), asked before the workers start;
        the first answer also says whether PostgreSQL vacuums (a warning if not)."""
        store = self._app.store
        store.runs(limit=1)
        if not self._checked:
            self._checked = True
            if store.autovacuum_off():
                log.warning("PostgreSQL's autovacuum is off: the job queue, job_schedule and "
                            "pacing tables keep every dead row and polls get slower and "
                            "slower; turn it on (docs/service.md, What grows)")

    # -- Work: what jobs ask for -------------------------------------------------------------

    def build_feeds(self, feed_ids: Sequence[str]) -> tuple[str, ...]:
        try:
            for feed_id in feed_ids:
                self.queue.defer("build_feed", feed_id)
        except StoreError:
            # The poll stored its items but its builds could not be queued (the database
            # went away in between): the next dispatch that reaches it queues them.
            with self._lock:
                self._unqueued.update(feed_ids)
            raise
        return ()

    def send_due(self, source_id: str) -> None:
        wanted = set(f.id for f in self._app.config.feeds_for_source(source_id))
        for target in self._app.config.push:
            if target.enabled and wanted & set(target.feeds):
                self.queue.defer("send_target", target.id)

    # -- the job bodies ------------------------------------------------------------------------

    def _poll(self, source_id: str) -> None:
        if f"source:{source_id}" in self._schedules:
            self._bodies.poll(source_id)
        else:      # disabled here: ignored; unknown here: given back
            self._known("source", source_id, (s.id for s in self._app.config.sources))

    def _build(self, feed_id: str) -> None:
        self._known("feed", feed_id, (f.id for f in self._app.config.feeds))
        changed = self._bodies.build([feed_id])
        if changed and self._hub is not None:
            for fid in changed:
                self.queue.defer("websub_ping", fid)

    def _send(self, target_id: str) -> None:
        if target_id in self._targets:
            send_due(self._app, outage=self._bodies.outage, target_ids=[target_id])
        else:      # disabled here: ignored; unknown here: given back
            self._known("push target", target_id, (t.id for t in self._app.config.push))

    @staticmethod
    def _known(kind: str, key: str, configured: Iterable[str]) -> None:
        """Raise NotConfiguredHere (the job is retried later, by any instance) when this
        process's configuration has no `kind` `key`: the cluster's configurations differ."""
        if key not in set(configured):
            log.warning("configs differ: a job for %s %r, which this instance's configuration "
                        "does not have; given back for another instance", kind, key)
            raise NotConfiguredHere(f"{kind} {key!r} is not in this instance's configuration")

    def _ping(self, feed_id: str) -> None:
        if self._hub is not None:
            self._hub([feed_id])

    def dispatch(self) -> None:
        """Queue the jobs that are due (the periodic dispatch job)."""
        store, now = self._app.store, datetime.now(UTC)
        try:
            if not self._planned:
                store.plan_due(dict.fromkeys(self._schedules, now))
                self._planned = True
            store.claim_due(list(self._schedules), now, lambda key: self._advance(key, now),
                            self._queue_due)
            with self._lock:
                unqueued, self._unqueued = self._unqueued, set()
            if unqueued:
                self.build_feeds(sorted(unqueued))
        except StoreError as exc:
            self._bodies.outage.failed(exc, "the dispatcher")
            return
        self._bodies.outage.answered()

    def _advance(self, key: str, now: datetime) -> datetime:
        kind, _, ident = key.partition(":")
        return next_due(self._schedules[key], self._app.config.timezone, now,
                        source_id=ident if kind == "source" else "")

    def _queue_due(self, keys: list[str]) -> None:
        for key in keys:
            kind, _, ident = key.partition(":")
            if kind == "source":
                self.queue.defer("poll_source", ident)
            elif key == PUSH_KEY:
                for target_id in self._targets:
                    self.queue.defer("send_target", target_id)

    # -- Engine ----------------------------------------------------------------------------------

    def start(self) -> None:
        self._started = datetime.now(UTC)
        self.queue.start()

    def stop(self, timeout: float) -> bool:
        self._bodies.stop()
        deadline = time.monotonic() + timeout
        if not self.queue.stop(timeout):
            return False           # what still runs was handed back to the queue
        return self._bodies.wait_idle(max(0.0, deadline - time.monotonic()))

    @property
    def running(self) -> bool:
        return self.queue.running

    @property
    def started(self) -> datetime | None:
        return self._started

    def next_run(self, source_id: str) -> datetime | None:
        """When the source is due next (read from the store, kept for a moment)."""
        with self._lock:
            made, times = self._due_cache
            if time.monotonic() - made > NEXT_RUN_TTL:
                try:
                    times = self._app.store.due_times(list(self._schedules))
                except StoreError:
                    times = {}
                self._due_cache = (time.monotonic(), times)
        return times.get(f"source:{source_id}")
