"""What every push target's share of a dispatch call has in common: its report, the retry
backoff, the claim lease, and the plumbing that records a claimed delivery's outcome.
Telegram (push/dispatch.py) and email (push/email_job.py) build on `Job`."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from syndicator.app import App
from syndicator.config import PushTarget, TelegramTarget
from syndicator.model import Delivery, Item

BACKOFF_BASE = 30.0      # seconds before the first retry; doubles per attempt
BACKOFF_CAP = 3600.0
BATCH = 200              # deliveries per target per call at most


@dataclass
class TargetReport:
    """What one dispatch call did for one target."""

    target_id: str
    sent: int = 0
    edited: int = 0
    failed: int = 0
    dead: int = 0
    unknown: int = 0
    suppressed: int = 0
    deferred: bool = False           # pacing or a 429 hold left due rows for later
    paused: str | None = None        # the target is paused (now or before), and why
    notes: list[str] = field(default_factory=list)


def backoff(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed try."""
    return float(min(BACKOFF_BASE * 2 ** max(0, attempts - 1), BACKOFF_CAP))


def lease_seconds(target: PushTarget) -> float:
    """How long a claim may stay `sending` before it counts as a dead job's: a request's
    timeout twice over (connect + read; a claim is renewed after every part) plus a second
    of pacing slack (the overall limit may wait up to 1 s before a request)."""
    timeout = target.timeout if isinstance(target, TelegramTarget) else target.smtp.timeout
    return 2 * timeout + 2.0


def new_claim() -> str:
    return uuid.uuid4().hex


class Job:
    """Shared plumbing of one target's share of a dispatch call."""

    def __init__(self, app: App, target: PushTarget, now: Callable[[], datetime],
                 report: TargetReport) -> None:
        self.app = app
        self.target = target
        self.now = now
        self.report = report
        self.claim = new_claim()
        self.lease = lease_seconds(target)

    def item(self, row: Delivery) -> Item | None:
        return self.app.store.items_by_id([row.item_id]).get(row.item_id)

    def finish(self, row: Delivery, state: str, *, message_ids: Sequence[str] | None = None,
               error: str | None = None, next_at: datetime | None = None,
               attempts: int | None = None) -> None:
        assert row.id is not None
        self.app.store.finish_delivery(row.id, self.claim, self.now(), state=state,
                                       message_ids=message_ids, error=error, next_at=next_at,
                                       attempts=attempts)

    def give_back(self, row: Delivery, sent: Sequence[str], *, next_at: datetime | None,
                  error: str | None) -> None:
        """Not this row's fault (pacing, 429, paused chat): back to pending, attempt undone."""
        self.finish(row, "pending", message_ids=list(sent), attempts=max(0, row.attempts - 1),
                    next_at=next_at, error=error)

    def failed(self, row: Delivery, sent: Sequence[str], reason: str) -> None:
        """A retryable failure: retry after a backoff, or dead after max_attempts."""
        if row.attempts >= self.target.max_attempts:
            self.finish(row, "dead", message_ids=list(sent),
                        error=f"gave up after {row.attempts} attempts: {reason}")
            self.report.dead += 1
        else:
            self.finish(row, "failed", message_ids=list(sent), error=reason,
                        next_at=self.now() + timedelta(seconds=backoff(row.attempts)))
            self.report.failed += 1

    def dead(self, row: Delivery, sent: Sequence[str], reason: str) -> None:
        self.finish(row, "dead", message_ids=list(sent), error=reason)
        self.report.dead += 1
