"""How often a subscriber is mailed: a mail per item, a daily digest or a weekly digest.

A subscriber's rhythm is their own choice (`Subscriber.rhythm`), else the target's `mode`
(per_item: a mail per item; digest: the daily digest, on the target's `schedule`). Their
deliveries are queued alike whatever the rhythm (push/outbox.py), and the push job decides
when they go out, so a change of rhythm counts from the next mail on:

- `item` rows go out one by one as soon as they are due;
- a digest goes out once the oldest of the recipient's queued rows has waited past the
  latest time of their rhythm's schedule (`daily`, `weekly` of the target), with every row
  of theirs then queued. Nothing is remembered between runs: a push job that did not run
  at 07:00 sends the digest at its next run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from syndicator.config import EmailTarget, Schedule
from syndicator.errors import ConfigError

ITEM = "item"
DAILY = "daily"
WEEKLY = "weekly"
RHYTHMS = (ITEM, DAILY, WEEKLY)
DIGESTS = (DAILY, WEEKLY)
DEFAULT_DAILY = Schedule(cron="0 7 * * *")
DEFAULT_WEEKLY = Schedule(cron="0 7 * * 1")


def parse_rhythm(text: str, *, where: str = "rhythm") -> str:
    """A rhythm as written by an operator or posted by a form: item | daily | weekly, or
    "" (the target's). ConfigError naming `where` otherwise."""
    value = text.strip().lower()
    if value in ("", *RHYTHMS):
        return value
    raise ConfigError(f"{where}: {text[:40]!r} is not a rhythm (item, daily or weekly)")


def default_rhythm(target: EmailTarget) -> str:
    """The rhythm of the target's subscribers who chose none."""
    return ITEM if target.mode == "per_item" else DAILY


def rhythm_of(target: EmailTarget, chosen: str | None) -> str:
    return chosen or default_rhythm(target)


def digest_schedule(target: EmailTarget, rhythm: str) -> Schedule:
    if rhythm == WEEKLY:
        return target.weekly or DEFAULT_WEEKLY
    if target.daily is not None:
        return target.daily
    return target.schedule if target.mode == "digest" and target.schedule else DEFAULT_DAILY


def latest_times(target: EmailTarget, timezone: str, now: datetime
                 ) -> dict[str, datetime | None]:
    """Per digest rhythm, the latest time its schedule named up to `now`."""
    from syndicator.scheduler import last_fire  # APScheduler's cron arithmetic

    return {rhythm: last_fire(digest_schedule(target, rhythm), timezone, now)
            for rhythm in DIGESTS}


def any_due(latest: Mapping[str, datetime | None], oldest: datetime) -> bool:
    """Whether a row queued at `oldest` may be due in some digest (a cheap first look)."""
    return any(fired is not None and oldest <= fired for fired in latest.values())


def due_digests(target: EmailTarget, latest: Mapping[str, datetime | None],
                queued: Mapping[str, datetime], chosen: Mapping[str, str | None]) -> list[str]:
    """The recipients (of `queued`: the oldest due row of each) whose digest is due, by
    `latest` (latest_times). `chosen`: each subscriber's own rhythm (None: the target's)."""
    due = []
    for recipient, oldest in sorted(queued.items()):
        rhythm = rhythm_of(target, chosen.get(recipient))
        fired = latest.get(rhythm)
        if fired is not None and oldest <= fired:
            due.append(recipient)
    return due
