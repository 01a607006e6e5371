"""scheduler (triggers, the APScheduler wrapper) and service.Service (the per-source job)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from syndicator.app import App, make_app
from syndicator.config import Schedule, load_config
from syndicator.demo.server import SiteServer
from syndicator.errors import ConfigError, StoreError
from syndicator.model import RunResult
from syndicator.scheduler import SourceScheduler, _crontab_weekdays, make_trigger
from syndicator.service import Service
from syndicator.storelock import StoreLock, sqlite_path

MINSK = ZoneInfo("Europe/Minsk")


# --- triggers --------------------------------------------------------------------------------

def test_every_makes_an_interval_trigger_with_jitter() -> None:
    trigger = make_trigger(Schedule(every="2m", jitter="5s"), "UTC")
    start = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)
    assert trigger.interval == timedelta(minutes=2)  # type: ignore[attr-defined]
    assert trigger.jitter == 5  # type: ignore[attr-defined]
    fire = trigger.get_next_fire_time(start, start + timedelta(seconds=1))
    assert start + timedelta(minutes=2) <= fire <= start + timedelta(minutes=2, seconds=5)


@pytest.mark.parametrize(("cron", "after", "expected"), [
    # 2025-10-05 is a Sunday. Weekdays 1-5 are Monday to Friday as in crontab.
    ("30 6 * * 1-5", datetime(2025, 10, 5, 12, 0), datetime(2025, 10, 6, 6, 30)),
    ("0 9 * * 0", datetime(2025, 10, 6, 12, 0), datetime(2025, 10, 12, 9, 0)),
    ("0 9 * * 7", datetime(2025, 10, 6, 12, 0), datetime(2025, 10, 12, 9, 0)),
    ("0 9 * * sat", datetime(2025, 10, 6, 12, 0), datetime(2025, 10, 11, 9, 0)),
    ("*/15 * * * *", datetime(2025, 10, 6, 12, 1), datetime(2025, 10, 6, 12, 15)),
])
def test_cron_fires_in_the_config_time_zone_with_crontab_weekdays(
        cron: str, after: datetime, expected: datetime) -> None:
    trigger = make_trigger(Schedule(cron=cron), "Europe/Minsk")
    fire = trigger.get_next_fire_time(None, after.replace(tzinfo=MINSK))
    assert fire == expected.replace(tzinfo=MINSK)


def fires(cron: str, after: datetime, count: int, timezone: str = "UTC") -> list[datetime]:
    """The next `count` fire times of a cron schedule after `after`."""
    trigger = make_trigger(Schedule(cron=cron), timezone)
    times: list[datetime] = []
    previous = None
    now = after
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        times.append(fire)
        previous, now = fire, fire + timedelta(seconds=1)
    return times


def test_a_restricted_day_of_month_and_day_of_week_fire_on_either_as_in_cron() -> None:
    # October 2025: Fridays are the 3rd, 10th, 17th, 24th and 31st; the 13th is a Monday.
    # November: Fridays the 7th, 14th, 21st, 28th; the 13th is a Thursday.
    start = datetime(2025, 10, 8, 12, 0, tzinfo=MINSK)
    assert fires("0 9 13 * 5", start, 9, "Europe/Minsk") == [
        datetime(2025, month, day, 9, 0, tzinfo=MINSK) for month, day in (
            (10, 10), (10, 13), (10, 17), (10, 24), (10, 31),
            (11, 7), (11, 13), (11, 14), (11, 21))]
    # Several days of each: the 1st and 15th, and Mondays and Wednesdays.
    assert fires("30 6 1,15 * mon,wed", datetime(2025, 10, 8, 7, 0, tzinfo=UTC), 6) == [
        datetime(2025, 10, day, 6, 30, tzinfo=UTC) for day in (13, 15, 20, 22, 27, 29)]


def test_a_day_field_starting_with_a_star_leaves_the_day_to_the_other() -> None:
    # Vixie cron's rule: `*/10` is no restriction, so both fields must match: the 1st,
    # 11th, 21st or 31st that is a Monday.
    start = datetime(2025, 10, 8, tzinfo=UTC)
    assert fires("0 9 */10 * 1", start, 4) == [
        datetime(2025, 12, 1, 9, 0, tzinfo=UTC), datetime(2026, 5, 11, 9, 0, tzinfo=UTC),
        datetime(2026, 6, 1, 9, 0, tzinfo=UTC), datetime(2026, 8, 31, 9, 0, tzinfo=UTC)]
    # A plain `*` weekday: only the day of month counts.
    assert fires("0 9 13 * *", start, 2) == [
        datetime(2025, 10, 13, 9, 0, tzinfo=UTC), datetime(2025, 11, 13, 9, 0, tzinfo=UTC)]


def test_30_february_or_a_friday_fires_on_the_fridays_of_february() -> None:
    # February 2026: Fridays the 6th, 13th, 20th, 27th; February 2027: the 5th first.
    assert fires("0 0 30 2 5", datetime(2025, 10, 8, tzinfo=UTC), 5) == [
        datetime(2026, 2, day, tzinfo=UTC) for day in (6, 13, 20, 27)] + [
        datetime(2027, 2, 5, tzinfo=UTC)]


def test_next_due_and_last_fire_read_either_day_too() -> None:
    from syndicator.scheduler import last_fire, next_due

    now = datetime(2026, 12, 6, 7, 30, tzinfo=UTC)          # a Sunday
    # The latest "13th or Friday" is Friday 4 December (Friday the 13th was in November).
    assert last_fire(Schedule(cron="0 7 13 * 5"), "UTC", now) == datetime(
        2026, 12, 4, 7, 0, tzinfo=UTC)
    # Next: Friday 11 December, before Sunday the 13th; jitter once, up to 30 s later.
    due = next_due(Schedule(cron="0 7 13 * 5", jitter="30s"), "UTC", now)
    fire = datetime(2026, 12, 11, 7, 0, tzinfo=UTC)
    assert fire <= due <= fire + timedelta(seconds=30)
    after_fire = next_due(Schedule(cron="0 7 13 * 5"), "UTC", fire)
    assert after_fire == datetime(2026, 12, 13, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(("field", "expected"), [
    ("*", "*"), ("1-5", "mon,tue,wed,thu,fri"), ("0,6", "sun,sat"), ("5-7", "fri,sat,sun"),
    ("*/2", "sun,tue,thu,sat"), ("mon-fri", "mon-fri"), ("MON", "mon"), ("1/3", "mon,thu"),
])
def test_crontab_weekdays(field: str, expected: str) -> None:
    assert _crontab_weekdays(field) == expected


def test_an_impossible_cron_is_a_config_error_naming_the_source() -> None:
    # Loading refuses such a line (test_config_checks.py); a schedule made without that
    # check still never reaches APScheduler unchecked.
    unchecked = Schedule.model_construct(every=None, cron="99 * * * *", jitter=0.0)
    with pytest.raises(ConfigError, match=r"source news: invalid cron schedule '99 \* \* "):
        make_trigger(unchecked, "UTC", source_id="news")


def test_the_scheduler_runs_a_job_soon_after_start_and_reports_the_next_run() -> None:
    scheduler = SourceScheduler("UTC", workers=2)
    fired = threading.Event()
    scheduler.add("a", Schedule(every="1h"), fired.set, first_run_in=0.05)
    assert not scheduler.running and scheduler.started is None
    scheduler.start()
    try:
        assert scheduler.running and scheduler.started is not None
        assert fired.wait(10), "the first run never came"
        after = scheduler.next_run("a")
        assert after is not None and after.tzinfo is not None
        assert after > scheduler.started + timedelta(minutes=59)
        assert scheduler.next_run("unknown") is None
    finally:
        scheduler.shutdown(wait=True)
    assert not scheduler.running


# --- the per-source job ------------------------------------------------------------------------

CARD = """<article class="card"><a class="link" href="/news/{n}.html">Story number {n}</a>
<time class="date">2025-10-0{n} 10:00</time></article>"""

CONFIG = """
storage: "sqlite:///store.db"
output_dir: feeds
sources:
  - id: s
    url: "${SITE}news/"
    fetch_articles: false
    schedule: {every: 1m}
    list: {item: article.card, link: a.link@href, date: .date}
  - id: other
    url: "${SITE}other/"
    fetch_articles: false
    list: {item: article.card, link: a.link@href}
fetch: {delay: 0s, robots: false, retries: 0, allow_private: true}
feeds:
  - {id: s, title: S, sources: [s]}
  - {id: both, title: Both, sources: [s, other]}
  - {id: o, title: O, sources: [other]}
"""


def write_listing(root: Path, numbers: range) -> None:
    cards = "\n".join(CARD.format(n=n) for n in numbers)
    (root / "news").mkdir(parents=True, exist_ok=True)
    (root / "news" / "index.html").write_text(f"<html><body>{cards}</body></html>")


@dataclass
class Clock:
    now: datetime = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Recorder:
    """Records what the service reported: reloaded files, hook calls, metric calls."""

    reloaded: list[tuple[str, ...]] = field(default_factory=list)
    built: list[tuple[str, ...]] = field(default_factory=list)
    runs: list[RunResult] = field(default_factory=list)
    broken: list[tuple[str, bool]] = field(default_factory=list)
    run_metrics: list[tuple[str, bool, int, int]] = field(default_factory=list)
    stored: list[tuple[str, int]] = field(default_factory=list)

    def reload(self, paths: Sequence[Path]) -> None:
        self.reloaded.append(tuple(sorted(p.name for p in paths)))

    def source_run(self, source_id: str, ok: bool, duration_s: float, new: int,
                   updated: int) -> None:
        assert duration_s >= 0
        self.run_metrics.append((source_id, ok, new, updated))

    def source_broken(self, source_id: str, broken: bool) -> None:
        self.broken.append((source_id, broken))

    def items_stored(self, source_id: str, count: int) -> None:
        self.stored.append((source_id, count))


@dataclass
class Rig:
    site: Path
    server: SiteServer
    app: App
    clock: Clock
    record: Recorder
    service: Service
    fail: list[int]          # answer 503 to the listing while non-empty (one pop per request)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    site = tmp_path / "site"
    write_listing(site, range(1, 4))
    (tmp_path / "config.yaml").write_text(CONFIG)
    fail: list[int] = []

    def hook(handler: BaseHTTPRequestHandler, path: str) -> bool:
        if path == "/news/" and fail:
            fail.pop()
            handler.send_response(503)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return True
        return False

    with SiteServer(site, hook=hook) as server:
        config = load_config(tmp_path / "config.yaml", env={"SITE": server.url})
        clock = Clock()
        record = Recorder()
        with make_app(config, clock=clock) as app:
            service = Service(app, record, metrics=record)
            service.after_build.append(record.built.append)
            service.after_run.append(record.runs.append)
            yield Rig(site, server, app, clock, record, service, fail)


def test_a_run_with_new_items_rebuilds_the_feeds_of_its_source_and_calls_the_hooks(
        rig: Rig) -> None:
    result = rig.service.poll("s")
    assert result is not None and (result.ok, result.new) == (True, 3)
    assert rig.record.built == [("s", "both")]
    assert rig.record.runs == [result]
    assert rig.record.reloaded == [("both.atom", "both.json", "both.rss", "feeds.opml",
                                    "index.html", "s.atom", "s.json", "s.rss")]
    output = rig.app.config.output_path
    assert b"Story number 3" in (output / "s.rss").read_bytes()
    assert not (output / "o.rss").exists()          # a feed without this source is not built
    assert rig.record.run_metrics == [("s", True, 3, 0)]
    assert rig.record.stored == [("s", 3)]

    rig.clock.advance(60)
    again = rig.service.poll("s")                    # nothing changed: no build, still a run
    assert again is not None and (again.new, again.updated) == (0, 0)
    assert rig.record.built == [("s", "both")]
    assert rig.record.runs == [result, again]


def test_a_failing_hook_is_logged_and_the_others_still_run(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    def explode(_: object) -> None:
        raise RuntimeError("hub unreachable")

    rig.service.after_build.insert(0, explode)
    rig.service.after_run.insert(0, explode)
    with caplog.at_level(logging.ERROR, logger="syndicator.service"):
        result = rig.service.poll("s")
    assert result is not None and result.ok
    assert rig.record.built == [("s", "both")] and rig.record.runs == [result]
    assert [r.message.split(" hook")[0] for r in caplog.records] == ["after_build", "after_run"]


def test_failures_back_off_break_once_and_recover_once(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    rig.service.poll("s")
    rig.service.prime()
    rig.record.broken.clear()
    rig.fail.extend([1] * 10)
    with caplog.at_level(logging.INFO, logger="syndicator.service"):
        outcomes: list[str] = []
        for _ in range(12):                         # one poll a minute for 12 minutes
            rig.clock.advance(60)
            result = rig.service.poll("s")
            outcomes.append("skip" if result is None else "ok" if result.ok else "fail")
    # 1 min schedule: fail, fail, then wait 2, 4, 8 (cap) minutes between attempts
    assert outcomes[:8] == ["fail", "fail", "skip", "fail", "skip", "skip", "skip", "fail"]
    errors = [r.message for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith("source s is broken: 3 consecutive")
    assert rig.record.broken == [("s", True)]

    rig.fail.clear()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="syndicator.service"):
        rig.clock.advance(3600)
        result = rig.service.poll("s")
    assert result is not None and result.ok
    warnings = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("source s recovered")
    assert rig.record.broken == [("s", True), ("s", False)]


def test_a_stopped_service_starts_no_run(rig: Rig) -> None:
    rig.service.stop()
    assert rig.service.poll("s") is None
    assert rig.app.store.runs("s") == []
    assert rig.service.wait_idle(0)


# --- the store lock ----------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "path"), [
    ("sqlite:////var/lib/s.db", "/var/lib/s.db"),
    ("sqlite+pysqlite:////tmp/x.db?timeout=5", "/tmp/x.db"),
    ("sqlite:///:memory:", None),
    ("sqlite://", None),
    ("postgresql+psycopg://u@h/db", None),
])
def test_sqlite_path(url: str, path: str | None) -> None:
    assert sqlite_path(url) == (Path(path) if path else None)


def test_a_second_lock_on_the_same_store_names_the_holder(tmp_path: Path) -> None:
    db = tmp_path / "deep" / "store.db"
    first = StoreLock(db).acquire()
    try:
        with pytest.raises(StoreError, match=rf"another syndicator run is using {db} "
                                             rf"\(pid {os.getpid()}\)"):
            StoreLock(db).acquire()
    finally:
        first.release()
    StoreLock(db).acquire().release()               # free again once released


# --- what a run logs ---------------------------------------------------------------------------

def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    """The run lines (and the run's own) at `level`."""
    return [r.getMessage() for r in caplog.records
            if r.levelno == level and r.name == "syndicator.pipeline"]


def test_a_run_that_stores_items_is_one_info_line(rig: Rig,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        result = rig.service.poll("s")
    assert result is not None and result.new == 3
    # Story 3 is dated after the test's clock: the run's first warning says so.
    assert messages(caplog, logging.INFO) == [
        "source s: 3 new, 0 updated in 0.0 s (1 page(s), 3 item(s) seen); rebuilt s, both; "
        "warning: 1 item(s) without a parseable date (first-seen time used)"]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []

    write_listing(rig.site, range(1, 5))             # a new story
    caplog.clear()
    with caplog.at_level(logging.INFO):
        rig.service.poll("s")
    [line] = messages(caplog, logging.INFO)
    assert line.startswith("source s: 1 new, 0 updated in ")


def test_an_unchanged_poll_logs_only_at_debug(rig: Rig,
                                              caplog: pytest.LogCaptureFixture) -> None:
    rig.service.poll("s")
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        result = rig.service.poll("s")                # the listing answers 304
    assert result is not None and result.ok and result.not_modified == 1
    assert [r for r in caplog.records if r.levelno >= logging.INFO] == []
    assert "source s: nothing new (not modified) in 0.0 s" in messages(caplog, logging.DEBUG)


def test_a_failure_is_one_short_warning_naming_source_and_url(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    rig.fail.append(1)
    with caplog.at_level(logging.INFO):
        result = rig.service.poll("s")
    assert result is not None and not result.ok
    assert messages(caplog, logging.WARNING) == [
        f"source s: FAILED in 0.0 s; {rig.server.url}news/: HTTP 503"]
    assert messages(caplog, logging.INFO) == []


def test_a_fire_that_finds_the_job_running_is_not_a_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    """A job of a 1 s schedule that takes longer than that: APScheduler skips the fires that
    come meanwhile. That is the schedule working, logged at DEBUG only."""
    scheduler = SourceScheduler("UTC", workers=2)
    release = threading.Event()
    started = threading.Event()
    skipped = threading.Event()

    def slow() -> None:
        started.set()
        release.wait(30)

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "maximum number of running instances" in record.getMessage():
                skipped.set()

    watch = Watch(level=logging.DEBUG)
    ours = logging.getLogger("syndicator.scheduler")
    ours.addHandler(watch)
    try:
        with caplog.at_level(logging.DEBUG):
            scheduler.add("slow", Schedule(every="1s"), slow, first_run_in=0.01)
            scheduler.start()
            try:
                assert started.wait(10), "the job never started"
                assert skipped.wait(20), "no fire was skipped"
            finally:
                release.set()
                scheduler.shutdown(wait=True)
    finally:
        ours.removeHandler(watch)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any("skipped: maximum number of running instances" in r.getMessage()
               and r.name == "syndicator.scheduler" and r.levelno == logging.DEBUG
               for r in caplog.records)


def test_last_fire_is_the_latest_time_a_schedule_names() -> None:
    from syndicator.scheduler import last_fire

    now = datetime(2026, 12, 6, 7, 30, tzinfo=UTC)          # a Sunday
    assert last_fire(Schedule(cron="0 7 * * *"), "UTC", now) == now.replace(minute=0)
    assert last_fire(Schedule(cron="30 7 * * *"), "UTC", now) == now
    # Monday 07:00 in Minsk (UTC+3) is Monday 04:00 UTC, six days back.
    assert last_fire(Schedule(cron="0 7 * * 1"), "Europe/Minsk", now) == datetime(
        2026, 11, 30, 4, 0, tzinfo=UTC)
    assert last_fire(Schedule(cron="*/5 * * * *"), "UTC", now) == now
    assert last_fire(Schedule(every=3600), "UTC", now) == now.replace(minute=0)
    assert last_fire(Schedule(cron="0 0 29 2 *"), "UTC", now) is None   # none in a year
