"""Politeness and pacing that hold across instances on one PostgreSQL database.

Real processes share the machine's PostgreSQL: two fetching one host through a server that
records when each request starts and how many are in flight; two sending to the strict
fake Telegram (tests/fake_telegram.py). The rate state itself (store/rates.py) is checked
directly: reservations, slots, a slot freed by a process killed with -9, an unreachable
database.
"""

from __future__ import annotations

import itertools
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fake_telegram import FakeTelegram
from push_support import SECRET, TOKEN, fetch
from sqlalchemy import text
from sqlalchemy.engine import make_url
from test_push_telegram import wait_for

from syndicator.app import App, make_app
from syndicator.config import FetchConfig, load_config, parse_config
from syndicator.demo import demo_config_path, demo_site_root
from syndicator.demo.server import SiteServer
from syndicator.errors import DeadlineExceeded, StoreError
from syndicator.fetch import Fetcher
from syndicator.politeness import SLOT_WAIT_MAX, ClusterGates, Reservation
from syndicator.push.pacing import CLUSTER_OVERALL, PER_CHAT, ClusterPace
from syndicator.push.telegram import TelegramClient
from syndicator.service import Service
from syndicator.store import Store
from syndicator.store.database import unpooled_engine
from syndicator.store.rates import DatabaseRates
from tests.pgproxy import PgProxy
from tests.postgres_support import postgres_database

# A start is reserved on the database's clock and slept for here; the server stamps it when it
# accepts the connection, whenever a busy machine lets its thread run.
CLOCK_TOLERANCE = 0.1
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:9/nothing?connect_timeout=5"


@pytest.fixture
def pg_url() -> Iterator[str]:
    for url in postgres_database():
        Store(url).close()          # the schema, before any process uses it
        yield url


# --- the shared rate state -----------------------------------------------------------------

@pytest.mark.postgres
def test_reservations_keep_limit_starts_in_any_window_across_connections(pg_url: str) -> None:
    one, two = DatabaseRates(pg_url), DatabaseRates(pg_url)
    try:
        firsts = [rates.reserve("k", 3, 30.0) for rates in (one, two, one)]
        assert all(r.taken and r.wait < 1.0 for r in firsts)
        fourth = two.reserve("k", 3, 30.0)          # the oldest of the three plus the window
        assert fourth.taken and 28.0 < fourth.wait <= 30.0
        refused = one.reserve("k", 3, 30.0, max_wait=0.0)
        assert not refused.taken and 28.0 < refused.wait <= 30.0
        assert 28.0 < one.wait_time("k", 3, 30.0) <= 30.0
        fifth = one.reserve("k", 3, 30.0)           # the refusal took nothing
        assert fifth.taken and refused.wait - 1.0 < fifth.wait <= 30.0
        assert two.wait_time("other", 3, 30.0) == 0.0
        # A minimum delay is the same with one start per window.
        assert one.reserve("host:h", 1, 5.0).wait < 1.0
        assert 4.0 < two.reserve("host:h", 1, 5.0).wait <= 5.0
        # Rate state: no commit waits for the WAL. Asked on a connection of its own: the
        # rate state's pool is its one long-lived connection.
        plain = unpooled_engine(pg_url)
        try:
            with plain.connect() as conn:
                assert conn.execute(text("SELECT relpersistence FROM pg_class "
                                         "WHERE relname = 'pacing'")).scalar() == "u"
        finally:
            plain.dispose()
    finally:
        one.close()
        two.close()


@pytest.mark.postgres
def test_the_hourly_prune_deletes_rate_rows_unused_for_a_day(pg_url: str,
                                                            tmp_path: Path) -> None:
    config = parse_config(f'storage: "{pg_url}"\nsources: []\nfeeds: []\n',
                          base_dir=tmp_path)
    with make_app(config) as app:
        rates = app.rates
        assert rates is not None
        for key in ("host:old.example", "chat:bot1:@old", "host:new.example"):
            rates.reserve(key, 3, 60.0)
        with app.store.engine.begin() as conn:     # their latest starts a day and more ago
            conn.execute(text("UPDATE pacing SET starts = ARRAY[starts[1] - 90000] "
                              "WHERE key LIKE '%old%'"))
            conn.execute(text("UPDATE pacing SET starts = ARRAY[starts[1] - 80000] "
                              "WHERE key = 'host:new.example'"))
        Service(app).prune()
        with app.store.engine.connect() as conn:
            left = conn.execute(text("SELECT key FROM pacing")).scalars().all()
        assert left == ["host:new.example"]
        assert rates.reserve("host:old.example", 1, 5.0).wait == 0.0   # as a new host


HOLD = """
import sys, time
from syndicator.store.rates import DatabaseRates
rates = DatabaseRates(sys.argv[1])
assert rates.acquire("host:held", 1, 0.0) is not None      # slot 0, the only one of 1
print("held", flush=True)
time.sleep(120)
"""


@pytest.mark.postgres
def test_a_slot_has_one_holder_and_is_freed_when_its_process_dies(pg_url: str) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, pg_url], stdout=subprocess.PIPE,
                              text=True)
    rates = DatabaseRates(pg_url)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert rates.acquire("host:held", 1, 0.0) is None
        token = rates.acquire("host:held", 2, 0.0)           # slot 1, the one left of 2
        assert token is not None
        holder.kill()
        holder.wait()
        wait_for(lambda: rates.acquire("host:held", 1, 0.0) is not None, timeout=60.0)
        rates.release("host:held", token)
        other = DatabaseRates(pg_url)
        try:
            assert other.acquire("host:held", 2, 0.0) is not None   # slot 1
            assert other.acquire("host:held", 1, 0.0) is None       # slot 0: still ours
        finally:
            other.close()
    finally:
        holder.kill()
        holder.communicate()
        rates.close()


class _Taken:
    """SharedRates whose slots another instance holds for good: every wait runs out."""

    def __init__(self) -> None:
        self.timeouts: list[float] = []

    def acquire(self, key: str, limit: int, timeout: float) -> object | None:
        self.timeouts.append(timeout)
        return None

    def reserve(self, key: str, limit: int, window: float, *,
                max_wait: float | None = None) -> Reservation:
        raise AssertionError("no start without a slot")

    def wait_time(self, key: str, limit: int, window: float) -> float:
        raise AssertionError("not asked by the gates")

    def release(self, key: str, token: object) -> None:
        raise AssertionError("nothing was taken")

    def close(self) -> None:
        """Nothing to close."""


def test_waiting_for_a_hosts_shared_slot_is_bounded_by_the_wait_cap_and_the_deadline() -> None:
    rates = _Taken()
    gates = ClusterGates(rates, monotonic=lambda: 1000.0)
    with pytest.raises(DeadlineExceeded, match=r"news\.example: no request slot free within "
                       r"300 s \(per_host 2, shared by every instance\)"), \
            gates.slot("news.example", 2, 1.0):
        raise AssertionError("entered without a slot")
    with pytest.raises(DeadlineExceeded, match=r"news\.example: not fetched: the source run's "
                       r"deadline \(fetch.run_deadline\) passed while waiting for a request "
                       r"slot \(per_host 2\)"), \
            gates.slot("news.example", 2, 1.0, deadline=1030.0):
        raise AssertionError("entered without a slot")
    with pytest.raises(DeadlineExceeded, match="source run's deadline"), \
            gates.slot("news.example", 2, 1.0, deadline=990.0):
        raise AssertionError("entered without a slot")
    # The wait is the cap, or what is left before the deadline; a deadline past still asks
    # for a slot free at once.
    assert rates.timeouts == [SLOT_WAIT_MAX, 30.0, 0.0]


@pytest.mark.postgres
def test_a_message_does_not_wait_long_for_a_busy_bot(pg_url: str) -> None:
    rates = DatabaseRates(pg_url)
    slept: list[float] = []
    pace = ClusterPace(rates, "bot1", "bot1:@c", sleep=slept.append)
    try:
        assert pace.take() == 0.0 and pace.ready() == 0.0
        for _ in range(50):          # other instances took the bot's next two seconds
            rates.reserve("bot:bot1", 1, 1 / CLUSTER_OVERALL)
        wait = pace.take()
        assert 1.0 < wait <= 2.1 and slept == []
        assert rates.wait_time("chat:bot1:@c", PER_CHAT, 60.0) == 0.0
        starts = [r.wait for r in (rates.reserve("chat:bot1:@c", PER_CHAT, 60.0,
                                                 max_wait=0.0) for _ in range(PER_CHAT))]
        assert starts[:PER_CHAT - 1] == [0.0] * (PER_CHAT - 1)   # one went to the first take
    finally:
        rates.close()


def test_an_unreachable_database_is_a_store_error_from_the_gate() -> None:
    rates = DatabaseRates(UNREACHABLE)
    try:
        with pytest.raises(StoreError, match="cannot reserve a start for host:h"):
            rates.reserve("host:h", 1, 1.0)
        with pytest.raises(StoreError, match="cannot take a slot of host:h"):
            rates.acquire("host:h", 1, 5.0)
        with Fetcher(gates=ClusterGates(rates)) as fetcher, \
                pytest.raises(StoreError, match=r"cannot take a slot of host:127\.0\.0\.1"):
            fetcher.get("http://127.0.0.1:9/", FetchConfig(allow_private=True, robots=False))
    finally:
        rates.close()


@pytest.mark.postgres
def test_the_gates_database_lost_mid_poll_is_one_outage_line_not_a_failed_run(
        pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    parsed = make_url(pg_url)
    config = parse_config(
        f'storage: "{pg_url}"\nfetch: {{delay: 0.1s, retries: 0, allow_private: true}}\n'
        "sources:\n"
        '  - {id: wire, type: feed, url: "http://127.0.0.1:9/feed.xml", schedule: {every: 1m}}\n'
        "feeds:\n  - {id: wire, title: Wire, sources: [wire]}\n", base_dir=tmp_path)
    with PgProxy((parsed.host or "127.0.0.1", parsed.port or 5432)) as proxy:
        # The store direct, the shared rate state through the proxy: only the gate loses it.
        rates = DatabaseRates(parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False))
        with App(config, Store(pg_url), rates=rates) as app:
            service = Service(app)
            assert service.poll("wire") is not None          # the fetch fails, as it should
            proxy.stop()
            caplog.clear()
            with caplog.at_level(logging.INFO):
                assert service.poll("wire") is None
                assert service.poll("wire") is None
                down = [r for r in caplog.records if r.levelno >= logging.WARNING]
                proxy.start()
                back = service.poll("wire")
            runs = app.store.runs("wire")
    assert len(down) == 1 and down[0].exc_info is None and "Traceback" not in caplog.text
    assert "is unavailable" in down[0].getMessage()
    assert back is not None and not back.ok and "127.0.0.1:9" in " ".join(back.errors)
    assert len(runs) == 2 and all("connection failed" in " ".join(r.errors) for r in runs)


@pytest.mark.postgres
def test_a_request_through_the_shared_gate_costs_three_round_trips(pg_url: str) -> None:
    parsed = make_url(pg_url)
    with PgProxy((parsed.host or "127.0.0.1", parsed.port or 5432)) as proxy:
        rates = DatabaseRates(parsed.set(host="127.0.0.1", port=proxy.port,
                                         query={"sslmode": "disable"})
                              .render_as_string(hide_password=False))
        gates = ClusterGates(rates)
        try:
            for _ in range(6):     # connects; the driver prepares statements used 5 times
                with gates.slot("example.org", 2, 0.001):
                    pass
            before = proxy.counts()
            for _ in range(10):
                with gates.slot("example.org", 2, 0.001):
                    pass
            spent = proxy.counts() - before
        finally:
            rates.close()
    # Take a slot, reserve the start, give the slot back: one statement each.
    assert spent["E"] + spent["Q"] == 30 and spent["S"] + spent["Q"] == 30, spent


# --- two processes fetching one host ---------------------------------------------------------

class _Recorder(ThreadingHTTPServer):
    """Records when each request starts and the most requests ever in flight at once."""

    daemon_threads = True

    def __init__(self, takes: float) -> None:
        super().__init__(("127.0.0.1", 0), _RecordingHandler)
        self.takes = takes
        self.lock = threading.Lock()
        self.accepted: list[float] = []
        self.paths: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def process_request(self, request: Any, client_address: Any) -> None:
        # Stamped on accepting (every request comes on a new connection: the answers are
        # HTTP/1.0), before a thread is started for it.
        self.accepted.append(time.monotonic())
        super().process_request(request, client_address)


class _RecordingHandler(BaseHTTPRequestHandler):
    server: _Recorder

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        recorder = self.server
        with recorder.lock:
            recorder.paths.append(self.path)
            recorder.in_flight += 1
            recorder.most_in_flight = max(recorder.most_in_flight, recorder.in_flight)
        try:
            time.sleep(recorder.takes)     # a request takes a while: overlaps would show
            body = f"<html><body>{self.path}</body></html>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        finally:
            with recorder.lock:
                recorder.in_flight -= 1


FETCH = """
import sys
from concurrent.futures import ThreadPoolExecutor
from sqlalchemy.engine import make_url

from syndicator.app import App, make_app
from syndicator.config import load_config
config = load_config(sys.argv[1])
with make_app(config) as app:
    settings = config.fetch_for(config.sources[0])
    with ThreadPoolExecutor(3) as pool:
        pages = list(pool.map(lambda url: app.fetcher.get(url, settings), sys.argv[2:]))
print(len(pages), flush=True)
"""


@pytest.mark.postgres
@pytest.mark.parametrize(("per_host", "delay", "takes"), [(1, 0.3, 0.05), (2, 0.0, 0.2)])
def test_two_processes_fetching_one_host_keep_its_limit_and_delay(
        pg_url: str, tmp_path: Path, per_host: int, delay: float, takes: float) -> None:
    with _Recorder(takes) as server:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        config = tmp_path / "config.yaml"
        config.write_text(
            f'storage: "{pg_url}"\n'
            f"fetch: {{delay: {delay}s, per_host: {per_host}, allow_private: true, "
            "robots: false, retries: 0}\n"
            "sources:\n"
            f'  - {{id: site, type: feed, url: "{server.url}/feed.xml", '
            "schedule: {every: 1h}}\n"
            "feeds:\n  - {id: site, title: Site, sources: [site]}\n", encoding="utf-8")
        processes = [subprocess.Popen(
            [sys.executable, "-c", FETCH, str(config),
             *(f"{server.url}/{name}/{n}" for n in range(10))],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in "ab"]
        outputs = [p.communicate(timeout=180) for p in processes]
        server.shutdown()
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
        assert out.strip() == "10"
    assert len(server.accepted) == len(server.paths) == 20
    assert {path.split("/")[1] for path in server.paths} == {"a", "b"}
    assert server.most_in_flight == per_host     # each process alone would take as many
    if delay:
        gaps = [later - earlier for earlier, later in itertools.pairwise(server.accepted)]
        assert min(gaps) >= delay - CLOCK_TOLERANCE, gaps


# --- two processes sending to Telegram -------------------------------------------------------

CHATS = ("@c1", "@c2", "@c3", "@c4")


def test_the_fake_refuses_a_31st_message_a_second_per_bot_with_retry_after() -> None:
    now = 500.0
    with FakeTelegram(TOKEN, clock=lambda: now) as tg:
        client = TelegramClient(tg.url, TOKEN, timeout=5)
        for n in range(30):
            assert client.send_message(f"@chat{n}", "one each").ok
        limited = client.send_message("@chat30", "one too many for the bot")
        assert limited.kind == "retry_after" and limited.retry_after == 1
        now += 1.0
        assert client.send_message("@chat30", "a second later").ok
        client.close()
    assert len(tg.accepted) == 31 and tg.refusals == [
        ("sendMessage", 429, "Too Many Requests: retry after 1")]


@pytest.mark.postgres
def test_two_processes_sending_to_one_chat_never_draw_a_429(pg_url: str,
                                                            tmp_path: Path) -> None:
    with SiteServer(demo_site_root()) as site, FakeTelegram(TOKEN) as tg:
        text = demo_config_path().read_text(encoding="utf-8").replace(
            '"sqlite:///syndicator-demo.db"', f'"{pg_url}"')
        text += "\nsecret_key: {env: SYNDICATOR_SECRET}\n\npush:\n" + "".join(
            f"  - {{id: tg{n}, type: telegram, feeds: [office-all], chat_id: \"{chat}\", "
            f"token: {{env: TG_TOKEN}}, api_url: \"{tg.url}\", backfill: 100}}\n"
            for n, chat in enumerate(CHATS))
        path = tmp_path / "config.yaml"
        path.write_text(text, encoding="utf-8")
        env = {**os.environ, "SYNDICATOR_DEMO_URL": site.url, "TG_TOKEN": TOKEN,
               "SYNDICATOR_SECRET": SECRET}
        with make_app(load_config(path, env=env)) as app:
            fetch(app, "office-en", "office-ru", "office-be", "office-updates-en")
            queued = [len(app.store.deliveries(f"tg{n}", states=["pending"]))
                      for n in range(len(CHATS))]
        assert min(queued) > 20      # more than a chat may get in a minute
        command = [sys.executable, "-m", "syndicator", "--config", str(path), "push"]
        # Two instances at once, then one more after them.
        together = [subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [p.communicate(timeout=180) for p in together]
        after = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True,
                               timeout=180)
        accepted = {chat: len(tg.messages(chat)) for chat in CHATS}
        refusals = list(tg.refusals)
    for process, (_out, err) in zip(together, outputs, strict=True):
        assert process.returncode == 0, err
    assert after.returncode == 0, after.stderr
    assert refusals == []                            # never a 429, per chat or per bot
    assert accepted == dict.fromkeys(CHATS, 20)      # each chat full for this minute
    assert "more due later" in after.stdout
