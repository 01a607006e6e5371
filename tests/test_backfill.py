"""Backfill: walking every listing page of the demo site on loopback, resumably."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from syndicator.app import make_app
from syndicator.backfill import backfill, summary_line
from syndicator.cli import run_sources
from syndicator.config import Config, FetchSettings, SourceConfig
from syndicator.errors import ConfigError
from syndicator.model import BackfillState
from syndicator.pipeline import run_listing_page
from syndicator.store import Store
from tests.conftest import Site

ROOT = Path(__file__).resolve().parent.parent
LISTING = ("/en/news/", "/en/news/page/2/", "/en/news/page/3/")
EN_STORIES = 15   # 6 + 6 + 3 cards on the three listing pages


def with_source(config: Config, source_id: str, **list_changes: object) -> Config:
    sources = []
    for source in config.sources:
        if source.id == source_id and source.list is not None:
            source = source.model_copy(update={"list": source.list.model_copy(
                update=list_changes)})
        sources.append(source)
    return config.model_copy(update={"sources": tuple(sources),
                                     "fetch": FetchSettings(delay=0, retries=0,
                                                                   allow_private=True)})


def article_requests(site: Site) -> Counter[str]:
    return Counter(path for method, path, _ in site.server.requests
                   if method == "GET" and path.startswith("/en/events/news/"))


def listing_requests(site: Site) -> list[str]:
    return [path for method, path, _ in site.server.requests
            if method == "GET" and path.startswith("/en/news/")]


def en(config: Config) -> SourceConfig:
    return config.source("office-en")


def test_backfill_walks_every_listing_page_and_stores_every_story(office_site: Site) -> None:
    config = with_source(office_site.config, "office-en")
    pages: list[tuple[int, int, str]] = []
    with make_app(config) as app:
        result = backfill(app, en(config), on_page=lambda *args: pages.append(args))
        stored = app.store.count_items(["office-en"])
        state = app.store.backfill_state("office-en")
    assert result.status == "complete" and result.ok
    assert (result.pages, result.pages_done, result.new) == (3, 3, EN_STORIES)
    assert stored == EN_STORIES
    assert [(done, bound) for done, bound, _ in pages] == [(1, 500), (2, 500), (3, 500)]
    assert listing_requests(office_site) == list(LISTING)
    assert set(article_requests(office_site).values()) == {1}
    assert state is not None and state.finished is not None and state.next_url is None
    assert "backfill complete" in summary_line(result) and "15 new" in summary_line(result)


def test_the_bound_stops_the_walk_and_a_higher_bound_resumes_it(office_site: Site) -> None:
    one_page = with_source(office_site.config, "office-en", backfill_pages=1)
    with make_app(one_page) as app:
        first = backfill(app, en(one_page))
        again = backfill(app, en(one_page))
    assert first.status == "bound" and first.pages == 1 and first.new == 6
    assert first.next_url == office_site.url + "en/news/page/2/"
    assert again.status == "done-before" and again.pages == 0
    assert listing_requests(office_site) == ["/en/news/"]

    everything = with_source(office_site.config, "office-en")
    with make_app(everything) as app:
        rest = backfill(app, en(everything))
        assert app.store.count_items(["office-en"]) == EN_STORIES
    assert rest.status == "complete" and rest.pages == 2 and rest.pages_done == 3
    assert rest.new == EN_STORIES - 6
    # Page 1 was not walked again and no article page was fetched twice.
    assert listing_requests(office_site) == list(LISTING)
    assert set(article_requests(office_site).values()) == {1}


def test_a_stop_request_ends_after_the_current_page_and_the_walk_resumes(
        office_site: Site) -> None:
    config = with_source(office_site.config, "office-en")
    stop = threading.Event()
    with make_app(config) as app:
        interrupted = backfill(app, en(config), stop=stop,
                               on_page=lambda done, bound, url: stop.set())
        state = app.store.backfill_state("office-en")
        assert state is not None and state.finished is None and state.pages_done == 1
        resumed = backfill(app, en(config))
    assert interrupted.status == "stopped" and interrupted.pages == 1 and interrupted.ok
    assert resumed.status == "complete" and resumed.pages == 2
    assert listing_requests(office_site) == list(LISTING)
    assert set(article_requests(office_site).values()) == {1}


def test_a_failing_page_keeps_its_place_for_the_next_walk(office_site: Site) -> None:
    failing = {"/en/news/page/2/"}

    def hook(handler: BaseHTTPRequestHandler, path: str) -> bool:
        if path in failing:
            handler.send_response(503)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return True
        return False

    office_site.server.hook = hook
    config = with_source(office_site.config, "office-en")
    with make_app(config) as app:
        failed = backfill(app, en(config))
        failing.clear()
        resumed = backfill(app, en(config))
        assert app.store.count_items(["office-en"]) == EN_STORIES
    assert failed.status == "failed" and not failed.ok and failed.pages == 1
    assert failed.next_url == office_site.url + "en/news/page/2/" and failed.errors
    assert resumed.status == "complete" and resumed.pages == 2


def test_after_normal_runs_backfill_fetches_only_unseen_articles(office_site: Site) -> None:
    config = with_source(office_site.config, "office-en", max_pages=1)
    with make_app(config) as app:
        run_sources(app, ["office-en"], echo=lambda line: None)
        assert sum(article_requests(office_site).values()) == 6
        result = backfill(app, en(config))
        restarted = backfill(app, en(config), restart=True)
    assert result.new == EN_STORIES - 6
    assert restarted.status == "complete" and restarted.pages == 3 and restarted.new == 0
    assert set(article_requests(office_site).values()) == {1}
    assert sum(article_requests(office_site).values()) == EN_STORIES


def test_a_link_back_to_a_walked_page_ends_the_walk(office_site: Site, tmp_path: Path) -> None:
    # Page 3 of a copy of the site links "next" to page 2 again.
    def hook(handler: BaseHTTPRequestHandler, path: str) -> bool:
        if path != "/en/news/page/3/":
            return False
        body = (office_site.server.root / "en/news/page/3/index.html").read_text()
        body = body.replace('<a class="next page-numbers"', "<a class=x").replace(
            "</main>", '<a class="next page-numbers" href="/en/news/page/2/">next</a></main>')
        data = body.encode("utf-8")
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
        return True

    office_site.server.hook = hook
    config = with_source(office_site.config, "office-en")
    with make_app(config) as app:
        page3 = run_listing_page(app, en(config), office_site.url + "en/news/page/3/")
        assert page3.next_url == office_site.url + "en/news/page/2/"
        result = backfill(app, en(config))
    assert result.status == "complete" and result.pages == 3


def test_feed_sources_cannot_be_backfilled(office_site: Site, tmp_path: Path) -> None:
    config = office_site.config
    feed_source = SourceConfig(id="f", type="feed", url=office_site.url + "feed.xml")
    with make_app(config) as app, pytest.raises(ConfigError, match="html sources"):
        backfill(app, feed_source)


def test_backfill_state_round_trips(store: Store) -> None:
    assert store.backfill_state("a") is None
    t0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    state = BackfillState(source_id="a", next_url="https://x.example/p/2", pages_done=1,
                          started=t0, updated=t0)
    store.save_backfill_state(state)
    assert store.backfill_state("a") == state
    done = replace(state, next_url=None, pages_done=7, updated=t0 + timedelta(hours=1),
                   finished=t0 + timedelta(hours=1))
    store.save_backfill_state(done)
    assert store.backfill_state("a") == done and store.backfill_state("b") is None


# --- the command line ----------------------------------------------------------------------

def _cli(site: Site, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    config = tmp_path / "config.yaml"
    if not config.exists():
        from syndicator.demo import demo_config_path

        config.write_text(demo_config_path().read_text())
    env = {**os.environ, "SYNDICATOR_DEMO_URL": site.url}
    env.pop("SYNDICATOR_CONFIG", None)
    return subprocess.Popen([sys.executable, "-m", "syndicator", "--config", str(config),
                             "fetch", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_cli_backfill_usage_errors(office_site: Site, tmp_path: Path) -> None:
    cases = (("--backfill",), ("--backfill", "office-en", "office-ru"),
             ("--restart", "office-en"), ("--backfill", "--max-pages", "2", "office-en"))
    running = [(args, _cli(office_site, tmp_path, *args)) for args in cases]
    for args, proc in running:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 2, (args, out, err)
        assert "Usage:" in err and "Traceback" not in err


@pytest.mark.slow
def test_cli_ctrl_c_stops_after_the_current_page_and_a_rerun_resumes(office_site: Site,
                                                                     tmp_path: Path) -> None:
    arrived, release = threading.Event(), threading.Event()

    def hook(handler: BaseHTTPRequestHandler, path: str) -> bool:
        if path == "/en/news/page/2/" and not release.is_set():
            arrived.set()
            release.wait(30)     # hold page 2 until the test has pressed Ctrl-C
        return False

    office_site.server.hook = hook
    proc = _cli(office_site, tmp_path, "--backfill", "office-en", "--no-progress")
    try:
        assert arrived.wait(60), proc.communicate(timeout=5)
        proc.send_signal(signal.SIGINT)
    finally:
        release.set()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "interrupted; run again to resume: 2 page(s) walked now, 2 in all" in out
    assert "stopping after the current page" in err and "Traceback" not in err
    store = Store(f"sqlite:///{tmp_path / 'syndicator-demo.db'}")
    try:
        state = store.backfill_state("office-en")
        assert state is not None and state.pages_done == 2 and state.finished is None
        assert state.next_url == office_site.url + "en/news/page/3/"
    finally:
        store.close()

    again = _cli(office_site, tmp_path, "--backfill", "office-en", "--no-progress")
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert "backfill complete (last page reached): 1 page(s) walked now, 3 in all, 3 new" in out
    assert listing_requests(office_site).count("/en/news/") == 1
