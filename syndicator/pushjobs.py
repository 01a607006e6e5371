"""The push jobs of `syndicator run`, beside the source jobs: due deliveries every few
seconds (and at once after a poll that stored items); digests go out with them when each
subscriber's rhythm says (push/rhythm.py)."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from syndicator.app import App
from syndicator.config import Schedule
from syndicator.errors import StoreError, SyndicatorError
from syndicator.store.outage import StoreOutage

if TYPE_CHECKING:  # apscheduler is imported only by the commands that schedule
    from syndicator.scheduler import SourceScheduler

log = logging.getLogger("syndicator.service")

PUSH_EVERY = Schedule(every=10.0)   # how often due deliveries (new items, retries) are sent


def schedule_push(scheduler: SourceScheduler, app: App, *,
                  outage: StoreOutage | None = None) -> Callable[[], None]:
    """The push job beside the source jobs: due deliveries and digests every few seconds.

    The outbox rows are written with the items, so a push job only has to look at what is
    due; running it often keeps a new item's delay short and retries on time. Returns the
    kick that runs it at once rather than at its next tick (after a poll that stored new or
    changed items); with `outage`, a store outage is reported once.
    """
    kick = _Kick(lambda: scheduler.wake("push:dispatch"))

    def dispatch() -> None:
        kick.run(functools.partial(send_due, app, outage=outage))

    scheduler.add("push:dispatch", PUSH_EVERY, dispatch, name="push deliveries")
    return kick


def send_due(app: App, *, outage: StoreOutage | None = None,
             target_ids: Sequence[str] | None = None) -> None:
    """One push job: send what is due (for every target, or only `target_ids`). Never
    raises: failures are logged, a store outage through `outage` (once per outage)."""
    from syndicator.push.dispatch import dispatch_due

    try:
        report = dispatch_due(app, target_ids=target_ids)
    except StoreError as exc:
        if outage is not None:
            outage.failed(exc, "the push job")
        else:
            log.error("push: %s", exc)
        return
    except SyndicatorError as exc:
        log.error("push: %s", exc)
        return
    if outage is not None:
        outage.answered()
    log.debug("push: %s", report)


class _Kick:
    """Runs a scheduled job now on request, never twice at once: a request while the job
    runs makes it go round once more (the scheduler would skip, and log, a second
    instance)."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self._lock = threading.Lock()
        self._running = False
        self._again = False

    def __call__(self) -> None:
        with self._lock:
            if self._running:
                self._again = True
                return
        self._wake()

    def run(self, job: Callable[[], None]) -> None:
        """Run the job, again as long as requests came while it ran."""
        with self._lock:
            self._running = True
        try:
            while True:
                with self._lock:
                    self._again = False
                job()
                with self._lock:
                    if not self._again:
                        return
        finally:
            with self._lock:
                self._running = False
