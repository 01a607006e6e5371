"""The cluster engine (procrastinate on PostgreSQL): job keys, the dispatcher, several
worker processes on one database, failover after kill -9 and a database outage.

Everything runs against the machine's PostgreSQL (a database per test) and a local fixture
site of RSS feeds whose requests the test counts and can hold. Waits poll with generous
upper bounds; they are not timing assertions.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from syndicator.app import make_app
from syndicator.config import load_config
from syndicator.demo.server import SiteServer
from syndicator.errors import StoreError
from syndicator.jobs.cluster import ClusterEngine
from syndicator.jobs.queue import sweep_summary
from syndicator.service import Service
from syndicator.status import STORE_UNAVAILABLE
from syndicator.store import Store
from tests.fake_telegram import FakeTelegram
from tests.net_support import free_port
from tests.pgproxy import PgProxy
from tests.postgres_support import postgres_database
from tests.test_service import Service as ServiceProcess

pytestmark = pytest.mark.postgres

WAIT = 30.0
TOKEN = "123456:TEST-token_abc"
CHAT = "@jobs"
T0 = datetime(2026, 1, 1, tzinfo=UTC)

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{name}</title><link>{site}</link>
<description>d</description>
<item><title>{name} story</title><link>{site}{name}/1</link><guid>{site}{name}/1</guid>
<pubDate>Thu, 01 Jan 2026 10:00:00 GMT</pubDate><description>Body</description></item>
</channel></rss>
"""

CONFIG = """
site: {{title: "Jobs", base_url: "http://127.0.0.1:9/"}}
storage: "{storage}"
output_dir: feeds
fetch: {{delay: 0s, retries: 0, timeout: 60s, allow_private: true}}
jobs: {{concurrency: 3}}
sources:
{sources}
feeds:
  - {{id: all, title: "All", sources: [{ids}]}}
"""


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new database, migrated (migrations first, as an upgrade does them)."""
    for url in postgres_database():
        Store(url).close()
        yield url


class Site:
    """RSS feeds on loopback: counts the requests per path; a held path waits for release."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: Counter[str] = Counter()
        self.held: set[str] = set()
        self.holding = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.server = SiteServer(root, hook=self._hook)

    def _hook(self, handler: BaseHTTPRequestHandler, path: str) -> bool:
        with self._lock:
            self.requests[path] += 1
            hold = path in self.held
            self.held.discard(path)        # only the first request is held
        if hold:
            self.holding.set()
            self.release.wait(WAIT * 2)
        return False

    def count(self, path: str) -> int:
        with self._lock:
            return self.requests[path]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    root = tmp_path / "site"
    root.mkdir()
    made = Site(root)
    with made.server as server:
        for name in ("a", "b", "c", "d", "slow"):
            (root / f"{name}.xml").write_text(RSS.format(name=name, site=server.url))
        yield made
        made.release.set()


def write_config(folder: Path, storage: str, site_url: str,
                 schedules: dict[str, str]) -> Path:
    sources = "\n".join(
        f'  - {{id: {name}, type: feed, url: "{site_url}{name}.xml", '
        f"schedule: {{every: {every}}}}}" for name, every in schedules.items())
    path = folder / "config.yaml"
    path.write_text(CONFIG.format(storage=storage, sources=sources,
                                  ids=", ".join(schedules)))
    return path


def wait_for(condition: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.1)


def query(url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


class Worker(ServiceProcess):
    """`syndicator worker` (or `run`) as a real process, its output in a file."""

    STOP_WITHIN = 15.0

    def __init__(self, config: Path, name: str, *, command: str = "worker",
                 verbose: bool = False) -> None:
        """`verbose`: log INFO lines too (-v), the sweeper's among them."""
        log = config.parent / f"{name}.log"
        with log.open("wb") as handle:
            process = subprocess.Popen(
                [sys.executable, "-m", "syndicator", "--config", str(config),
                 *(["-v"] if verbose else []), command],
                stdout=handle, stderr=subprocess.STDOUT, cwd=config.parent,
                env={**os.environ, "COLUMNS": "200", "TEST_BOT_TOKEN": TOKEN})
        super().__init__(process, log)


def answer(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5)
    except httpx.HTTPError:
        return None


def run_starts(url: str, source: str) -> list[datetime]:
    return [row[0] for row in query(  # type: ignore[misc]
        url, "SELECT started FROM runs WHERE source_id = :s ORDER BY started", s=source)]


# --- the dispatcher's rows ------------------------------------------------------------------

def test_two_dispatchers_never_claim_one_due_time(pg_url: str) -> None:
    """A due row is claimed by one transaction (the other skips it), moved on by `advance`
    in it; a dispatch whose queueing fails leaves its rows due."""
    stores = [Store(pg_url), Store(pg_url)]
    try:
        stores[0].plan_due({"source:a": T0, "source:b": T0, "source:later": T0 + timedelta(1)})
        stores[0].plan_due({"source:a": T0 + timedelta(days=9)})      # kept as it was
        inside, leave = threading.Event(), threading.Event()
        claimed: dict[str, list[str]] = {}

        def first(keys: list[str]) -> None:
            claimed["first"] = keys
            inside.set()
            assert leave.wait(WAIT)

        keys = ["source:a", "source:b", "source:later"]
        thread = threading.Thread(target=lambda: stores[0].claim_due(
            keys, T0, lambda key: T0 + timedelta(minutes=15), first))
        thread.start()
        assert inside.wait(WAIT)
        second = stores[1].claim_due(keys, T0, lambda key: T0 + timedelta(minutes=15),
                                     lambda keys: claimed.setdefault("second", keys))
        leave.set()
        thread.join(WAIT)
        assert (sorted(claimed["first"]), second) == (["source:a", "source:b"], [])
        assert "second" not in claimed
        assert stores[1].due_times(keys) == {"source:a": T0 + timedelta(minutes=15),
                                             "source:b": T0 + timedelta(minutes=15),
                                             "source:later": T0 + timedelta(1)}
        # Queueing failed: the transaction rolls back, the rows stay due.
        late = T0 + timedelta(hours=1)

        def fail(keys: list[str]) -> None:
            raise RuntimeError("the queue is away")

        with pytest.raises(RuntimeError):
            stores[1].claim_due(keys, late, lambda key: late + timedelta(hours=1), fail)
        assert stores[1].due_times(["source:a"]) == {"source:a": T0 + timedelta(minutes=15)}
        # Keys not asked for (a source removed from the config) are never claimed.
        assert stores[1].claim_due(["source:b"], late, lambda key: late, lambda keys: None) \
            == ["source:b"]
        assert stores[1].due_times(["source:a"]) == {"source:a": T0 + timedelta(minutes=15)}
    finally:
        for store in stores:
            store.close()


# --- job keys -------------------------------------------------------------------------------

def test_a_poll_waiting_is_not_queued_twice_and_never_runs_beside_the_running_one(
        pg_url: str, site: Site, tmp_path: Path) -> None:
    site.held.add("/slow.xml")
    config = load_config(write_config(tmp_path, pg_url, site.server.url, {"slow": "1h"}))
    app = make_app(config)
    service = Service(app)
    engine = ClusterEngine(service)
    engine.start()
    try:
        assert engine.queue.wait_up(WAIT)
        assert site.holding.wait(WAIT), "the first poll never came"
        # The running poll holds the lock "source:slow"; one more may wait, not two.
        assert engine.queue.defer("poll_source", "slow") is True
        assert engine.queue.defer("poll_source", "slow") is False
        jobs = query(pg_url, "SELECT status::text, lock, queueing_lock FROM procrastinate_jobs "
                             "WHERE task_name = 'poll_source' ORDER BY id")
        assert jobs == [("doing", "source:slow", "poll:slow"),
                        ("todo", "source:slow", "poll:slow")]
        site.release.set()
        wait_for(lambda: len(app.store.runs("slow")) == 2, "the queued poll ran")
        first, second = sorted(app.store.runs("slow"), key=lambda run: run.started)
        assert second.started >= first.finished            # one after the other
        assert site.count("/slow.xml") == 2
        wait_for(lambda: not query(pg_url, "SELECT id FROM procrastinate_jobs WHERE "
                                           "task_name = 'poll_source'"), "jobs cleaned up")
        # The poll stored a new item: its feed was built by a build_feed job.
        wait_for(lambda: (tmp_path / "feeds" / "all.rss").exists(), "the feed was built")
    finally:
        site.release.set()
        assert engine.stop(WAIT)
        app.close()


def test_builds_that_could_not_be_queued_are_queued_by_the_next_dispatch(
        pg_url: str, site: Site, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, pg_url, site.server.url, {"a": "1h"}))
    app = make_app(config)
    app.store.plan_due({"source:a": T0 + timedelta(days=365 * 100)})   # no poll builds it
    engine = ClusterEngine(Service(app))
    try:
        with pytest.raises(StoreError):      # the queue does not answer (not started yet)
            engine.build_feeds(["all"])
        engine.start()
        wait_for(lambda: (tmp_path / "feeds" / "all.rss").exists(), "the feed built")
        assert not app.store.runs("a")
    finally:
        assert engine.stop(WAIT)
        app.close()


def test_a_job_for_a_feed_or_source_this_config_lacks_is_given_back_not_dropped(
        pg_url: str, site: Site, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Instances on different configurations: a build_feed or poll_source job for an id
    this instance does not know is retried later (by any instance), with a warning."""
    config = load_config(write_config(tmp_path, pg_url, site.server.url, {"a": "1h"}))
    app = make_app(config)
    app.store.plan_due({"source:a": T0 + timedelta(days=365 * 100)})   # no poll runs
    engine = ClusterEngine(Service(app))
    engine.start()
    try:
        assert engine.queue.wait_up(WAIT)
        assert engine.queue.defer("build_feed", "newer") is True
        assert engine.queue.defer("poll_source", "newer") is True
        given_back = ("SELECT task_name FROM procrastinate_jobs WHERE args->>'key' = 'newer' "
                      "AND status = 'todo' AND attempts >= 1 ORDER BY task_name")
        wait_for(lambda: query(pg_url, given_back) == [("build_feed",), ("poll_source",)],
                 "both jobs given back to the queue")
        warned = [r.getMessage() for r in caplog.records if "configs differ" in r.getMessage()]
        assert any("feed 'newer'" in m for m in warned)
        assert any("source 'newer'" in m for m in warned)
    finally:
        assert engine.stop(WAIT)
        app.close()


# --- processes ------------------------------------------------------------------------------

@pytest.mark.slow
def test_two_workers_on_one_database_poll_each_source_once_per_due_time(
        pg_url: str, site: Site, tmp_path: Path) -> None:
    names = ["a", "b", "c", "d"]
    config = write_config(tmp_path, pg_url, site.server.url, dict.fromkeys(names, "3s"))
    began = time.monotonic()
    workers = [Worker(config, "one"), Worker(config, "two")]
    try:
        wait_for(lambda: all(len(run_starts(pg_url, n)) >= 3 for n in names),
                 "three polls of every source", timeout=60)
    finally:
        codes = [worker.stop() for worker in workers]
        took = time.monotonic() - began
    outputs = "\n".join(worker.output() for worker in workers)
    assert codes == [0, 0], outputs
    assert outputs.count("procrastinate on postgresql database") == 2, outputs
    for name in names:
        starts = run_starts(pg_url, name)
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
        # One poll per due time: polls of a source are seconds apart (a second poll of one
        # due time would follow the first at once), and no more than the due times.
        assert min(gaps) > 0.5, (name, gaps, outputs)
        assert len(starts) <= took / 3 + 1, (name, starts, took)
        assert site.count(f"/{name}.xml") == len(starts)
    assert "Traceback" not in outputs


@pytest.mark.slow
def test_kill_9_mid_poll_another_worker_finishes_it(
        pg_url: str, site: Site, tmp_path: Path) -> None:
    site.held.add("/slow.xml")
    config = write_config(tmp_path, pg_url, site.server.url, {"slow": "1h"})
    # A stall window of the operator's (the send test below keeps the default).
    config.write_text(config.read_text().replace("jobs: {concurrency: 3}",
                                                 "jobs: {concurrency: 3, stalled_after: 9s}"))
    first = Worker(config, "first")
    second: Worker | None = None
    try:
        assert site.holding.wait(WAIT), first.output()
        second = Worker(config, "second", verbose=True)
        wait_for(lambda: "procrastinate on" in second.output(), "the second worker started")
        first.process.kill()              # SIGKILL mid-poll
        first.process.wait()
        killed = time.monotonic()
        # The poll of a source due every hour runs again only as the dead worker's job.
        wait_for(lambda: query(pg_url, "SELECT ok FROM runs WHERE source_id = 'slow' "
                                       "AND ok"), "another worker finished the poll",
                 timeout=WAIT * 2)
        took = time.monotonic() - killed
        assert took < WAIT, f"finished {took:.1f} s after the kill"
        assert site.count("/slow.xml") == 2     # the held request, then the retried one
    finally:
        site.release.set()
        if second is not None:
            assert second.stop() == 0, second.output()
    assert re.search(r" INFO .*stopped workers' jobs given back \(no heartbeat for 9 s\): "
                     r"1 run again "
                     r"\(poll_source\S*key='slow'", second.output()), second.output()


def test_the_sweepers_line_names_a_few_jobs_and_counts_the_rest() -> None:
    again = [f"poll_source[{n}](key='s{n}')" for n in range(5)]
    line = sweep_summary(15.0, [7, 8], again, ["send_target[9](key='tg')"])
    assert line == ("jobs: stopped workers' jobs given back (no heartbeat for 15 s): "
                    "5 run again (poll_source[0](key='s0'), poll_source[1](key='s1'), "
                    "poll_source[2](key='s2') and 2 more); 1 dropped, the same job queued "
                    "(send_target[9](key='tg')); workers 7, 8 taken for dead")


def test_sigterm_hands_a_job_still_running_at_the_deadline_back_to_the_queue(
        pg_url: str, site: Site, tmp_path: Path) -> None:
    site.held.add("/slow.xml")
    config = write_config(tmp_path, pg_url, site.server.url, {"slow": "1h"})
    worker = Worker(config, "worker")
    try:
        assert site.holding.wait(WAIT), worker.output()
        stopping = time.monotonic()
        code = worker.stop()
        assert time.monotonic() - stopping < 10
    finally:
        site.release.set()
    assert code == 0, worker.output()
    assert "1 job(s) still running at the stop deadline handed back" in worker.output()
    # Queued again at once, for the next process: no heartbeat to wait for.
    assert query(pg_url, "SELECT status::text, lock FROM procrastinate_jobs "
                         "WHERE task_name = 'poll_source'") == [("todo", "source:slow")]


def test_a_database_outage_is_one_line_and_polling_resumes(
        pg_url: str, site: Site, tmp_path: Path) -> None:
    """Cut the database at start (the worker waits for it), then mid-run (it stays up):
    each outage is one line and one when it ends, and polls resume after."""
    with PgProxy(("127.0.0.1", 5432)) as proxy:
        through = make_url(pg_url).set(host="127.0.0.1", port=proxy.port)
        storage = through.render_as_string(hide_password=False)
        config = write_config(tmp_path, storage, site.server.url, {"a": "2s"})
        proxy.stop()
        worker = Worker(config, "worker")
        try:
            wait_for(lambda: "is unavailable" in worker.output(), "the line at start")
            assert worker.process.poll() is None, worker.output()
            proxy.start()
            wait_for(lambda: len(run_starts(pg_url, "a")) >= 1, "the first poll")
            proxy.stop()
            wait_for(lambda: worker.output().count("is unavailable") == 2, "the outage line")
            time.sleep(3)                  # the outage goes on over a few due times
            cut = datetime.now(UTC)
            proxy.start()
            wait_for(lambda: any(start > cut for start in run_starts(pg_url, "a")),
                     "a poll after the database came back")
        finally:
            code = worker.stop()
    output = worker.output()
    assert code == 0, output
    assert output.count("is unavailable (") == 2, output
    assert output.count("is available again") == 2, output
    assert "Traceback" not in output, output
    assert "postgres@" not in output and str(proxy.port) not in output, output


def test_run_serves_its_feeds_while_the_store_does_not_answer_and_starts_when_it_does(
        pg_url: str, site: Site, tmp_path: Path) -> None:
    with PgProxy(("127.0.0.1", 5432)) as proxy:
        through = make_url(pg_url).set(host="127.0.0.1", port=proxy.port)
        config = write_config(tmp_path, through.render_as_string(hide_password=False),
                              site.server.url, {"a": "2s"})
        port = free_port()
        text_ = config.read_text() + f"server: {{host: 127.0.0.1, port: {port}}}\n"
        config.write_text(text_)
        (tmp_path / "feeds").mkdir()
        kept = RSS.format(name="kept", site=site.server.url)
        (tmp_path / "feeds" / "all.rss").write_text(kept)
        proxy.stop()
        run = Worker(config, "run", command="run")
        base = f"http://127.0.0.1:{port}/"
        try:
            wait_for(lambda: answer(base + "all.rss") is not None, "the feed served")
            feed = answer(base + "all.rss")
            assert feed is not None and feed.status_code == 200 and "kept story" in feed.text
            health = answer(base + "healthz")
            assert health is not None and health.status_code == 503, run.output()
            assert health.json()["store"] == STORE_UNAVAILABLE
            assert not run_starts(pg_url, "a")
            proxy.start()
            wait_for(lambda: len(run_starts(pg_url, "a")) >= 1, "the first poll")
            wait_for(lambda: "a story" in (getattr(answer(base + "all.rss"), "text", "")),
                     "the feed rebuilt from the store")
            wait_for(lambda: getattr(answer(base + "healthz"), "status_code", 0) == 200,
                     "healthy")
            status = answer(base + "status.json")
            assert status is not None and status.json()["scheduler_running"] is True
            # The next run as the dispatcher's row has it: one interval after the last.
            (source,) = status.json()["sources"]
            assert source["next_run"] is not None and source["next_run"] > \
                source["last_run"]["started"], source
        finally:
            code = run.stop()
    assert code == 0, run.output()
    assert run.output().count("is unavailable (connection refused)") == 1, run.output()


PUSH = """push:
  - id: tg
    type: telegram
    feeds: [all]
    chat_id: "{chat}"
    token: {{env: TEST_BOT_TOKEN}}
    api_url: "{telegram}"
    timeout: 8s
"""


@pytest.mark.slow
def test_a_send_in_flight_in_a_killed_worker_becomes_unknown_and_is_not_resent(
        pg_url: str, site: Site, tmp_path: Path) -> None:
    with FakeTelegram(TOKEN) as telegram:
        config = write_config(tmp_path, pg_url, site.server.url, {"a": "2s"})
        config.write_text(config.read_text() + PUSH.format(chat=CHAT, telegram=telegram.url))
        first = Worker(config, "first")
        second: Worker | None = None
        try:
            # The target's first poll of a source sends nothing (no flood of old items).
            wait_for(lambda: len(run_starts(pg_url, "a")) >= 1, "the first poll")
            telegram.stall_next(120)
            feed = site.root / "a.xml"
            newer = RSS.format(name="b", site=site.server.url).split("<item>")[1]
            feed.write_text(feed.read_text().replace("<item>", "<item>" + newer + "<item>", 1))
            wait_for(lambda: telegram.arrived == 1, "the message on its way")
            second = Worker(config, "second", verbose=True)
            wait_for(lambda: "procrastinate on" in second.output(), "the second worker")
            first.process.kill()          # SIGKILL mid-send, well before its read timeout
            first.process.wait()
            assert query(pg_url, "SELECT state FROM deliveries WHERE target_id = 'tg' AND "
                                 "state <> 'suppressed'") == [("sending",)]
            wait_for(lambda: query(pg_url, "SELECT state FROM deliveries WHERE "
                                           "target_id = 'tg' AND state <> 'suppressed'")
                     == [("unknown",)], "the delivery left unknown", timeout=WAIT * 2)
            # Run again or dropped for the same job queued meanwhile: either way, the next
            # send_target found the claim of the dead one expired.
            wait_for(lambda: re.search(r" INFO .*stopped workers' jobs given back \(no "
                                       r"heartbeat for 15 s\): .*send_target",
                                       second.output()), "the sweeper's line")
            assert telegram.arrived == 1          # never sent a second time
        finally:
            if second is not None:
                assert second.stop() == 0, second.output()
            first.stop()
