"""`syndicator run` with everything wired: a Telegram push target (the strict fake Bot API)
and a WebSub hub, as real processes over real HTTP.

A story published on the fixture site while the service runs must reach the served feed,
the channel (once, without the stories that were there before: no flood) and the hub.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.fake_telegram import FakeTelegram
from tests.test_service import (
    NEW_TITLE,
    Setup,
    feed,
    get,
    publish_story,
    setup,  # noqa: F401 - the fixture, shared with test_service
    wait_for,
)

TOKEN = "123456:TEST-token_abc"
CHAT = "@office_news_en"


class Hub:
    """A WebSub hub on loopback that records publish pings."""

    def __init__(self) -> None:
        self.pings: list[dict[str, list[str]]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hub.pings.append(urllib.parse.parse_qs(body.decode()))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hub"

    def urls(self) -> set[str]:
        return {url for ping in self.pings if ping.get("hub.mode") == ["publish"]
                for url in ping.get("hub.url", [])}


@pytest.fixture
def hub() -> Iterator[Hub]:
    server = Hub()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _telegram_push(api_url: str) -> str:
    """The config's `push:` with one Telegram target on the fake Bot API."""
    return ("push:\n"
            "  - id: tg-en\n"
            "    type: telegram\n"
            "    feeds: [office-en]\n"
            f"    chat_id: \"{CHAT}\"\n"
            "    token: {env: TEST_BOT_TOKEN}\n"
            f"    api_url: \"{api_url}\"\n")


@pytest.mark.slow
def test_run_pushes_a_new_story_once_and_pings_the_hub(
        setup: Setup, hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    with FakeTelegram(TOKEN) as telegram:
        config = (setup.config.read_text() + f"websub: {{hub: \"{hub.url}\"}}\n"
                  + _telegram_push(telegram.url))
        setup.config.write_text(config)
        monkeypatch.setenv("TEST_BOT_TOKEN", TOKEN)
        service = setup.start("run")
        try:
            wait_for("the first poll in the served feed",
                     lambda: (text := feed(setup)) and "<item>" in text, service)
            publish_story(setup.site)
            wait_for("the new story in the channel",
                     lambda: any(NEW_TITLE in m.text for m in telegram.messages(CHAT)), service)
            self_url = f"{setup.base}office-en.rss"
            wait_for("the hub ping", lambda: self_url in hub.urls(), service)
            status = wait_for("push status", lambda: (r := get(setup.base + "status.json"))
                              and r.status_code == 200 and r.json()["targets"] and r.json(),
                              service)
        finally:
            code = service.stop()
    assert code == 0, service.output()
    messages = telegram.messages(CHAT)
    assert len(messages) == 1, [m.text for m in messages]   # the stories already there: no flood
    assert messages[0].parse_mode == "HTML"
    target = status["targets"][0]
    assert target["target_id"] == "tg-en" and target["sent"] == 1
    assert TOKEN not in service.output()       # the secret never reaches the log
    assert TOKEN not in Path(setup.folder / "config.yaml").read_text()


def _first_seen(folder: Path, title: str) -> datetime | None:
    """When the service stored the story (the run's time, UTC), once it has."""
    with contextlib.closing(sqlite3.connect(folder / "store.db", timeout=5)) as db:
        row = db.execute("SELECT first_seen FROM items WHERE title = ?", (title,)).fetchone()
    return datetime.fromisoformat(row[0]).replace(tzinfo=UTC) if row else None


@pytest.mark.slow
def test_a_new_story_reaches_the_chat_within_15_s_despite_two_5xx(
        setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    with FakeTelegram(TOKEN) as telegram:
        text = setup.config.read_text()
        if "allow_private" not in text:         # the fixture site and the fake are loopback
            text = text.replace("fetch: {", "fetch: {allow_private: true, ")
        setup.config.write_text(text + _telegram_push(telegram.url))
        monkeypatch.setenv("TEST_BOT_TOKEN", TOKEN)
        service = setup.start("run")
        try:
            wait_for("the first poll in the served feed",
                     lambda: (text := feed(setup)) and "<item>" in text, service)
            telegram.fail_next(CHAT, 502, "Bad Gateway", times=2)
            publish_story(setup.site)
            wait_for("the new story in the channel",
                     lambda: any(NEW_TITLE in m.text for m in telegram.messages(CHAT)), service)
            delivered = datetime.now(UTC)
            stored = _first_seen(setup.folder, NEW_TITLE)
        finally:
            code = service.stop()
    assert code == 0, service.output()
    assert [r[1] for r in telegram.refusals] == [502, 502]
    assert stored is not None
    # The push job starts when the poll stored the story, and a 5xx is retried after ~1 s
    # and ~2 s: not at the next 10 s tick, and not after a 30 s backoff.
    assert (delivered - stored).total_seconds() < 15, service.output()
