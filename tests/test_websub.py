"""WebSub pings against a real hub endpoint on loopback (ThreadingHTTPServer)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from syndicator.config import Config, FeedConfig, SiteConfig, SourceConfig, WebSubConfig
from syndicator.publish import build_feeds
from syndicator.store import Store
from syndicator.websub import HubNotifier, WebSubPinger, hook_for

BASE = "https://feeds.example.org/"
NOW = datetime(2024, 6, 1, tzinfo=UTC)


class Hub:
    """A hub endpoint: records form posts; answers from `statuses` (then 204); can be held."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, list[str]], str]] = []
        self.statuses: list[int] = []
        self.release = threading.Event()
        self.release.set()
        self.arrived = threading.Event()
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with hub.lock:
                    hub.posts.append((parse_qs(body.decode("ascii"), strict_parsing=True),
                                      self.headers.get("Content-Type", "")))
                    status = hub.statuses.pop(0) if hub.statuses else 204
                hub.arrived.set()
                hub.release.wait(30)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hub"

    def urls(self) -> list[str]:
        with self.lock:
            return [form["hub.url"][0] for form, _ in self.posts]

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub() -> Iterator[Hub]:
    running = Hub()
    yield running
    running.stop()


def test_publish_ping_is_a_form_post_with_mode_and_url(hub: Hub) -> None:
    pinger = WebSubPinger(hub.url, timeout=5, retries=0)
    pinger.notify([f"{BASE}news.rss"])
    assert pinger.close(timeout=10)
    assert len(hub.posts) == 1
    form, content_type = hub.posts[0]
    assert form == {"hub.mode": ["publish"], "hub.url": [f"{BASE}news.rss"]}
    assert content_type == "application/x-www-form-urlencoded"
    assert pinger.sent == 1 and pinger.failed == 0


def test_a_500_is_retried_with_backoff_until_the_hub_accepts(hub: Hub) -> None:
    hub.statuses = [500, 503]
    pinger = WebSubPinger(hub.url, timeout=5, retries=3, backoff=0.01)
    pinger.notify([f"{BASE}news.atom"])
    assert pinger.close(timeout=10)
    assert hub.urls() == [f"{BASE}news.atom"] * 3
    assert pinger.sent == 1 and pinger.failed == 0


def test_retries_run_out_and_a_4xx_is_not_retried(hub: Hub) -> None:
    hub.statuses = [500, 500, 400]
    pinger = WebSubPinger(hub.url, timeout=5, retries=1, backoff=0.01)
    pinger.notify([f"{BASE}a.rss", f"{BASE}b.rss"])
    assert pinger.close(timeout=10)
    # a.rss: 500, 500 (retries=1 → two attempts); b.rss: 400, dropped at once.
    assert hub.urls() == [f"{BASE}a.rss", f"{BASE}a.rss", f"{BASE}b.rss"]
    assert pinger.sent == 0 and pinger.failed == 2


def test_an_unreachable_hub_is_retried_then_given_up(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()     # nothing listens there now: connection refused
    pinger = WebSubPinger(f"http://127.0.0.1:{port}/", timeout=2, retries=2, backoff=0.01)
    pinger.notify([f"{BASE}news.json"])
    assert pinger.close(timeout=10)
    assert pinger.failed == 1 and pinger.sent == 0


def test_notify_does_not_wait_for_a_slow_hub_and_dedupes_pending_urls(hub: Hub) -> None:
    hub.release.clear()                       # the hub holds every answer until released
    pinger = WebSubPinger(hub.url, timeout=30, retries=0)
    pinger.notify([f"{BASE}news.rss"])
    assert hub.arrived.wait(10)               # the first ping is in flight, held by the hub
    # notify returns while the hub is still holding that request
    pinger.notify([f"{BASE}news.atom", f"{BASE}news.json"])
    pinger.notify([f"{BASE}news.atom"])       # already pending: not queued again
    assert not hub.release.is_set() and pinger.pending() == 3
    hub.release.set()
    assert pinger.close(timeout=10)
    assert hub.urls() == [f"{BASE}news.rss", f"{BASE}news.atom", f"{BASE}news.json"]


def test_close_gives_up_on_a_hub_that_never_answers(hub: Hub) -> None:
    hub.release.clear()
    pinger = WebSubPinger(hub.url, timeout=30, retries=0)
    pinger.notify([f"{BASE}news.rss", f"{BASE}news.atom"])
    assert hub.arrived.wait(10)
    assert pinger.close(timeout=0.2) is False   # still stuck on the first request
    hub.release.set()


def make_config(tmp_path: Path, hub: str | None) -> Config:
    return Config(
        site=SiteConfig(title="Hub test", base_url=BASE),
        output_dir=str(tmp_path / "out"),
        sources=(SourceConfig(id="s", type="feed", url="https://news.example.org/f.xml"),),
        feeds=(FeedConfig(id="news", title="News", sources=("s",)),
               FeedConfig(id="world", title="World", sources=("s",))),
        websub=WebSubConfig(hub=hub, timeout=5, retries=0),
    )


def test_hook_maps_changed_feed_ids_to_self_urls_of_every_format(hub: Hub,
                                                                 tmp_path: Path) -> None:
    assert hook_for(make_config(tmp_path, None)) is None
    hook = hook_for(make_config(tmp_path, hub.url))
    assert isinstance(hook, HubNotifier)
    hook(["world", "unknown-feed"])
    assert hook.close(timeout=10)
    assert hub.urls() == [f"{BASE}world.rss", f"{BASE}world.atom", f"{BASE}world.json"]


def test_a_build_is_not_blocked_by_a_slow_hub(hub: Hub, tmp_path: Path) -> None:
    """The build → hook → build sequence completes while the hub holds its first answer."""
    config = make_config(tmp_path, hub.url)
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    hook = hook_for(config)
    assert isinstance(hook, HubNotifier)
    try:
        hub.release.clear()
        build_feeds(config, store, NOW)
        hook(["news", "world"])
        assert hub.arrived.wait(10)
        result = build_feeds(config, store, NOW)   # runs while the hub is stuck
        assert result.feeds and not hub.release.is_set()
        hub.release.set()
        assert hook.close(timeout=10)
    finally:
        store.close()
    assert sorted(hub.urls()) == sorted(f"{BASE}{fid}.{ext}" for fid in ("news", "world")
                                        for ext in ("rss", "atom", "json"))


def test_every_feed_advertises_the_hub_and_itself(tmp_path: Path) -> None:
    config = make_config(tmp_path, "https://hub.example.net/")
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        build_feeds(config, store, NOW)
    finally:
        store.close()
    out = tmp_path / "out"
    rss = (out / "news.rss").read_text()
    assert '<atom:link href="https://hub.example.net/" rel="hub"/>' in rss
    assert f'<atom:link href="{BASE}news.rss" rel="self"' in rss
    atom = (out / "news.atom").read_text()
    assert '<link href="https://hub.example.net/" rel="hub"/>' in atom
    assert f'<link href="{BASE}news.atom" rel="self"' in atom
    json_feed = (out / "news.json").read_text()
    assert '"hubs": [\n    {\n      "type": "WebSub",\n      "url": "https://hub.example.net/"' \
        in json_feed
    assert f'"feed_url": "{BASE}news.json"' in json_feed
