"""Telegram delivery against the strict fake Bot API, with items from the real pipeline.

The demo site is fetched once per module into a template database whose deliveries are all
queued; each test works on a copy. Tests assert on what the fake accepted.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from conftest import Site, serve_site
from fake_telegram import FakeTelegram, parse_html
from push_support import TOKEN, copy_demo_site, fetch, retitle, telegram, with_targets

from syndicator.app import App, make_app
from syndicator.demo import demo_config_path, demo_site_root
from syndicator.push import dispatch_due, push_status, resume_target
from syndicator.push.telegram import TelegramClient
from syndicator.store import Store

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
UNUSED = "http://127.0.0.1:9"
SETUP = datetime(2000, 1, 1, tzinfo=UTC)


class Clock:
    """The fake's clock, moved by the tests together with the `now` they dispatch at."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@dataclass
class Demo:
    site: Site
    db: Path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("push-telegram")
    with serve_site(demo_site_root(), demo_config_path(), "SYNDICATOR_DEMO_URL",
                    folder) as site:
        db = folder / "template.db"
        config = with_targets(site.config,
                              telegram("tg", api_url=UNUSED, feeds=("office-all",), backfill=100),
                              telegram("tg2", api_url=UNUSED, backfill=100),
                              storage=f"sqlite:///{db}")
        with make_app(config) as app:
            fetch(app, "office-en", "office-ru", "office-be", "office-updates-en")
            assert len(app.store.deliveries("tg", states=["pending"])) == 38
        yield Demo(site, db)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tg(clock: Clock) -> Iterator[FakeTelegram]:
    with FakeTelegram(TOKEN, clock=clock) as fake:
        yield fake


def _app(demo: Demo, tmp_path: Path, *targets: dict[str, Any]) -> App:
    db = tmp_path / "store.db"
    shutil.copy(demo.db, db)
    return make_app(with_targets(demo.site.config, *targets, storage=f"sqlite:///{db}"))


def keep(app: App, target_id: str, count: int, *, where: str = "") -> list[str]:
    """Leave only `count` deliveries of the target queued (those whose item title contains
    `where`); the rest are suppressed. Returns the kept item ids."""
    rows = app.store.claim_deliveries(target_id, SETUP, "setup", lease=1e9, limit=1000)
    items = app.store.items_by_id(r.item_id for r in rows)
    kept: list[str] = []
    for row in rows:
        assert row.id is not None
        chosen = len(kept) < count and where in items[row.item_id].title
        app.store.finish_delivery(row.id, "setup", SETUP,
                                  state="pending" if chosen else "suppressed", attempts=0)
        if chosen:
            kept.append(row.item_id)
    return kept


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for something another thread does (not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def status(app: App, target_id: str) -> Any:
    return next(s for s in push_status(app.store, app.config) if s.target_id == target_id)


# --- the fake is as strict as the real API ------------------------------------------------

def test_the_fake_enforces_the_api_limits(tg: FakeTelegram) -> None:
    client = TelegramClient(tg.url, TOKEN, timeout=5)
    assert client.send_message("@c", "x" * 4096).ok
    assert client.send_message("@c", "😀" * 4096).ok          # code points, not UTF-16
    too_long = client.send_message("@c", "x" * 4097)
    assert (too_long.kind, too_long.description) == ("rejected",
                                                     "Bad Request: message is too long")
    assert client.send_message("@c", "&lt;" * 4096).ok         # counted after parsing
    assert client.send_message("@c", "  ").kind == "rejected"
    assert client.send_message("@c", "<p>x</p>").kind == "parse"
    assert client.send_message("@c", "a & b").kind == "parse"
    bad = TelegramClient(tg.url, "999:wrong", timeout=5).send_message("@c", "x")
    assert (bad.kind, bad.status) == ("blocked", 401)
    assert "wrong" not in repr(client) and TOKEN not in repr(client)
    sent = len(tg.messages("@c"))
    for _ in range(20 - sent):
        assert client.send_message("@c", "ok").ok
    limited = client.send_message("@c", "one too many")
    assert limited.kind == "retry_after" and limited.retry_after and limited.retry_after > 0
    assert client.send_message("@other", "other chats are not limited").ok
    assert len(tg.messages("@c")) == 20
    client.close()


# --- delivery ---------------------------------------------------------------------------

def test_items_reach_the_channel_as_telegram_html(demo: Demo, tmp_path: Path,
                                                  tg: FakeTelegram) -> None:
    with _app(demo, tmp_path, telegram("tg", api_url=tg.url, feeds=("office-all",))) as app:
        kept = keep(app, "tg", 3)
        report = dispatch_due(app, now=T0)
        assert report.sent == 3 and report.failed == report.dead == 0
        items = app.store.items_by_id(kept)
        accepted = tg.messages("@office_en")
        assert [m.method for m in accepted] == [
            "sendPhoto" if items[i].image else "sendMessage" for i in kept]
        assert "sendPhoto" in [m.method for m in accepted]
        for message, item_id in zip(accepted, kept, strict=True):
            item = items[item_id]
            assert message.photo == item.image and message.parse_mode == "HTML"
            assert message.text.startswith(item.title + "\n\n")
            assert item.url in message.text and "#News" in message.text
            assert message.raw.startswith(f'<b><a href="{item.url}">')
            assert len(message.text) <= (1024 if item.image else 4096)
            if not item.image:
                assert message.payload["link_preview_options"] == {"url": item.url}
        rows = app.store.deliveries("tg", states=["sent"])
        assert [r.message_ids for r in rows] == [("1",), ("2",), ("3",)]
        assert (status(app, "tg").sent, status(app, "tg").queued) == (3, 0)
        assert dispatch_due(app, now=T0 + timedelta(hours=1)).sent == 0   # nothing twice
        assert len(tg.accepted) == 3


def test_the_hostile_article_arrives_as_text_not_markup(demo: Demo, tmp_path: Path,
                                                        tg: FakeTelegram) -> None:
    template = tmp_path / "full.html.j2"
    template.write_text("<b>{{ item.title }}</b>\n\n{{ content }}\n\n{{ summary }}",
                        encoding="utf-8")
    with _app(demo, tmp_path,
              telegram("tg", api_url=tg.url, feeds=("office-all",)),
              telegram("tg2", api_url=tg.url, chat_id="@full", template=str(template))) as app:
        keep(app, "tg", 1, where="freedom")
        keep(app, "tg2", 1, where="freedom")
        assert dispatch_due(app, now=T0).sent == 2
    title = 'Statement on "freedom" & <rights> now'
    for message in tg.accepted:
        assert message.text.startswith(title)
        assert "&lt;rights&gt;" in message.raw
        for bad in ("<script", "alert(1)", "alert(2)", "tracker.example", "onerror", "<iframe",
                    "<img", "<p>", "<style", "display:none", "data:text", "<svg", "<form"):
            assert bad not in message.raw
        # Links survive only as http(s) URLs (the sanitiser resolved the rest as relative).
        assert all(href.startswith(("http://", "https://"))
                   for href in re.findall(r'href="([^"]*)"', message.raw))
        assert 'href="javascript' not in message.raw and 'href="data' not in message.raw
    full = tg.messages("@full")[0].text
    assert "Click to sign the appeal" in full and "• Release of everyone detained" in full


def test_pacing_keeps_a_chat_under_20_messages_a_minute(demo: Demo, tmp_path: Path,
                                                        tg: FakeTelegram, clock: Clock) -> None:
    with _app(demo, tmp_path, telegram("tg", api_url=tg.url, feeds=("office-all",))) as app:
        keep(app, "tg", 25)
        first = dispatch_due(app, now=T0)
        assert first.sent == 20 and first.target("tg").deferred
        assert dispatch_due(app, now=T0 + timedelta(seconds=30)).sent == 0
        assert status(app, "tg").queued == 5
        clock.t += 61
        assert dispatch_due(app, now=T0 + timedelta(seconds=61)).sent == 5
    assert len(tg.accepted) == 25 and tg.refusals == []   # never a 429


def test_429_waits_retry_after_for_that_chat_only(demo: Demo, tmp_path: Path,
                                                  tg: FakeTelegram) -> None:
    with _app(demo, tmp_path, telegram("tg", api_url=tg.url, feeds=("office-all",)),
              telegram("tg2", api_url=tg.url, chat_id="@other")) as app:
        keep(app, "tg", 2)
        keep(app, "tg2", 2)
        tg.fail_next("@office_en", 429, "Too Many Requests: retry after 35",
                     parameters={"retry_after": 35})
        report = dispatch_due(app, now=T0)
        assert report.target("tg").sent == 0 and report.target("tg").deferred
        assert report.target("tg2").sent == 2                       # other chats go on
        [held, _] = app.store.deliveries("tg", states=["pending"])
        assert held.next_at == T0 + timedelta(seconds=35) and held.attempts == 0
        assert status(app, "tg").hold_until == T0 + timedelta(seconds=35)
        assert dispatch_due(app, now=T0 + timedelta(seconds=20)).sent == 0
        assert len(tg.requests) == 3
        assert dispatch_due(app, now=T0 + timedelta(seconds=36)).sent == 2
    assert len(tg.messages("@office_en")) == 2


def test_server_errors_retry_with_backoff_then_give_up(demo: Demo, tmp_path: Path,
                                                       tg: FakeTelegram) -> None:
    with _app(demo, tmp_path, telegram("tg", api_url=tg.url, feeds=("office-all",),
                                       max_attempts=3)) as app:
        keep(app, "tg", 2)
        tg.fail_next("@office_en", 502, "Bad Gateway", times=3)   # the send + 2 quick retries
        report = dispatch_due(app, now=T0)
        assert (report.failed, report.sent) == (1, 0)     # stops the target: API is failing
        [row, _] = app.store.deliveries("tg", states=["failed", "pending"])
        assert row.state == "failed" and row.next_at == T0 + timedelta(seconds=30)
        assert "502 Bad Gateway" in (row.error or "")
        assert dispatch_due(app, now=T0 + timedelta(seconds=10)).sent == 1  # the other one
        assert dispatch_due(app, now=T0 + timedelta(seconds=31)).sent == 1
    with _app(demo, tmp_path, telegram("tg", api_url="http://127.0.0.1:9",
                                       feeds=("office-all",), max_attempts=2)) as app:
        keep(app, "tg", 1)
        assert dispatch_due(app, now=T0).failed == 1      # nothing listens: connect error
        report = dispatch_due(app, now=T0 + timedelta(hours=1))
        assert report.dead == 1
        [dead] = app.store.deliveries("tg", states=["dead"])
        assert "gave up after 2 attempts" in (dead.error or "")
        assert TOKEN not in (dead.error or "")
    assert len(tg.accepted) == 2


def test_two_transient_errors_delay_a_message_by_seconds(demo: Demo, tmp_path: Path,
                                                         tg: FakeTelegram) -> None:
    with _app(demo, tmp_path, telegram("tg", api_url=tg.url, feeds=("office-all",))) as app:
        keep(app, "tg", 1)
        tg.fail_next("@office_en", 502, "Bad Gateway", times=2)
        started = time.monotonic()
        report = dispatch_due(app, now=T0)
        took = time.monotonic() - started
        assert (report.sent, report.failed) == (1, 0)
        [row] = app.store.deliveries("tg", states=["sent"])
        assert row.attempts == 1                          # quick retries are not attempts
    assert [r[1] for r in tg.refusals] == [502, 502]
    assert len(tg.accepted) == 1
    # ~1 s then ~2 s (±25 %), not the 30 s of the first backoff
    assert 0.75 + 1.5 <= took < 15


def test_a_read_timeout_is_unknown_and_never_resent(demo: Demo, tmp_path: Path,
                                                    tg: FakeTelegram) -> None:
    with _app(demo, tmp_path, telegram("tg", api_url=tg.url, feeds=("office-all",),
                                       timeout=0.3)) as app:
        keep(app, "tg", 2)
        tg.stall_next(1.0)
        report = dispatch_due(app, now=T0)
        assert (report.unknown, report.sent) == (1, 1)
        assert dispatch_due(app, now=T0 + timedelta(days=1)).sent == 0
        assert status(app, "tg").unknown == 1
        wait_for(lambda: len(tg.accepted) == 2)
    # The stalled one did arrive after all: resending it would have doubled it.
    assert len(tg.accepted) == 2


def test_refused_html_is_resent_once_as_plain_text(demo: Demo, tmp_path: Path,
                                                   tg: FakeTelegram) -> None:
    template = tmp_path / "bad.html.j2"
    template.write_text("<p>{{ item.title }}</p><br>{{ item.url }}", encoding="utf-8")
    with _app(demo, tmp_path, telegram("tg", api_url=tg.url, feeds=("office-all",),
                                       template=str(template))) as app:
        keep(app, "tg", 1, where="freedom")
        report = dispatch_due(app, now=T0)
        assert report.sent == 1
    [(_, status_code, description)] = tg.refusals
    assert status_code == 400 and description.startswith("Bad Request: can't parse entities")
    [message] = tg.accepted
    assert message.parse_mode is None
    assert message.text.startswith('Statement on "freedom" & <rights> now')


def test_a_migrated_group_is_followed_and_remembered(demo: Demo, tmp_path: Path,
                                                     tg: FakeTelegram) -> None:
    tg.migrated["-4001"] = "-1004001"
    with _app(demo, tmp_path, telegram("tg", api_url=tg.url, feeds=("office-all",),
                                       chat_id="-4001")) as app:
        keep(app, "tg", 2)
        assert dispatch_due(app, now=T0).sent == 2
        assert status(app, "tg").chat_id == "-1004001"
    assert len(tg.messages("-1004001")) == 2
    assert [p["chat_id"] for _, p in tg.requests] == ["-4001", "-1004001", "-1004001"]


@pytest.mark.parametrize(("fault", "reason"), [
    ("kicked", "403 Forbidden: bot was kicked from the channel chat"),
    ("missing", "400 Bad Request: chat not found"),
    ("token", "401 Unauthorized"),
])
def test_a_chat_we_cannot_post_to_pauses_the_target(demo: Demo, tmp_path: Path,
                                                    tg: FakeTelegram, fault: str,
                                                    reason: str) -> None:
    if fault == "kicked":
        tg.kicked.add("@office_en")
    elif fault == "missing":
        tg.missing.add("@office_en")
    else:
        tg.token = "other:token"
    with _app(demo, tmp_path, telegram("tg", api_url=tg.url, feeds=("office-all",)),
              telegram("tg2", api_url=tg.url, chat_id="@other")) as app:
        keep(app, "tg", 2)
        keep(app, "tg2", 1)
        report = dispatch_due(app, now=T0)
        assert report.target("tg").paused == reason
        shown = status(app, "tg")
        assert shown.paused and shown.paused_reason == reason and shown.queued == 2
        requests = len(tg.requests)
        assert dispatch_due(app, now=T0 + timedelta(hours=1)).target("tg").paused == reason
        assert len(tg.requests) == requests      # a paused target sends nothing
        tg.kicked.clear()
        tg.missing.clear()
        tg.token = TOKEN
        resume_target(app, "tg")
        assert dispatch_due(app, now=T0 + timedelta(hours=2)).target("tg").sent == 2
    assert len(tg.messages("@office_en")) == 2


def test_an_image_telegram_cannot_fetch_is_sent_as_text(demo: Demo, tmp_path: Path,
                                                        tg: FakeTelegram) -> None:
    def no_images(handler: BaseHTTPRequestHandler, path: str) -> bool:
        if not path.startswith("/wp-content/uploads/"):
            return False
        handler.send_response(404)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return True

    demo.site.server.hook = no_images
    try:
        with _app(demo, tmp_path, telegram("tg", api_url=tg.url, feeds=("office-all",))) as app:
            [item_id] = keep(app, "tg", 1)
            report = dispatch_due(app, now=T0)
            item = app.store.items_by_id([item_id])[item_id]
    finally:
        demo.site.server.hook = None
    assert report.sent == 1 and report.target("tg").notes
    assert [r[2] for r in tg.refusals] == ["Bad Request: failed to get HTTP URL content"]
    [message] = tg.accepted
    assert message.method == "sendMessage" and message.text.startswith(item.title)
    assert message.payload["link_preview_options"] == {"url": item.url}


def test_a_long_post_is_split_into_parts_in_order(demo: Demo, tmp_path: Path,
                                                  tg: FakeTelegram) -> None:
    template = tmp_path / "long.html.j2"
    template.write_text("<b>{{ item.title }}</b>\n\n{% for n in range(6) %}<i>Part {{ n }}</i>"
                        "\n\n{{ content }}\n\n{% endfor %}{{ item.url }}", encoding="utf-8")
    with _app(demo, tmp_path, telegram("tg", api_url=tg.url, feeds=("office-all",),
                                       template=str(template))) as app:
        [item_id] = keep(app, "tg", 1)
        assert dispatch_due(app, now=T0).sent == 1
        [row] = app.store.deliveries("tg", states=["sent"])
        item = app.store.items_by_id([item_id])[item_id]
    accepted = tg.accepted
    assert len(accepted) >= 3 and len(row.message_ids) == len(accepted)
    assert accepted[0].method == "sendPhoto" and len(accepted[0].text) <= 1024
    assert all(m.method == "sendMessage" and len(m.text) <= 4096 for m in accepted[1:])
    assert accepted[0].text.startswith(item.title)
    assert accepted[-1].text.endswith(item.url)
    shown = "\n\n".join(m.text for m in accepted)
    assert [n for n in range(6) if f"Part {n}" in shown] == list(range(6))
    assert all(parse_html(m.raw) == m.text for m in accepted)


def test_a_later_job_counts_the_parts_an_earlier_one_sent_to_the_chat(
        demo: Demo, tmp_path: Path, tg: FakeTelegram) -> None:
    template = tmp_path / "long.html.j2"
    template.write_text("<b>{{ item.title }}</b>\n\n{% for n in range(3) %}<i>Part {{ n }}</i>"
                        "\n\n{{ content }}\n\n{% endfor %}{{ item.url }}", encoding="utf-8")
    with _app(demo, tmp_path, telegram("tg", api_url=tg.url, feeds=("office-all",),
                                       template=str(template))) as app:
        keep(app, "tg", 12)
        first = dispatch_due(app, now=T0)
        assert first.target("tg").deferred and len(tg.accepted) == 20
        # Another process (a `syndicator push` after `run`): its window starts from the
        # claims in the store, each as many messages as the delivery sent.
        with make_app(app.config) as later:
            assert dispatch_due(later, now=T0 + timedelta(seconds=30)).sent == 0
    assert len(tg.accepted) == 20 and tg.refusals == []


def test_concurrent_push_jobs_never_send_a_delivery_twice(demo: Demo, tmp_path: Path,
                                                          tg: FakeTelegram) -> None:
    with _app(demo, tmp_path, telegram("tg", api_url=tg.url, feeds=("office-all",))) as app:
        kept = keep(app, "tg", 18)
        errors: list[BaseException] = []

        def job() -> None:
            try:
                dispatch_due(app, now=T0)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=job) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert status(app, "tg").sent == 18
        items = app.store.items_by_id(kept)
    titles = [m.text.split("\n")[0] for m in tg.accepted]
    assert sorted(titles) == sorted(items[i].title for i in kept)


# --- edits -------------------------------------------------------------------------------

@pytest.mark.parametrize("on_update", ["ignore", "edit"])
def test_an_edited_item_is_not_pushed_again_or_edited_in_place(
        tmp_path: Path, tg: FakeTelegram, on_update: str) -> None:
    root = copy_demo_site(tmp_path)
    old = "Office hosts open consultation on document renewal for Belarusians abroad"
    new = "Office hosts an open consultation on renewing documents abroad"
    with serve_site(root, demo_config_path(), "SYNDICATOR_DEMO_URL", tmp_path) as site:
        config = with_targets(site.config, telegram(api_url=tg.url, backfill=1,
                                                    on_update=on_update))
        with make_app(config) as app:
            fetch(app, "office-en")
            assert dispatch_due(app, now=T0).sent == 1
            retitle(root, old, new)
            [result] = fetch(app, "office-en")
            assert result.updated == 1 and result.new == 0
            report = dispatch_due(app, now=T0 + timedelta(minutes=5))
            assert status(app, "tg-en").sent == 1
    [message] = tg.accepted
    if on_update == "ignore":
        assert report.sent == 0 and report.target("tg-en").edited == 0
        assert message.text.startswith(old) and message.edits == []
    else:
        assert report.target("tg-en").edited == 1
        assert message.text.startswith(new) and len(message.edits) == 1
        assert [m for m, _ in tg.requests] == ["sendPhoto", "editMessageCaption"]


def test_claims_are_atomic_on_the_store(tmp_path: Path) -> None:
    """The claim itself, hammered from threads (PostgreSQL: tests/test_push_outbox.py)."""
    store = Store(f"sqlite:///{tmp_path / 'claims.db'}")
    try:
        from test_push_outbox import hammer_claims

        hammer_claims(store)
    finally:
        store.close()
