"""The outbox: which items become deliveries, decided and written with the item itself.

Items come from the real pipeline run against a copy of the demo site on loopback; new
stories are published on that copy between runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Site, serve_site
from push_support import copy_demo_site, fetch, publish, telegram, with_targets

from syndicator.app import App, make_app
from syndicator.demo import demo_config_path
from syndicator.errors import StoreError
from syndicator.model import Delivery, Item, OutboxHook, OutboxPlan, OutboxView, RunResult
from syndicator.push import push_status
from syndicator.store import Store

API = "http://127.0.0.1:9"   # never called in these tests


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    root = copy_demo_site(tmp_path)
    with serve_site(root, demo_config_path(), "SYNDICATOR_DEMO_URL", tmp_path) as served:
        yield served


@pytest.fixture
def root(site: Site, tmp_path: Path) -> Path:
    return tmp_path / "site"


def _app(site: Site, *targets: dict[str, object]) -> App:
    return make_app(with_targets(site.config, *targets))


def _queued(app: App, target_id: str) -> list[Item]:
    rows = app.store.deliveries(target_id, states=["pending"])
    items = app.store.items_by_id(r.item_id for r in rows)
    return [items[r.item_id] for r in rows]


def test_first_run_is_suppressed_and_later_news_goes_out(site: Site, root: Path) -> None:
    with _app(site, telegram(api_url=API)) as app:
        [result] = fetch(app, "office-en")
        assert result.new == 15
        [status] = push_status(app.store, app.config)
        assert (status.queued, status.suppressed) == (0, 15)   # no flood on first sight
        publish(root, "n1", "Office opens a new help desk")
        publish(root, "n2", "Second new story")
        [result] = fetch(app, "office-en")
        assert result.new == 2
        queued = _queued(app, "tg-en")
        assert sorted(i.title for i in queued) == ["Office opens a new help desk",
                                                   "Second new story"]
        assert push_status(app.store, app.config)[0].queued == 2


def test_backfill_sends_the_newest_items_of_the_first_run(site: Site) -> None:
    with _app(site, telegram(api_url=API, backfill=3)) as app:
        fetch(app, "office-en")
        queued = _queued(app, "tg-en")
        newest = app.store.latest(["office-en"], limit=3)
        assert {i.id for i in queued} == {i.id for i in newest}
        assert [i.published for i in queued] == sorted(i.published for i in queued)  # oldest 1st
        assert push_status(app.store, app.config)[0].suppressed == 12


def test_a_target_added_later_gets_only_news_and_its_backfill(site: Site, root: Path) -> None:
    with make_app(site.config) as app:        # no push targets yet
        fetch(app, "office-en")
    with _app(site, telegram(api_url=API, backfill=2)) as app:
        fetch(app, "office-en")               # nothing new: nothing queued, nothing primed
        assert _queued(app, "tg-en") == []
        newest_two = {i.title for i in app.store.latest(["office-en"], limit=2)}
        publish(root, "n1", "Brand new story")
        fetch(app, "office-en")
        titles = {i.title for i in _queued(app, "tg-en")}
        assert titles == {"Brand new story", *newest_two}
        assert push_status(app.store, app.config)[0].suppressed == 0


def test_a_re_enabled_target_does_not_flood(site: Site, root: Path) -> None:
    target = telegram(api_url=API)
    with _app(site, target) as app:
        fetch(app, "office-en")
    with _app(site, {**target, "enabled": False}) as app:
        publish(root, "n1", "Published while the target was off")
        fetch(app, "office-en")
    with _app(site, target) as app:
        publish(root, "n2", "Published after it came back")
        fetch(app, "office-en")
        assert [i.title for i in _queued(app, "tg-en")] == ["Published after it came back"]


def test_keyword_filters_of_the_target(site: Site, root: Path) -> None:
    target = telegram(api_url=API, include=["scholarship|consultation", "help desk"],
                      exclude=["families"])
    with _app(site, target, telegram("tg-all", api_url=API)) as app:
        fetch(app, "office-en")
        publish(root, "n1", "New scholarship round for students")
        publish(root, "n2", "Help desk for families of political prisoners")
        publish(root, "n3", "Weekly results")
        publish(root, "n4", "Consultation: #News category", summary="On documents.")
        fetch(app, "office-en")
        assert sorted(i.title for i in _queued(app, "tg-en")) == [
            "Consultation: #News category", "New scholarship round for students"]
        assert len(_queued(app, "tg-all")) == 4


def test_only_the_target_feeds_sources(site: Site, root: Path) -> None:
    with _app(site, telegram(api_url=API, feeds=("office-ru",))) as app:
        fetch(app, "office-en")
        publish(root, "n1", "English story")
        fetch(app, "office-en")
        assert app.store.deliveries("tg-en") == []


def _run(source_id: str = "office-en") -> RunResult:
    from datetime import UTC, datetime

    now = datetime(2025, 11, 1, tzinfo=UTC)
    return RunResult(source_id=source_id, started=now, finished=now, ok=True)


def _item(item_id: str) -> Item:
    from datetime import UTC, datetime

    when = datetime(2025, 11, 1, tzinfo=UTC)
    return Item(id=item_id, source_id="office-en", url=f"https://example.org/{item_id}",
                title=item_id, published=when, updated=when)


def test_deliveries_are_written_in_the_item_transaction(site: Site) -> None:
    with make_app(site.config) as app:
        def broken(view: OutboxView) -> OutboxPlan:
            raise RuntimeError("outbox bug")

        hook = OutboxHook(targets=("t",), subscriber_targets=(), history=1, decide=broken)
        with pytest.raises(RuntimeError):
            app.store.save_run(_run(), [_item("a")], [], outbox=hook)
        assert app.store.count_items() == 0 and app.store.runs() == []

        # A delivery the database refuses (an unknown item) takes the items down with it.
        def dangling(view: OutboxView) -> OutboxPlan:
            return OutboxPlan(deliveries=(Delivery(item_id="nope", target_id="t"),))

        hook = OutboxHook(targets=("t",), subscriber_targets=(), history=1, decide=dangling)
        with pytest.raises(StoreError):
            app.store.save_run(_run(), [_item("a")], [], outbox=hook)
        assert app.store.count_items() == 0 and app.store.deliveries() == []

        def good(view: OutboxView) -> OutboxPlan:
            assert [i.id for i in view.new] == ["a"] and view.history == ()
            return OutboxPlan(deliveries=(Delivery(item_id="a", target_id="t"),))

        hook = OutboxHook(targets=("t",), subscriber_targets=(), history=1, decide=good)
        app.store.save_run(_run(), [_item("a")], [], outbox=hook)
        assert [d.item_id for d in app.store.deliveries("t")] == ["a"]
        assert app.store.count_items() == 1


# --- claims: atomic on SQLite and PostgreSQL -------------------------------------------------

def hammer_claims(store: Store, *, rows: int = 60, workers: int = 6) -> None:
    """Claim from several threads until nothing is left: every row exactly once."""
    from datetime import UTC, datetime

    items = [_item(f"item-{n:03d}") for n in range(rows)]

    def all_of_them(view: OutboxView) -> OutboxPlan:
        return OutboxPlan(deliveries=tuple(Delivery(item_id=i.id, target_id="t")
                                           for i in view.new))

    store.save_run(_run(), items, [], outbox=OutboxHook(
        targets=("t",), subscriber_targets=(), history=1, decide=all_of_them))
    claimed: list[str] = []
    lock = threading.Lock()
    now = datetime(2026, 1, 1, tzinfo=UTC)

    def worker(name: str) -> None:
        while True:
            got = store.claim_deliveries("t", now, name, lease=600)
            if not got:
                return
            [row] = got
            assert row.id is not None and row.state == "sending" and row.claim == name
            with lock:
                claimed.append(row.item_id)
            assert store.finish_delivery(row.id, name, now, state="sent", message_ids=["1"])

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(i.id for i in items)
    assert store.delivery_counts() == {"t": {"sent": rows}}


def test_claims_are_atomic(store: Store) -> None:
    hammer_claims(store)


def _two_deliveries(store: Store) -> None:
    store.save_run(_run(), [_item("a"), _item("b")], [], outbox=OutboxHook(
        targets=("t",), subscriber_targets=(), history=1,
        decide=lambda view: OutboxPlan(deliveries=tuple(
            Delivery(item_id=i.id, target_id="t") for i in view.new))))


def _age_claim(store: Store, delivery_id: int, seconds: float) -> None:
    """Time passing for one claim: its claimed_at moved `seconds` back, as if it had been
    taken that much earlier (on whichever clock the store counts leases)."""
    from datetime import timedelta

    from syndicator.store.schema import deliveries

    [row] = [d for d in store.deliveries("t") if d.id == delivery_id]
    assert row.claimed_at is not None
    with store.engine.begin() as conn:
        conn.execute(deliveries.update().where(deliveries.c.id == delivery_id)
                     .values(claimed_at=row.claimed_at - timedelta(seconds=seconds)))


def test_a_claim_left_by_a_dead_job_becomes_unknown_after_its_lease(store: Store) -> None:
    from datetime import UTC, datetime

    _two_deliveries(store)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    [first] = store.claim_deliveries("t", now, "dead-job", lease=60)
    [second] = store.claim_deliveries("t", now, "live", lease=60)
    assert first.id is not None and second.id is not None
    _age_claim(store, first.id, 59)
    assert store.claim_deliveries("t", now, "x", lease=60) == []
    assert [d.state for d in store.deliveries("t")] == ["sending", "sending"]
    _age_claim(store, first.id, 2)
    assert store.claim_deliveries("t", now, "x", lease=60) == []
    rows = {d.item_id: d for d in store.deliveries("t")}
    assert rows[first.item_id].state == "unknown" and rows[second.item_id].state == "sending"
    # the dead job's late answer (if any) no longer counts; the live one records its outcome
    assert store.finish_delivery(second.id, "live", now, state="sent")
    assert not store.finish_delivery(first.id, "someone-else", now, state="sent")


@pytest.mark.postgres
def test_claim_leases_count_on_the_database_clock_whatever_the_machine_says() -> None:
    """Instances on one PostgreSQL whose own clocks are an hour off either way: one ahead
    does not expire another's live claim, one behind does not keep a dead one."""
    from datetime import UTC, datetime, timedelta

    from tests.postgres_support import postgres_database

    databases = postgres_database()
    store = Store(next(databases))
    try:
        _two_deliveries(store)
        hour = timedelta(hours=1)
        behind = datetime.now(UTC) - hour
        [live] = store.claim_deliveries("t", behind, "behind", lease=60)
        assert live.id is not None and live.claimed_at is not None
        # The claim's time is the database's, not the hour-behind clock that took it.
        assert live.claimed_at - behind > hour / 2
        [other] = store.claim_deliveries("t", datetime.now(UTC) + hour, "ahead", lease=60)
        assert [d.state for d in store.deliveries("t")] == ["sending", "sending"]
        # The ahead machine renews its claim the same way (a multi-part post's progress).
        store.save_delivery_progress(other.id or 0, "ahead", datetime.now(UTC) + hour, ["1"])
        [renewed] = [d for d in store.deliveries("t") if d.id == other.id]
        assert renewed.claimed_at is not None
        assert datetime.now(UTC) + hour - renewed.claimed_at > hour / 2
        # The first claimer dies and its lease runs out; the machine an hour behind finds it.
        _age_claim(store, live.id, 61)
        assert store.claim_deliveries("t", datetime.now(UTC) - hour, "late", lease=60) == []
        states = {d.id: d.state for d in store.deliveries("t")}
        assert states == {live.id: "unknown", other.id: "sending"}
    finally:
        store.close()
        for _ in databases:
            pass
