"""health: broken-source detection, backoff, staleness and the pipeline's quality gate."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicator import health
from syndicator.app import make_app
from syndicator.config import load_config
from syndicator.demo.server import SiteServer
from syndicator.model import RunResult
from syndicator.pipeline import run_source

T0 = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)


def run(ok: bool = True, *, pages: int = 1, not_modified: int = 0, seen: int = 10,
        missing: dict[str, int] | None = None, error: str = "boom", at: int = 0) -> RunResult:
    started = T0 + timedelta(minutes=at)
    return RunResult(source_id="s", started=started, finished=started + timedelta(seconds=5),
                     ok=ok, pages=pages, not_modified=not_modified, items_seen=seen,
                     errors=() if ok else (error,), missing_fields=missing or {})


NOT_MODIFIED = run(pages=0, not_modified=1, seen=0)
EMPTY = run(seen=0)
FAILED = run(False, pages=0, seen=0)

# (name, history newest first, broken, consecutive failures, words in the reason)
CASES = [
    ("no history", [], False, 0, ""),
    ("one good run", [run()], False, 0, ""),
    ("two failures are not yet broken", [FAILED, FAILED, run()], False, 2, ""),
    ("three failures are", [FAILED, FAILED, FAILED, run()], True, 3, "3 consecutive failed"),
    ("the last error is named", [replace(FAILED, errors=("HTTP 503",))] * 4, True, 4,
     "last error: HTTP 503"),
    ("a success resets the count", [run(), FAILED, FAILED, FAILED], False, 0, ""),
    ("zero items after items", [EMPTY, run()], True, 0, "yielded 0 items (an earlier run "
                                                         "yielded 10)"),
    ("zero items from the start is an empty source", [EMPTY, EMPTY], False, 0, ""),
    ("304 is not zero items", [NOT_MODIFIED, NOT_MODIFIED, run()], False, 0, ""),
    ("304 after zero items stays broken", [NOT_MODIFIED, EMPTY, run()], True, 0, "0 items"),
    ("items again recover", [run(seen=3), EMPTY, run()], False, 0, ""),
    ("most items lack fields", [run(missing={"title": 4, "date": 2}), run()], True, 0,
     "6 of 10 items lack"),
    ("half lacking is tolerated", [run(missing={"date": 5}), run()], False, 0, ""),
    ("fields back recover", [run(), run(missing={"title": 10})], False, 0, ""),
    ("a 304 keeps the missing-field verdict", [NOT_MODIFIED, run(missing={"link": 9})], True,
     0, "9 of 10"),
]


@pytest.mark.parametrize(("history", "broken", "failures", "reason"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_assess(history: list[RunResult], broken: bool, failures: int, reason: str) -> None:
    verdict = health.assess(history)
    assert (verdict.broken, verdict.consecutive_failures) == (broken, failures)
    if broken:
        assert verdict.reason is not None and reason in verdict.reason
    else:
        assert verdict.reason is None


def test_assess_threshold_is_configurable() -> None:
    assert health.assess([FAILED], threshold=1).broken
    assert not health.assess([FAILED] * 4, threshold=5).broken


@pytest.mark.parametrize(("failures", "interval", "delay"), [
    (0, 60, 60), (1, 60, 60), (2, 60, 120), (3, 60, 240), (4, 60, 480),
    (5, 60, 480),                 # capped at 8 intervals
    (6, 900, 3600),               # 15 min: capped at 1 h before 8 intervals
    (3, 7200, 7200),              # 2 h schedule: never faster than the schedule
    (10_000, 2, 16),              # no overflow
])
def test_backoff_delay(failures: int, interval: float, delay: float) -> None:
    assert health.backoff_delay(failures, interval) == delay


def test_backoff_until_counts_from_the_last_failed_start() -> None:
    assert health.backoff_until([FAILED, run()], 60) is None
    assert health.backoff_until([run(), FAILED, FAILED], 60) is None
    three = [replace(FAILED, started=T0 + timedelta(minutes=m)) for m in (10, 5, 0)]
    assert health.backoff_until(three, 60) == T0 + timedelta(minutes=10, seconds=240)


def test_backoff_skips_early_fires_but_not_a_slightly_early_due_one() -> None:
    until = T0 + timedelta(seconds=120)
    assert health.backoff_skips(T0 + timedelta(seconds=60), until, 60)
    assert not health.backoff_skips(T0 + timedelta(seconds=119), until, 60)
    assert not health.backoff_skips(T0 + timedelta(seconds=200), until, 60)
    assert not health.backoff_skips(T0, None, 60)
    # jitter widens the slack: a fire jittered 30 s early is still the due one
    assert not health.backoff_skips(T0 + timedelta(seconds=90), until, 60, jitter=30)


@pytest.mark.parametrize(("minutes_since", "started", "backoff", "stale"), [
    (10, None, None, False),
    (46, None, None, True),        # 3 × 15 min passed
    (46, 40, None, False),         # the service started 6 minutes ago
    (46, None, 90, False),         # backing off until later
    (None, None, None, False),     # never ran, no service start known
])
def test_is_stale(minutes_since: int | None, started: int | None, backoff: int | None,
                  stale: bool) -> None:
    now = T0 + timedelta(minutes=100)

    def ago(minutes: int | None) -> datetime | None:
        return None if minutes is None else now - timedelta(minutes=minutes)

    assert health.is_stale(now, 900, last_activity=ago(minutes_since), started=ago(started),
                           backoff=None if backoff is None else T0 + timedelta(minutes=backoff)
                           ) is stale


@pytest.mark.parametrize(("seen", "missing", "stored", "dated", "refused"), [
    (10, {"title": 6}, 5, 5, True),
    (10, {"title": 5}, 5, 5, False),               # half is not most
    (10, {"title": 3, "date": 3}, 5, 5, True),
    (10, {"date": 8}, 5, 1, False),                # this source never had dates
    (10, {"title": 8}, 0, 0, False),               # nothing stored yet: nothing to protect
    (0, {}, 5, 5, False),                          # zero items never refuses (nor deletes)
    (10, {"title": 1}, 5, 5, False),               # one bad new card among unchanged ones
])
def test_layout_check(seen: int, missing: dict[str, int], stored: int, dated: int,
                      refused: bool) -> None:
    reason = health.layout_check(seen, missing, stored=stored, stored_dated=dated)
    assert (reason is not None) is refused
    if reason:
        assert reason.startswith("layout change? ") and "items not stored" in reason


# --- the quality gate in a real pipeline run -------------------------------------------------

GOOD_CARD = """<article class="card"><a class="link" href="/news/{n}.html">
<h2 class="title">Story number {n}</h2></a><time class="date">2025-10-0{n} 10:00</time></article>"""
# The redesign: the link wraps an image only, the title and date moved to new classes.
BAD_CARD = """<article class="card"><a class="link" href="/news/{n}.html"><img src="/i.png"></a>
<div class="heading">Story number {n}</div></article>"""

CONFIG = """
storage: "sqlite:///store.db"
output_dir: feeds
sources:
  - id: s
    url: "${SITE}news/"
    fetch_articles: false
    list: {item: article.card, link: a.link@href, title: .title, date: .date}
fetch: {delay: 0s, robots: false, allow_private: true}
feeds:
  - {id: s, title: S, sources: [s]}
"""


def write_listing(root: Path, card: str, numbers: range) -> None:
    cards = "\n".join(card.format(n=n) for n in numbers)
    (root / "news").mkdir(parents=True, exist_ok=True)
    (root / "news" / "index.html").write_text(f"<html><body>{cards}</body></html>")


def test_a_layout_change_stores_nothing_and_the_old_items_stay(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write_listing(site, GOOD_CARD, range(1, 4))
    (tmp_path / "config.yaml").write_text(CONFIG)
    with SiteServer(site) as server:
        config = load_config(tmp_path / "config.yaml", env={"SITE": server.url})
        with make_app(config) as app:
            source = config.source("s")
            first = run_source(app, source)
            assert (first.ok, first.new) == (True, 3)
            before = app.store.latest(["s"], limit=10)

            write_listing(site, BAD_CARD, range(4, 10))
            gated = run_source(app, source)
            assert not gated.ok
            assert gated.errors == ("layout change? 6 of 6 items lack title/date; "
                                    "items not stored",)
            assert app.store.latest(["s"], limit=10) == before
            assert app.store.runs("s", limit=1)[0] == gated
            assert health.assess(app.store.runs("s")).broken
            # nothing of the run was remembered (no validators, no card hashes): the next
            # run reads the listing again instead of taking a 304 for "all is well"
            assert app.store.url_states([f"{server.url}news/4.html"]) == {}
            again = run_source(app, source)
            assert (again.ok, again.not_modified, again.errors) == (False, 0, gated.errors)

            write_listing(site, GOOD_CARD, range(1, 5))
            back = run_source(app, source)
            assert (back.ok, back.new) == (True, 1)
            assert not health.assess(app.store.runs("s")).broken


# --- public health output names no host, port or user (issue 17, finding 10) -----------------

LEAKY_URL = "postgresql+psycopg://leaky_user:hunter2secret@127.0.0.1:1/newsdb"


def test_health_and_status_of_a_failing_store_name_no_host_or_user(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A store that does not answer: the public answer is generic; the log has the detail
    (not the password). Port 1 on loopback refuses at once: a real failed connection."""
    import httpx
    from test_web import Server, make_config

    from syndicator.status import ServiceStatus
    from syndicator.store import Store
    from syndicator.web.app import create_web_app
    from syndicator.web.cache import FeedCache
    from syndicator.web.context import WebContext

    config = make_config(tmp_path)
    store = Store(LEAKY_URL, migrate=False)
    for scheduler in (None, _RunningScheduler()):
        ok, details = ServiceStatus(config, store, scheduler=scheduler).healthy()
        assert not ok and details["store"] == "unavailable"
    ctx = WebContext(config=config, store=store, cache=FeedCache(config.output_path),
                     status=ServiceStatus(config, store))
    with caplog.at_level("WARNING"), Server(create_web_app(ctx)) as server:
        answers = [httpx.get(server.url + path, timeout=10)
                   for path in ("/healthz", "/status.json", "/status")]
    assert [a.status_code for a in answers] == [503, 503, 503]
    for answer in answers:
        for secret in ("leaky_user", "127.0.0.1", "port", "newsdb", "postgresql", "hunter2"):
            assert secret not in answer.text, (answer.url, secret)
    logged = caplog.text
    assert "leaky_user" in logged and "127.0.0.1" in logged
    assert "hunter2secret" not in logged
    store.close()


class _RunningScheduler:
    running = True
    started = None

    def next_run(self, source_id: str) -> None:
        return None
