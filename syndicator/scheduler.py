"""The scheduler: one APScheduler job per enabled source. The only APScheduler user.

    Schedule(every=15m)        ──▶ IntervalTrigger(seconds=900, jitter=...)
    Schedule(cron="*/15 * * * *") ─▶ CronTrigger(minute="*/15", ..., timezone=config.timezone)
    Schedule(cron="0 9 13 * 5")   ─▶ OrTrigger([CronTrigger(day="13", ...),
                                              CronTrigger(day_of_week="fri", ...)])

Jobs coalesce (missed fires run once), never overlap (max_instances=1) and run first soon
after start; a fire skipped because the job is still running is logged at DEBUG only. What
a job does (run the source, rebuild feeds, back off) lives in `syndicator.service`; this
module only decides *when*.

`cron_trigger` is the one place a crontab line becomes a trigger: config loading calls it
to check every `cron:` (so `validate` refuses a line the scheduler could not run). For that
this module imports nothing of the package but `errors`: a schedule is anything with the
fields of config's `Schedule` (`ScheduleFields`).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from syndicator.errors import ConfigError

log = logging.getLogger(__name__)

# crontab counts weekdays from Sunday = 0 (7 is Sunday too); APScheduler 3 from Monday = 0.
# Numbers are translated to names, which both read the same way.
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
FIRST_RUN_DELAY = 1.0   # seconds after start before the first run of every source


class ScheduleFields(Protocol):
    """What a schedule gives the scheduler (config's `Schedule`)."""

    @property
    def every(self) -> float | None: ...
    @property
    def cron(self) -> str | None: ...
    @property
    def jitter(self) -> float: ...
    @property
    def interval_seconds(self) -> float: ...


def _crontab_weekdays(field: str) -> str:
    """Translate a crontab day-of-week field into APScheduler's terms (names, expanded)."""
    parts: list[str] = []
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        if re.fullmatch(r"[a-zA-Z]+(-[a-zA-Z]+)?", base) and not step_text:
            parts.append(base.lower())
            continue
        step = int(step_text) if step_text else 1
        if base == "*":
            first, last = 0, 6
        elif re.fullmatch(r"\d+-\d+", base):
            first, last = (int(x) for x in base.split("-"))
        elif re.fullmatch(r"\d+", base):
            first = last = int(base)
            if step_text:
                last = 6
        else:
            raise ValueError(f"cannot read day of week {part!r}")
        if not (0 <= first <= 7 and 0 <= last <= 7 and first <= last and step >= 1):
            raise ValueError(f"day of week out of range in {part!r}")
        parts.extend(_CRON_DAYS[day] for day in range(first, last + 1, step))
    if parts == ["*"] or field == "*":
        return "*"
    return ",".join(dict.fromkeys(parts))


def _unrestricted(field: str) -> bool:
    """Whether a day field leaves the day open, as cron reads it: one starting with `*`
    (`*`, `*/2`) does (Vixie cron's rule)."""
    return field.startswith("*")


def cron_trigger(line: str, timezone: str, *, jitter: int | None = None) -> BaseTrigger:
    """The trigger of a crontab line (minute hour day month weekday); ValueError saying
    what is wrong (not five fields, a value out of range, a date that never comes).

    As in cron, when both the day of month and the day of week are restricted, a day
    matches if either does: `0 9 13 * 5` fires on every 13th and every Friday (APScheduler
    alone would require both, firing only on Friday the 13th). The jitter is applied once,
    to the combined time."""
    fields = line.split()
    if len(fields) != 5:
        raise ValueError("needs five fields: minute hour day month weekday")
    minute, hour, day, month, weekday = fields
    zone = ZoneInfo(timezone)
    days = _crontab_weekdays(weekday)
    trigger: BaseTrigger
    if _unrestricted(day) or _unrestricted(weekday):
        trigger = CronTrigger(minute=minute, hour=hour, day=day, month=month,
                              day_of_week=days, timezone=zone, jitter=jitter)
    else:
        trigger = OrTrigger([
            CronTrigger(minute=minute, hour=hour, day=day, month=month, timezone=zone),
            CronTrigger(minute=minute, hour=hour, month=month, day_of_week=days,
                        timezone=zone),
        ], jitter=jitter)
    # "0 0 30 2 *" reads well and never fires: the source would never run.
    if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:
        raise ValueError("no date matches it (e.g. 30 February): it would never run")
    return trigger


def make_trigger(schedule: ScheduleFields, timezone: str, *, source_id: str = ""
                 ) -> BaseTrigger:
    """The APScheduler trigger for a source schedule; ConfigError for an invalid cron line."""
    jitter = int(schedule.jitter) if schedule.jitter >= 1 else None
    if schedule.every is not None:
        return IntervalTrigger(seconds=schedule.every, timezone=ZoneInfo(timezone),
                               jitter=jitter)
    assert schedule.cron is not None  # Schedule validates exactly one of every/cron
    try:
        return cron_trigger(schedule.cron, timezone, jitter=jitter)
    except ValueError as exc:
        where = f"source {source_id}: " if source_id else ""
        raise ConfigError(f"{where}invalid cron schedule {schedule.cron!r}: {exc}") from None


# How far back `last_fire` looks for a cron schedule's latest time, widening step by step
# (a daily schedule is found in the second window without walking every minute of a year).
_LOOKBACK = (timedelta(hours=1), timedelta(days=1), timedelta(days=8), timedelta(days=32),
             timedelta(days=367))


def last_fire(schedule: ScheduleFields, timezone: str, now: datetime) -> datetime | None:
    """The latest time at or before `now` the schedule names (its jitter left out): an
    `every` schedule counts from the Unix epoch; None when a cron line names no time in
    the past year."""
    if schedule.every is not None:
        step = schedule.every
        return datetime.fromtimestamp(now.timestamp() // step * step, UTC)
    assert schedule.cron is not None  # Schedule validates exactly one of every/cron
    trigger = cron_trigger(schedule.cron, timezone)
    for back in _LOOKBACK:
        found: datetime | None = None
        moment: datetime | None = trigger.get_next_fire_time(None, now - back)
        while moment is not None and moment <= now:
            found = moment
            moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
        if found is not None:
            return found.astimezone(UTC)
    return None


def next_due(schedule: ScheduleFields, timezone: str, after: datetime, *,
             source_id: str = "") -> datetime:
    """When a job on `schedule` is due next after `after` (jitter included): the cluster
    engine's dispatcher moves a job on by the same triggers the in-process scheduler fires."""
    trigger = make_trigger(schedule, timezone, source_id=source_id)
    when = trigger.get_next_fire_time(after, after)
    assert isinstance(when, datetime)     # every/cron triggers always have a next time
    return max(when.astimezone(UTC), after)


class _NormalOverlap(logging.Filter):
    """APScheduler warns when a fire finds the job still running (a long first crawl, a slow
    site: `max_instances=1` skips it, and the next fire comes as usual) and when a fire ran
    late. Both are how the schedule is meant to work, not something to act on: they are
    logged at DEBUG under this module's name instead. Anything else passes as it is."""

    MESSAGES = ("maximum number of running instances reached", "was missed by")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        message = record.getMessage()
        if not any(text in message for text in self.MESSAGES):
            return True
        log.debug("%s", message)
        return False


_NORMAL_OVERLAP = _NormalOverlap()


class SourceScheduler:
    """A background scheduler of source jobs (thread pool); `running`/`next_run` for status."""

    def __init__(self, timezone: str, *, workers: int = 4,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._timezone = timezone
        self._clock = clock
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=max(1, workers))},
            timezone=ZoneInfo(timezone),
        )
        self._started: datetime | None = None
        self._lock = threading.Lock()
        # APScheduler logs every job start and end at INFO: one line per poll is ours to write.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        for name in ("apscheduler.scheduler", "apscheduler.executors.default"):
            chosen = logging.getLogger(name)
            if _NORMAL_OVERLAP not in chosen.filters:
                chosen.addFilter(_NORMAL_OVERLAP)

    def add(self, source_id: str, schedule: ScheduleFields, job: Callable[[], object], *,
            first_run_in: float | None = FIRST_RUN_DELAY, name: str | None = None) -> None:
        """Schedule `job` for a source; the first run is `first_run_in` seconds from now.

        `first_run_in=None` leaves the first run to the trigger (digests at their cron time).
        Other jobs (push) use ids that cannot be source ids, e.g. "push:dispatch".
        """
        trigger = make_trigger(schedule, self._timezone, source_id=source_id)
        interval = schedule.interval_seconds
        first = (self._clock() + timedelta(seconds=first_run_in) if first_run_in is not None
                 else None)
        extra = {"next_run_time": first} if first is not None else {}
        self._scheduler.add_job(
            job, trigger, id=source_id, name=name or f"source {source_id}",
            coalesce=True, max_instances=1,
            # A fire delayed by busy workers still runs if it is less than an interval late.
            misfire_grace_time=max(1, int(interval)),
            **extra,
        )

    def start(self) -> None:
        with self._lock:
            self._scheduler.start()
            self._started = self._clock()

    def shutdown(self, *, wait: bool) -> None:
        """Stop firing jobs; with `wait`, also wait for running ones to return."""
        with self._lock:
            if self._scheduler.running:
                self._scheduler.shutdown(wait=wait)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    @property
    def started(self) -> datetime | None:
        return self._started

    def wake(self, job_id: str) -> None:
        """Run a job now instead of at its next fire (no-op for an unknown job)."""
        if self._scheduler.get_job(job_id) is not None:
            self._scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))

    def next_run(self, source_id: str) -> datetime | None:
        job = self._scheduler.get_job(source_id)
        when = getattr(job, "next_run_time", None) if job is not None else None
        return when.astimezone(UTC) if isinstance(when, datetime) else None
