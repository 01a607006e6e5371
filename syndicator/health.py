"""Is a source healthy? Pure functions over its run history; no I/O, no clock.

`assess` decides whether a source is *broken* (needs an operator: failing for a while, or
its page layout changed so the selectors no longer find what they used to); `backoff_*`
say how long the scheduler waits after consecutive failures; `layout_check` is the quality
gate the pipeline applies before storing a run's items; `is_stale` says whether a source
has not been polled for too long.

Histories are sequences of RunResult, NEWEST FIRST (as `Store.runs` returns them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from syndicator.model import RunResult

DEFAULT_THRESHOLD = 3          # consecutive failed runs that make a source broken
BACKOFF_CAP_SECONDS = 3600.0   # never wait longer than this between attempts ...
BACKOFF_CAP_FACTOR = 8         # ... nor longer than this many schedule intervals
STALE_FACTOR = 3               # a source not polled for 3 intervals is stale
_REQUIRED = ("link", "title", "date")
_SKIPPED = "skipped: "        # runlog.SKIPPED: missing_fields keys of entries not made items


@dataclass(frozen=True)
class Health:
    broken: bool
    reason: str | None = None
    consecutive_failures: int = 0
    # Not broken, but worth a look: entries the source yields that did not become items.
    warning: str | None = None


def consecutive_failures(history: Sequence[RunResult]) -> int:
    """How many of the newest runs failed in a row."""
    count = 0
    for run in history:
        if run.ok:
            break
        count += 1
    return count


def _fetched_listing(run: RunResult) -> bool:
    """Did the run read a listing with a body? A 304-only run says nothing about items."""
    return run.pages > 0


def _lacking(run: RunResult) -> int:
    return sum(run.missing_fields.get(name, 0) for name in _REQUIRED)


def assess(history: Sequence[RunResult], *, threshold: int = DEFAULT_THRESHOLD) -> Health:
    """Broken when any of these holds for the history (newest first):

    1. the newest `threshold` runs all failed;
    2. the newest run that fetched a listing (pages > 0) extracted no items while an older
       run did (a 304-only run is "nothing changed", not "zero items": it is skipped);
    3. in that run more than half of the items lacked a link, title or date.

    A later healthy run therefore recovers the source.
    """
    failures = consecutive_failures(history)
    if failures >= threshold:
        last = history[0]
        why = last.errors[0] if last.errors else "no error recorded"
        return Health(True, f"{failures} consecutive failed runs; last error: {why}", failures)
    fetched = [run for run in history if _fetched_listing(run)]
    warning = skipped_warning(fetched[0]) if fetched else None
    if fetched:
        latest = fetched[0]
        if latest.items_seen == 0:
            earlier = max((run.items_seen for run in fetched[1:]), default=0)
            if earlier > 0:
                return Health(True, f"the listing yielded 0 items (an earlier run yielded "
                                    f"{earlier}); did the page layout change?", failures)
        else:
            lacking = _lacking(latest)
            if lacking * 2 > latest.items_seen:
                fields = ", ".join(f"{name}: {latest.missing_fields[name]}"
                                   for name in _REQUIRED if latest.missing_fields.get(name))
                return Health(True, f"{lacking} of {latest.items_seen} items lack a link, "
                                    f"title or date ({fields}); did the page layout change?",
                              failures)
    return Health(False, None, failures, warning)


def skipped_warning(run: RunResult) -> str | None:
    """What a run's skipped entries say: "3 of 10 entries skipped: no link", or, when
    none was stored, that the source yields entries but stores none, and why. None when
    nothing was skipped. A feed whose entries all lack an http link is such a source: its
    layout did not change, so it is a warning, not "broken"."""
    skipped = {key[len(_SKIPPED):]: count for key, count in run.missing_fields.items()
               if key.startswith(_SKIPPED) and count}
    if not skipped:
        return None
    total = sum(skipped.values())
    reasons = ", ".join(f"{reason}: {count}" for reason, count in skipped.items())
    if total >= run.items_seen and not run.new and not run.updated:
        return f"yields {total} entries but stores none: all skipped ({reasons})"
    return f"{total} of {run.items_seen} entries skipped ({reasons})"


# --- backoff ---------------------------------------------------------------------------------

def backoff_delay(failures: int, interval: float) -> float:
    """Seconds from the start of the last failed run to the next attempt.

    interval × 2^(failures-1), capped at the smaller of 1 h and 8 intervals (but never
    below one interval: a slow schedule is not made faster). 0 failures → one interval.
    """
    if failures <= 1:
        return interval
    cap = max(interval, min(BACKOFF_CAP_SECONDS, BACKOFF_CAP_FACTOR * interval))
    # min() before the power would overflow for absurd counts; 2**64 is plenty
    return min(interval * 2.0 ** min(failures - 1, 64), cap)


def backoff_until(history: Sequence[RunResult], interval: float) -> datetime | None:
    """Until when the scheduler skips this source; None when it is not backing off.

    One failure is not backed off (the next regular run is the retry); from two on the
    wait doubles, counted from the start of the last failed run.
    """
    failures = consecutive_failures(history)
    if failures < 2:
        return None
    return history[0].started + timedelta(seconds=backoff_delay(failures, interval))


def backoff_skips(now: datetime, until: datetime | None, interval: float,
                  jitter: float = 0.0) -> bool:
    """Should a run fired at `now` be skipped? A fire that comes a little early (scheduler
    latency, jitter) still counts as on time: the slack is a quarter interval plus jitter."""
    if until is None:
        return False
    slack = max(1.0, interval / 4) + jitter
    return now + timedelta(seconds=slack) < until


# --- staleness -------------------------------------------------------------------------------

def is_stale(now: datetime, interval: float, *, last_activity: datetime | None,
             started: datetime | None = None, backoff: datetime | None = None) -> bool:
    """Not polled for more than STALE_FACTOR intervals.

    The clock starts at the latest of: the last run's end, the service start, and the end
    of a backoff (a source waiting out its backoff is not stale, it is failing — that is
    reported as broken instead).
    """
    marks = [t for t in (last_activity, started, backoff) if t is not None]
    if not marks:
        return False
    return now - max(marks) > timedelta(seconds=STALE_FACTOR * interval)


# --- the pipeline's quality gate ---------------------------------------------------------------

def layout_check(seen: int, missing: Mapping[str, int], *, stored: int,
                 stored_dated: int) -> str | None:
    """Should a run's items be kept out of the store? Returns the reason, or None to store.

    `seen` items were on the listings of this run, `missing` counts those (of the ones
    normalised: new or changed cards) lacking a link/title/date; `stored` is how many of
    the source's recent stored items were looked at and `stored_dated` how many of them had
    a date. When more than half of the run's
    items lack a title (or a date, while the stored items mostly had one) the listing or
    article layout probably changed: storing would replace good items with bad ones, so
    subscribers keep the last good items instead. A source with nothing stored yet is
    never gated (there is nothing better to keep, and `check` is the tool for a new one).
    """
    if seen <= 0 or stored <= 0:
        return None
    lacking = missing.get("link", 0) + missing.get("title", 0)
    if stored_dated * 2 > stored:
        lacking += missing.get("date", 0)
    if lacking * 2 <= seen:
        return None
    return f"layout change? {lacking} of {seen} items lack title/date; items not stored"
