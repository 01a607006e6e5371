"""The status model: what `/status`, `/status.json`, `/healthz` and `syndicator status` show.

    StatusReport ── sources: SourceStatus (last run, next run, backoff, broken, stale, items)
                 └─ feeds:   FeedStatus (items in the feed file, when it last changed)

`ServiceStatus` computes a report from the store's run log (`health.assess`), the feed
files in output_dir and — under `syndicator run` — the scheduler's next run times. Without
a scheduler (`syndicator serve`, or `syndicator status` when no `run` answers) next runs
are unknown (None).

`CachedStatus` keeps one report for the web pages (and one health verdict, for at most
HEALTH_TTL_S): it is built again when the published
files change (a build), and at most STATUS_TTL_S after it was made otherwise (runs that
change no feed, push deliveries and the clock itself change the status without a signal
the web process sees: `serve` shares the store with other processes).

When the store does not answer, what the public endpoints show is a generic reason
(STORE_UNAVAILABLE): the store's message names its host, port and user; it goes to the log,
at most once a minute while it stays the same.

Health (`healthy()`): under `run`, healthy while the scheduler runs and no enabled source
is stale (not polled for 3 × its schedule interval, see `health.is_stale`). A broken source
does NOT make the service unhealthy: restarting would not fix a remote site; it is reported
in the status instead. Under `serve` there is no scheduler: healthy means the store answers.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from syndicator import health
from syndicator.config import Config, SourceConfig
from syndicator.errors import StoreError
from syndicator.model import RunResult

log = logging.getLogger(__name__)

HISTORY = 50   # runs read per source to assess it (enough for any backoff or threshold)
STATUS_TTL_S = 2.0        # CachedStatus: a report is reused for at most this long
HEALTH_TTL_S = 1.0        # CachedStatus: a health verdict is reused for at most this long
STORE_UNAVAILABLE = "unavailable"
LOG_REPEAT_S = 60.0       # the same store error is logged again after this long


# --- records ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class SourceStatus:
    source_id: str
    last_run: RunResult | None
    last_success: datetime | None
    next_run: datetime | None            # None: not scheduled (disabled, or no scheduler here)
    consecutive_failures: int
    broken: bool
    broken_reason: str | None
    stale: bool
    items: int                           # stored items linked to the source
    backoff_until: datetime | None
    warning: str | None = None           # health.skipped_warning of the last run, if any


@dataclass(frozen=True)
class FeedStatus:
    feed_id: str
    items: int                           # items in the published feed file
    last_build: datetime | None          # when the feed file last changed (None: not built)


@dataclass(frozen=True)
class StatusReport:
    generated: datetime
    scheduler_running: bool
    sources: tuple[SourceStatus, ...]
    feeds: tuple[FeedStatus, ...]
    targets: tuple[Any, ...] = ()        # push targets: records with to_json() or dataclasses

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO 8601 strings in UTC)."""
        return {
            "generated": _iso(self.generated),
            "scheduler_running": self.scheduler_running,
            "sources": [_source_json(s) for s in self.sources],
            "feeds": [{"feed_id": f.feed_id, "items": f.items, "last_build": _iso(f.last_build)}
                      for f in self.feeds],
            "targets": [_any_json(t) for t in self.targets],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StatusReport:
        """The inverse of to_json (targets stay plain dicts). Raises ValueError/KeyError/
        TypeError on malformed data."""
        return cls(
            generated=_parse(data["generated"]) or datetime.now(UTC),
            scheduler_running=bool(data["scheduler_running"]),
            sources=tuple(_source_from(s) for s in data["sources"]),
            feeds=tuple(FeedStatus(feed_id=str(f["feed_id"]), items=int(f["items"]),
                                   last_build=_parse(f.get("last_build")))
                        for f in data["feeds"]),
            targets=tuple(data.get("targets") or ()),
        )

    def source(self, source_id: str) -> SourceStatus | None:
        return next((s for s in self.sources if s.source_id == source_id), None)


class StatusProvider(Protocol):
    """What the web app asks for `/status`, `/status.json` and `/healthz`."""

    def report(self) -> StatusReport: ...

    def healthy(self) -> tuple[bool, dict[str, Any]]: ...


class OutageReporter(Protocol):
    """Where store failures go when the process has one reporter for them (StoreOutage)."""

    def failed(self, exc: StoreError, job: str) -> None: ...


class SchedulerView(Protocol):
    """What the status needs from the running scheduler."""

    @property
    def running(self) -> bool: ...

    @property
    def started(self) -> datetime | None: ...

    def next_run(self, source_id: str) -> datetime | None: ...


class RunHistory(Protocol):
    """The part of the Store the status reads."""

    def runs(self, source_id: str | None = None, *, limit: int = 20) -> list[RunResult]: ...

    def count_items(self, source_ids: list[str] | None = None) -> int: ...


TargetsProvider = Callable[[], tuple[Any, ...]]


# --- the provider ----------------------------------------------------------------------------

class ServiceStatus:
    """StatusProvider over the store, the feed files and (optionally) the scheduler."""

    def __init__(self, config: Config, store: RunHistory, *,
                 scheduler: SchedulerView | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 threshold: int = health.DEFAULT_THRESHOLD,
                 targets: TargetsProvider | None = None,
                 outage: OutageReporter | None = None) -> None:
        self._config = config
        self._store = store
        self._scheduler = scheduler
        self._clock = clock
        self._threshold = threshold
        self._targets = targets
        self._outage = outage

    def _store_failed(self, exc: StoreError) -> None:
        """Under `run` and `worker` the process's jobs share one outage reporter: a store
        that went away is one line in the log, whether a poll or a status page met it."""
        if self._outage is not None:
            self._outage.failed(exc, "the status page")
        else:
            log_store_error(exc)

    def report(self) -> StatusReport:
        try:
            return self._report()
        except StoreError as exc:
            self._store_failed(exc)
            raise

    def _report(self) -> StatusReport:
        now = self._clock()
        running = self._scheduler is not None and self._scheduler.running
        sources = tuple(self._source(source, now) for source in self._config.sources)
        feeds = tuple(self._feed(feed.id) for feed in self._config.feeds)
        targets = self._targets() if self._targets is not None else ()
        return StatusReport(generated=now, scheduler_running=running, sources=sources,
                            feeds=feeds, targets=targets)

    def healthy(self, report: Callable[[], StatusReport] | None = None
                ) -> tuple[bool, dict[str, Any]]:
        """`report` gives the report to judge under `run` (default: a new one)."""
        if self._scheduler is None:
            # `serve`: nothing is polled here; healthy means we can read the store.
            try:
                self._store.runs(limit=1)
            except StoreError as exc:
                self._store_failed(exc)
                return False, {"mode": "serve", "store": STORE_UNAVAILABLE}
            return True, {"mode": "serve", "store": "ok", "scheduler_running": False}
        try:
            current = (report or self.report)()
        except StoreError:
            # Reported by report() (or by the provider that made the kept report).
            return False, {"mode": "run", "store": STORE_UNAVAILABLE}
        details = {s.source_id: {"stale": s.stale, "broken": s.broken,
                                 "consecutive_failures": s.consecutive_failures,
                                 "last_run": _iso(s.last_run.finished) if s.last_run else None}
                   for s in current.sources}
        stale = [s.source_id for s in current.sources if s.stale]
        ok = current.scheduler_running and not stale
        return ok, {"mode": "run", "scheduler_running": current.scheduler_running,
                    "stale": stale, "sources": details}

    def _source(self, source: SourceConfig, now: datetime) -> SourceStatus:
        history = self._store.runs(source.id, limit=HISTORY)
        assessed = health.assess(history, threshold=self._threshold)
        interval = source.schedule.interval_seconds
        backoff = health.backoff_until(history, interval)
        scheduled = self._scheduler is not None and self._scheduler.running and source.enabled
        next_run = self._scheduler.next_run(source.id) if scheduled and self._scheduler else None
        if backoff is not None and backoff <= now:
            backoff = None
        last = history[0] if history else None
        stale = source.enabled and health.is_stale(
            now, interval, last_activity=last.finished if last else None,
            started=self._scheduler.started if scheduled and self._scheduler else None,
            backoff=backoff)
        return SourceStatus(
            source_id=source.id,
            last_run=last,
            last_success=next((run.finished for run in history if run.ok), None),
            next_run=next_run,
            consecutive_failures=assessed.consecutive_failures,
            broken=assessed.broken,
            broken_reason=assessed.reason,
            stale=stale,
            items=self._store.count_items([source.id]),
            backoff_until=backoff,
            warning=assessed.warning,
        )

    def _feed(self, feed_id: str) -> FeedStatus:
        """Read the JSON Feed file the build wrote: its item count and modification time."""
        path = self._config.output_path / f"{feed_id}.json"
        return feed_file_status(feed_id, path)


class CachedStatus:
    """A StatusProvider reusing `inner`'s report while `token()` returns the same object and
    for at most `ttl` seconds. One thread builds a report at a time; the others wait for it.
    Health is kept the same way for at most `health_ttl` seconds (a probe hammering
    `/healthz` of `serve` cost a store transaction per request), and a ServiceStatus under
    `run` judges it from the kept report: `/healthz` would otherwise cost a whole report."""

    def __init__(self, inner: StatusProvider, *, token: Callable[[], object] = lambda: None,
                 ttl: float = STATUS_TTL_S, health_ttl: float = HEALTH_TTL_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._inner = inner
        self._token = token
        self._ttl = ttl
        self._health_ttl = health_ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._entry: tuple[StatusReport, object, float] | None = None
        self._health_lock = threading.Lock()
        self._health: tuple[tuple[bool, dict[str, Any]], object, float] | None = None

    def fresh(self) -> StatusReport | None:
        """The kept report when it is still good, without building one."""
        entry = self._entry
        if (entry is not None and entry[1] is self._token()
                and self._monotonic() - entry[2] < self._ttl):
            return entry[0]
        return None

    def report(self) -> StatusReport:
        with self._lock:
            kept = self.fresh()
            if kept is not None:
                return kept
            token, made = self._token(), self._monotonic()
            report = self._inner.report()
            self._entry = (report, token, made)
            return report

    def _kept_health(self) -> tuple[bool, dict[str, Any]] | None:
        entry = self._health
        if (entry is not None and entry[1] is self._token()
                and self._monotonic() - entry[2] < self._health_ttl):
            return entry[0]
        return None

    def healthy(self) -> tuple[bool, dict[str, Any]]:
        kept = self._kept_health()
        if kept is not None:
            return kept
        with self._health_lock:         # concurrent probes wait for one verdict
            kept = self._kept_health()
            if kept is not None:
                return kept
            token, made = self._token(), self._monotonic()
            if isinstance(self._inner, ServiceStatus):
                verdict = self._inner.healthy(self.report)
            else:
                verdict = self._inner.healthy()
            self._health = (verdict, token, made)
            return verdict


_logged: dict[str, float] = {}
_logged_lock = threading.Lock()


def log_store_error(exc: StoreError) -> None:
    """Log a store failure that public output shows only as STORE_UNAVAILABLE, once per
    LOG_REPEAT_S while the message stays the same (a probe every second must not flood the
    log). The store's messages never hold its password."""
    message = str(exc)
    now = time.monotonic()
    with _logged_lock:
        last = _logged.get(message)
        if last is not None and now - last < LOG_REPEAT_S:
            return
        if len(_logged) > 100:
            _logged.clear()
        _logged[message] = now
    log.warning("status: the store does not answer: %s", message)


def feed_file_status(feed_id: str, path: Path) -> FeedStatus:
    try:
        stat = path.stat()
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return FeedStatus(feed_id=feed_id, items=0, last_build=None)
    except (OSError, ValueError) as exc:
        log.warning("feed %s: cannot read %s: %s", feed_id, path, exc)
        return FeedStatus(feed_id=feed_id, items=0, last_build=None)
    items = data.get("items") if isinstance(data, dict) else None
    return FeedStatus(feed_id=feed_id, items=len(items) if isinstance(items, list) else 0,
                      last_build=datetime.fromtimestamp(stat.st_mtime, UTC))


# --- JSON helpers ----------------------------------------------------------------------------

def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _parse(value: Any) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def run_json(run: RunResult) -> dict[str, Any]:
    data = asdict(run)
    data["started"] = _iso(run.started)
    data["finished"] = _iso(run.finished)
    data["errors"] = list(run.errors)
    data["warnings"] = list(run.warnings)
    return data


def run_from_json(data: Mapping[str, Any]) -> RunResult:
    known = {f.name for f in fields(RunResult)}
    values = {k: v for k, v in data.items() if k in known}
    values["started"] = _parse(values["started"])
    values["finished"] = _parse(values["finished"])
    values["errors"] = tuple(values.get("errors") or ())
    values["warnings"] = tuple(values.get("warnings") or ())
    values["missing_fields"] = dict(values.get("missing_fields") or {})
    return RunResult(**values)


def _source_json(s: SourceStatus) -> dict[str, Any]:
    return {
        "source_id": s.source_id,
        "last_run": run_json(s.last_run) if s.last_run else None,
        "last_success": _iso(s.last_success),
        "next_run": _iso(s.next_run),
        "consecutive_failures": s.consecutive_failures,
        "broken": s.broken,
        "broken_reason": s.broken_reason,
        "stale": s.stale,
        "items": s.items,
        "backoff_until": _iso(s.backoff_until),
        "warning": s.warning,
    }


def _source_from(data: Mapping[str, Any]) -> SourceStatus:
    last = data.get("last_run")
    return SourceStatus(
        source_id=str(data["source_id"]),
        last_run=run_from_json(last) if last else None,
        last_success=_parse(data.get("last_success")),
        next_run=_parse(data.get("next_run")),
        consecutive_failures=int(data.get("consecutive_failures", 0)),
        broken=bool(data.get("broken")),
        broken_reason=data.get("broken_reason"),
        stale=bool(data.get("stale")),
        items=int(data.get("items", 0)),
        backoff_until=_parse(data.get("backoff_until")),
        warning=data.get("warning"),
    )


def _any_json(value: Any) -> Any:
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        return to_json()
    if is_dataclass(value) and not isinstance(value, type):
        return json.loads(json.dumps(asdict(value), default=str))
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)
