"""`syndicator run`, `serve` and `status` as real processes against a local fixture site,
and the status model they serve.

The fixture site is a copy of the bundled demo site in tmp_path, so a test can publish a
story or redesign the listing while the service polls it every 2 seconds. Waits poll with
a generous upper bound; they are not timing assertions.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from click.testing import CliRunner

from syndicator.app import make_app
from syndicator.cli import cli
from syndicator.config import Config, Schedule, load_config
from syndicator.demo import demo_site_root
from syndicator.demo.server import SiteServer
from syndicator.errors import StoreError, SyndicatorError
from syndicator.httpserver import listen
from syndicator.model import RunResult
from syndicator.pipeline import run_source
from syndicator.publish import build_feeds
from syndicator.scheduler import SourceScheduler
from syndicator.status import ServiceStatus, StatusReport
from syndicator.store import Store
from tests.demo_support import selectors_yaml
from tests.net_support import free_port
from tests.push_support import copy_demo_site, publish

WAIT = 30.0          # upper bound for anything the service does "within one poll"
NEW_TITLE = "Syndicator test: a story published while the service runs"
NEW_ID = "feed0000000001"
FEED_PATH = "office-en.rss"

CONFIG = """
site: {{title: "Test feeds", base_url: "http://127.0.0.1:{port}/"}}
storage: "sqlite:///store.db"
output_dir: feeds
timezone: Europe/Minsk
server: {{host: 127.0.0.1, port: {port}}}
fetch: {{delay: 0s, retries: 0, timeout: 5s, allow_private: true}}
sources:
  - id: office-en
    url: "{site}en/news/"
    language: en
    schedule: {{every: 2s}}
{selectors}feeds:
  - {{id: office-en, title: "Office news", sources: [office-en]}}
"""


def service_config(port: int, site_url: str) -> str:
    """CONFIG for a service on `port` polling the demo site (or a copy) at `site_url`."""
    return CONFIG.format(port=port, site=site_url, selectors=selectors_yaml(max_pages=2))


@dataclass
class Setup:
    folder: Path
    site: Path
    config: Path
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "syndicator", "--config", str(self.config), *args]

    def start(self, *args: str) -> Service:
        log = self.folder / f"{args[0]}-{time.monotonic_ns()}.log"
        handle = log.open("wb")
        process = subprocess.Popen(self.command(*args), stdout=handle, stderr=subprocess.STDOUT,
                                   cwd=self.folder, env={**os.environ, "COLUMNS": "200"})
        handle.close()
        return Service(process, log)


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    log: Path
    STOP_WITHIN: ClassVar[float] = 10.0

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM (unless it has exited); the exit code (the process must be gone within
        STOP_WITHIN seconds)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=self.STOP_WITHIN)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"no exit within {self.STOP_WITHIN:g} s of SIGTERM:\n"
                                 f"{self.output()}") from None


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    site = copy_demo_site(tmp_path)
    port = free_port()
    with SiteServer(site) as server:
        config = tmp_path / "config.yaml"
        config.write_text(service_config(port, server.url))
        yield Setup(tmp_path, site, config, port)


def get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5, trust_env=False)
    except httpx.TransportError:
        return None


def wait_for(what: str, check: Callable[[], Any], service: Service) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if service.process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}; service output:\n{service.output()}")


def feed(setup: Setup) -> str | None:
    answer = get(setup.base + FEED_PATH)
    return answer.text if answer is not None and answer.status_code == 200 else None


def source_status(setup: Setup) -> dict[str, Any] | None:
    answer = get(setup.base + "status.json")
    if answer is None or answer.status_code != 200:
        return None
    sources: list[dict[str, Any]] = answer.json()["sources"]
    return next(s for s in sources if s["source_id"] == "office-en")


def publish_story(site: Path) -> None:
    """The story NEW_TITLE, new on the site copy's English listing."""
    publish(site, NEW_ID, NEW_TITLE)


LISTINGS = ("en/news/index.html", "en/news/page/2/index.html")


def redesign(site: Path) -> dict[str, str]:
    """A new theme: the cards are now <div class="post-tile">; returns the old pages."""
    old = {}
    for name in LISTINGS:
        path = site / name
        old[name] = path.read_text()
        path.write_text(old[name].replace('<article class="news-card', '<div class="post-tile')
                        .replace("</article>", "</div>"))
    return old


@pytest.mark.slow
def test_run_publishes_new_stories_survives_a_redesign_and_stops_on_sigterm(
        setup: Setup) -> None:
    service = setup.start("run")
    try:
        first = wait_for("the first poll in the served feed",
                         lambda: (text := feed(setup)) and "<item>" in text and text, service)
        assert NEW_TITLE not in first

        publish_story(setup.site)
        served = wait_for("the new story in the served feed",
                          lambda: (text := feed(setup)) and NEW_TITLE in text and text, service)
        items = served.count("<item>")

        second = subprocess.run(setup.command("run"), cwd=setup.folder, capture_output=True,
                                text=True, timeout=30)
        db = (setup.folder / "store.db").resolve()
        assert second.returncode == 1
        assert f"another syndicator run is using {db} (pid {service.process.pid})" in \
            second.stderr

        live = subprocess.run(setup.command("status"), cwd=setup.folder, capture_output=True,
                              text=True, timeout=30, env={**os.environ, "COLUMNS": "200"})
        assert live.returncode == 0, live.stderr
        assert f"live from {setup.base}status.json" in live.stdout
        assert "office-en" in live.stdout and "scheduler running" in live.stdout

        old_pages = redesign(setup.site)
        broken = wait_for("the source marked broken",
                          lambda: (s := source_status(setup)) and s["broken"] and s, service)
        assert "yielded 0 items" in broken["broken_reason"]
        still = feed(setup)
        assert still is not None and still.count("<item>") == items and NEW_TITLE in still
        metrics = get(setup.base + "metrics")
        assert metrics is not None and metrics.status_code == 200
        assert 'syndicator_source_broken{source="office-en"} 1.0' in metrics.text
        assert 'syndicator_fetch_seconds_count{host="127.0.0.1"}' in metrics.text

        for name, text in old_pages.items():
            (setup.site / name).write_text(text)
        wait_for("the source to recover",
                 lambda: (s := source_status(setup)) and not s["broken"], service)
        health = get(setup.base + "healthz")
        assert health is not None and health.status_code == 200
    finally:
        code = service.stop()
    output = service.output()
    assert code == 0, output
    assert output.count("source office-en is broken") == 1, output
    assert output.count("source office-en recovered") == 1, output

    offline = CliRunner().invoke(cli, ["--config", str(setup.config), "status"],
                                 env={"COLUMNS": "200"})
    assert offline.exit_code == 0, offline.output
    assert "from the store" in offline.output and "office-en" in offline.output


@pytest.mark.slow
def test_serve_serves_what_is_built_and_picks_up_rebuilt_files(setup: Setup) -> None:
    def fetch_and_build() -> None:     # what a cron job of `fetch && build` would do
        config = load_config(setup.config)
        with make_app(config) as app:
            assert run_source(app, config.source("office-en")).ok
            build_feeds(config, app.store, app.clock())

    fetch_and_build()
    service = setup.start("serve")
    try:
        text = wait_for("the served feed", lambda: feed(setup), service)
        assert "<item>" in text and NEW_TITLE not in text
        status = get(setup.base + "status.json")
        assert status is not None and status.json()["scheduler_running"] is False
        health = get(setup.base + "healthz")
        assert health is not None and health.status_code == 200

        publish_story(setup.site)
        fetch_and_build()
        wait_for("the rebuilt feed served",
                 lambda: (text := feed(setup)) and NEW_TITLE in text, service)
    finally:
        code = service.stop()
    assert code == 0, service.output()


def test_worker_on_sqlite_polls_in_process_without_http_and_takes_the_store_lock(
        setup: Setup) -> None:
    service = setup.start("worker")
    try:
        store_db = setup.folder / "store.db"
        wait_for("a poll stored and its feed built",
                 lambda: (setup.folder / "feeds" / FEED_PATH).exists(), service)
        assert "syndicator worker: in-process; 1 source(s) scheduled; no HTTP" in \
            service.output()
        assert get(setup.base + FEED_PATH) is None, "nothing listens"
        second = subprocess.run(setup.command("run"), cwd=setup.folder, capture_output=True,
                                text=True, timeout=30)
        assert second.returncode == 1, second.stderr
        assert f"another syndicator run is using {store_db.resolve()}" in second.stderr, \
            second.stderr
    finally:
        code = service.stop()
    assert code == 0, service.output()
    misuse = subprocess.run(setup.command("worker", "--port", "8081"), cwd=setup.folder,
                            capture_output=True, text=True, timeout=30)
    assert misuse.returncode == 2 and "--port" in misuse.stderr, misuse.stderr


@pytest.mark.slow
def test_sigterm_during_a_hanging_run_exits_0_and_leaves_no_partial_run(tmp_path: Path) -> None:
    """Article pages that never answer in time: the run cannot finish, the process still
    exits 0 within 10 s, and the store holds nothing of that run (one transaction)."""
    hanging = threading.Event()

    def hook(handler: BaseHTTPRequestHandler, path: str) -> bool:
        if "/events/news/" in path:
            hanging.set()
            time.sleep(30)
        return False

    port = free_port()
    with SiteServer(demo_site_root(), hook=hook) as server:
        config = tmp_path / "config.yaml"
        config.write_text(service_config(port, server.url).replace("5s", "60s"))
        setup = Setup(tmp_path, demo_site_root(), config, port)
        service = setup.start("run")
        try:
            assert hanging.wait(WAIT), service.output()
        finally:
            code = service.stop()
    assert code == 0, service.output()
    assert "a source run is still in progress; exiting anyway" in service.output()
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        assert (store.runs(), store.count_items()) == ([], 0)
    finally:
        store.close()


# --- the status model --------------------------------------------------------------------------

STATUS_CONFIG = """
storage: "sqlite:///store.db"
sources:
  - {id: a, url: "http://127.0.0.1:9/a", type: feed, schedule: {every: 15m}}
  - {id: b, url: "http://127.0.0.1:9/b", type: feed, schedule: {every: 15m}}
  - {id: paused, url: "http://127.0.0.1:9/c", type: feed, enabled: false}
feeds:
  - {id: all, title: All, sources: [a, b]}
"""


@pytest.fixture
def status_store(tmp_path: Path) -> Iterator[tuple[Config, Store]]:
    (tmp_path / "config.yaml").write_text(STATUS_CONFIG)
    config = load_config(tmp_path / "config.yaml")
    store = Store(config.storage_url)
    try:
        yield config, store
    finally:
        store.close()


def save(store: Store, source_id: str, ok: bool, at: datetime, **counts: Any) -> RunResult:
    result = RunResult(source_id=source_id, started=at, finished=at + timedelta(seconds=3),
                       ok=ok, errors=() if ok else ("HTTP 503",), **counts)
    store.save_run(result, (), ())
    return result


def test_the_report_combines_run_log_health_scheduler_and_feed_files(
        status_store: tuple[Config, Store]) -> None:
    config, store = status_store
    now = datetime.now(UTC).replace(microsecond=0)
    good = save(store, "a", True, now - timedelta(minutes=40), pages=2, items_seen=10,
                missing_fields={"date": 1})
    for minutes in (30, 20, 10):
        last = save(store, "b", False, now - timedelta(minutes=minutes))
    config.output_path.mkdir(parents=True)
    (config.output_path / "all.json").write_text('{"items": [{"id": "1"}, {"id": "2"}]}')
    scheduler = SourceScheduler("UTC")
    scheduler.add("a", Schedule(every="15m"), lambda: None, first_run_in=600)
    scheduler.start()
    try:
        status = ServiceStatus(config, store, scheduler=scheduler, clock=lambda: now)
        report = status.report()
        healthy, details = status.healthy()
    finally:
        scheduler.shutdown(wait=False)
    a, b, paused = report.sources
    assert report.scheduler_running
    assert (a.last_run, a.last_success, a.broken, a.stale) == (good, good.finished, False, False)
    assert a.next_run is not None and a.next_run > now
    assert (b.consecutive_failures, b.broken, b.last_success) == (3, True, None)
    assert b.broken_reason == "3 consecutive failed runs; last error: HTTP 503"
    # 3 failures on a 15 min schedule: wait 4 × 15 min from the last failed start
    assert b.backoff_until == last.started + timedelta(minutes=60)
    assert (paused.last_run, paused.next_run, paused.stale) == (None, None, False)
    feed = report.feeds[0]
    assert (feed.feed_id, feed.items) == ("all", 2) and feed.last_build is not None
    # a broken source is reported, not unhealthy; nothing is stale yet
    assert healthy, details
    assert details["sources"]["b"]["broken"] is True

    assert StatusReport.from_json(json.loads(json.dumps(report.to_json()))) == report


def test_unhealthy_when_a_source_was_not_polled_for_three_intervals(
        status_store: tuple[Config, Store]) -> None:
    config, store = status_store
    now = datetime.now(UTC)
    save(store, "a", True, now - timedelta(minutes=50))
    save(store, "b", True, now - timedelta(minutes=5))
    scheduler = SourceScheduler("UTC")
    scheduler.start()
    try:
        later = ServiceStatus(config, store, scheduler=scheduler,
                              clock=lambda: now + timedelta(hours=1))
        healthy, details = later.healthy()
        assert not healthy and details["stale"] == ["a", "b"]
        assert ServiceStatus(config, store, scheduler=scheduler, clock=lambda: now).healthy()[0]
    finally:
        scheduler.shutdown(wait=False)
    stopped, details = ServiceStatus(config, store, scheduler=scheduler,
                                     clock=lambda: now).healthy()
    assert not stopped and details["scheduler_running"] is False


def test_without_a_scheduler_health_is_the_store_answering(
        status_store: tuple[Config, Store]) -> None:
    config, store = status_store
    assert ServiceStatus(config, store).healthy() == (
        True, {"mode": "serve", "store": "ok", "scheduler_running": False})

    class Unreachable:
        def runs(self, source_id: str | None = None, *, limit: int = 20) -> list[RunResult]:
            raise StoreError("postgresql://db/feeds: cannot read the run log: timeout")

        def count_items(self, source_ids: list[str] | None = None) -> int:
            raise StoreError("unreachable")

    healthy, details = ServiceStatus(config, Unreachable()).healthy()
    # The public answer never names the database (its URL holds host, port and user).
    assert not healthy and details["store"] == "unavailable"


def test_status_prints_the_store_view_when_no_run_answers(
        status_store: tuple[Config, Store]) -> None:
    config, store = status_store
    save(store, "a", True, datetime.now(UTC), pages=3, not_modified=1, items_seen=9)
    result = CliRunner().invoke(cli, ["--config", str(config.base_dir / "config.yaml"),
                                      "status"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "from the store (no `syndicator run` answered at http://127.0.0.1:8080/" \
        "status.json)" in result.output
    rows = [line.split() for line in result.output.splitlines()]
    assert next(row for row in rows if row[:1] == ["a"])[2:] == ["ok", "3", "1", "0", "0", "0",
                                                                 "-"]
    assert next(row for row in rows if row[:1] == ["b"])[1:] == ["-", "-", "-", "-", "-", "-",
                                                                 "0", "-"]
    as_json = CliRunner().invoke(cli, ["--config", str(config.base_dir / "config.yaml"),
                                       "status", "--json"])
    data = json.loads(as_json.output)
    assert [s["source_id"] for s in data["sources"]] == ["a", "b", "paused"]


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SyndicatorError, match=f"cannot listen on 127.0.0.1:{port}: "):
            listen("127.0.0.1", port)
