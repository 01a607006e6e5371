"""The store with several writers at once on the machine's PostgreSQL: threads, each with a
Store (engine and connections) of its own, as instances on several machines would be.

No global lock: writers of different rows run at once, and what the global lock used to
make true is made true by row locks, ON CONFLICT, FOR UPDATE SKIP LOCKED and advisory locks
on an item's id and on a story's keys. Interleavings are forced by an outbox decision that
stops inside save_run's transaction (`Paused`) and by waiting until PostgreSQL reports a
backend waiting on a lock; nothing here measures time.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any, Generic, TypeVar

import pytest
from sqlalchemy import Connection, create_engine, select, text

from syndicator.errors import DeliveryRefused
from syndicator.model import Delivery, Item, OutboxHook, OutboxPlan, OutboxView, UpsertResult
from syndicator.store import Store
from syndicator.store.database import HEAD_REVISION
from syndicator.store.schema import deliveries, push_targets
from tests.postgres_support import postgres_database
from tests.test_store import T0, make_item, make_run

pytestmark = pytest.mark.postgres

R = TypeVar("R")
WAIT = 60.0          # seconds: generous, for a loaded machine; never a measure of speed


@pytest.fixture
def url() -> Iterator[str]:
    for found in postgres_database():
        Store(found).close()                  # migrated once, before the writers start
        yield found


@pytest.fixture
def stores(url: str) -> Iterator[Callable[[], Store]]:
    """Opens Stores on the test's database (one per writer); all closed at the end."""
    opened: list[Store] = []

    def open_one() -> Store:
        opened.append(Store(url))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


class Call(threading.Thread, Generic[R]):
    """`fn()` in a thread of its own; `outcome()` is its result (or raises its error)."""

    def __init__(self, fn: Callable[[], R]) -> None:
        super().__init__(daemon=True)
        self._fn = fn
        self._result: R | None = None
        self._error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self._result = self._fn()
        except BaseException as exc:
            self._error = exc

    def outcome(self) -> R:
        self.join(WAIT)
        assert not self.is_alive(), f"still blocked after {WAIT:.0f} s"
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]


class Paused:
    """An outbox decision that stops inside save_run's transaction (its items written, its
    locks held) until released, then decides as `decide` does."""

    def __init__(self, decide: Callable[[OutboxView], OutboxPlan]) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()
        self._decide = decide

    def __call__(self, view: OutboxView) -> OutboxPlan:
        self.inside.set()
        assert self.release.wait(WAIT), "never released"
        return self._decide(view)

    def wait_inside(self) -> None:
        assert self.inside.wait(WAIT), "the paused run never reached its outbox decision"


def each_new_to(*targets: str) -> Callable[[OutboxView], OutboxPlan]:
    """A decision queueing every new item to each target and an edit of every update."""
    def decide(view: OutboxView) -> OutboxPlan:
        return OutboxPlan(
            deliveries=tuple(Delivery(item_id=item.id, target_id=target)
                             for item in view.new for target in targets),
            edits=tuple((item.id, target) for item in view.updated for target in targets))
    return decide


def hook(decide: Callable[[OutboxView], OutboxPlan], *targets: str,
         stories: tuple[str, ...] = ()) -> OutboxHook:
    return OutboxHook(targets=targets, subscriber_targets=(), history=1, decide=decide,
                      stories=stories)


def wait_for_lock_waiter(url: str) -> None:
    """Until a backend of the test's database waits on a lock (a row, a key)."""
    engine = create_engine(url)
    try:
        deadline = threading.Event()
        timer = threading.Timer(WAIT, deadline.set)
        timer.start()
        try:
            while not deadline.is_set():
                with engine.connect() as conn:
                    if _lock_waiters(conn):
                        return
                deadline.wait(0.05)
        finally:
            timer.cancel()
        raise AssertionError(f"no writer waited on a lock within {WAIT:.0f} s")
    finally:
        engine.dispose()


def _lock_waiters(conn: Connection) -> int:
    return int(conn.execute(text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock'")).scalar_one())


# -- new or updated, decided inside the write ----------------------------------------------

def test_concurrent_polls_of_overlapping_items_count_and_queue_each_item_once(
        stores: Callable[[], Store]) -> None:
    writers, rounds = 8, 6
    opened = [stores() for _ in range(writers)]
    barrier = threading.Barrier(writers)
    results: dict[int, list[UpsertResult]] = {n: [] for n in range(writers)}

    def poll(n: int) -> None:
        store = opened[n]
        shuffle = random.Random(n)
        for round_ in range(rounds):
            # Overlapping windows of one round's items, in an order of each writer's own;
            # each writer's copy carries its own `updated` (two polls that read one page at
            # once compute it each from its clock): the same item all the same.
            batch = [make_item(100 * round_ + k, source=f"s{n}",
                               updated=T0 + timedelta(minutes=100 * round_ + k, seconds=n))
                     for k in range(3 * n, 3 * n + 12)]
            shuffle.shuffle(batch)
            barrier.wait(WAIT)
            results[n].append(store.save_run(
                make_run(f"s{n}", started=T0 + timedelta(hours=round_)), batch, [],
                outbox=hook(each_new_to("tg", "mail"), "tg", "mail")))

    calls = [Call(lambda n=n: poll(n)) for n in range(writers)]
    for call in calls:
        call.outcome()                      # no deadlock (nor any error) surfaced

    new = Counter(item.id for found in results.values() for r in found for item in r.new)
    updated = [item.id for found in results.values() for r in found for item in r.updated]
    store = opened[0]
    stored = store.count_items()
    assert stored == rounds * (3 * (writers - 1) + 12)
    assert len(new) == stored and set(new.values()) == {1}      # each item new exactly once
    assert updated == []                                       # and never an edit
    queued = Counter((d.item_id, d.target_id) for d in store.deliveries())
    assert len(queued) == 2 * stored and set(queued.values()) == {1}
    assert {d.action for d in store.deliveries()} == {"send"}
    assert sum(run.new for run in store.runs(limit=1000)) == stored
    # Every writer's items are in its source's feed, whoever stored them first.
    for n in range(writers):
        assert store.count_items([f"s{n}"]) == rounds * 12


def test_writers_inserting_one_new_item_at_once_never_fail_on_its_url(
        stores: Callable[[], Store]) -> None:
    """The item's URL is unique as well as its id, and ON CONFLICT (id) does not settle a
    race on the URL: two inserts of one new item at once failed on it now and then (a few
    in a hundred rounds of eight writers) until writers of one item took turns."""
    writers, rounds = 8, 80
    opened = [stores() for _ in range(writers)]
    barrier = threading.Barrier(writers)
    new: Counter[str] = Counter()
    lock = threading.Lock()

    def poll(n: int) -> None:
        for round_ in range(rounds):
            barrier.wait(WAIT)
            result = opened[n].save_run(make_run(f"s{n}", started=T0 + timedelta(hours=round_)),
                                        [make_item(round_, source=f"s{n}")], [])
            with lock:
                new.update(item.id for item in result.new)

    for call in [Call(lambda n=n: poll(n)) for n in range(writers)]:
        call.outcome()
    assert len(new) == rounds and set(new.values()) == {1}


def test_a_run_waits_for_one_saving_the_same_item_then_finds_it_unchanged(
        url: str, stores: Callable[[], Store]) -> None:
    first, second = stores(), stores()
    paused = Paused(each_new_to("tg"))
    item = make_item(1)
    holding = Call(lambda: first.save_run(make_run("news"), [item], [],
                                          outbox=hook(paused, "tg")))
    paused.wait_inside()                    # item 1 written, not committed
    later = replace(item, source_id="wire", updated=item.updated + timedelta(minutes=3))
    waiting = Call(lambda: second.save_run(make_run("wire", started=T0 + timedelta(minutes=1)),
                                           [later], [], outbox=hook(each_new_to("tg"), "tg")))
    wait_for_lock_waiter(url)               # on item 1's row
    paused.release.set()
    assert [i.id for i in holding.outcome().new] == ["id-0001"]
    assert waiting.outcome() == UpsertResult(new=(), updated=())
    assert [(d.item_id, d.action) for d in first.deliveries()] == [("id-0001", "send")]
    assert first.count_items(["wire"]) == 1               # linked to the second source too
    assert first.items_by_id(["id-0001"])["id-0001"].updated == item.updated


def test_a_run_waiting_on_a_new_item_with_other_content_updates_it(
        url: str, stores: Callable[[], Store]) -> None:
    first, second = stores(), stores()
    paused = Paused(each_new_to("tg"))
    holding = Call(lambda: first.save_run(make_run("news"), [make_item(1)], [],
                                          outbox=hook(paused, "tg")))
    paused.wait_inside()
    edited = make_item(1, source="wire", title="Edited meanwhile", content_hash="hash-1b")
    waiting = Call(lambda: second.save_run(make_run("wire", started=T0 + timedelta(minutes=1)),
                                           [edited], [], outbox=hook(each_new_to("tg"), "tg")))
    wait_for_lock_waiter(url)
    paused.release.set()
    assert [i.id for i in holding.outcome().new] == ["id-0001"]
    assert waiting.outcome() == UpsertResult(new=(), updated=(edited,))
    assert [(d.item_id, d.action) for d in first.deliveries()] == [("id-0001", "send")]
    assert first.items_by_id(["id-0001"])["id-0001"].title == "Edited meanwhile"


def test_a_changed_version_saved_meanwhile_counts_as_updated_once(
        stores: Callable[[], Store]) -> None:
    store = stores()
    store.save_run(make_run(), [make_item(1)], [], outbox=hook(each_new_to("tg"), "tg"))
    [row] = store.deliveries()
    claimed = store.claim_deliveries("tg", T0, "job", lease=600)
    assert store.finish_delivery(row.id or 0, "job", T0, state="sent") and claimed
    edited = make_item(1, title="Corrected", content_hash="hash-1b")
    results = [Call(lambda s=s, n=n: s.save_run(
        make_run("news", started=T0 + timedelta(hours=1, seconds=n)),
        [replace(edited, updated=T0 + timedelta(hours=1, seconds=n))], [],
        outbox=hook(each_new_to("tg"), "tg"))) for n, s in enumerate([stores(), stores()])]
    outcomes = [call.outcome() for call in results]
    assert sorted(len(r.updated) for r in outcomes) == [0, 1]
    assert all(r.new == () for r in outcomes)
    [queued] = store.deliveries("tg")
    assert (queued.action, queued.state) == ("edit", "pending")


# -- no global serialisation ---------------------------------------------------------------

def test_a_run_held_open_does_not_block_another_sources_run(
        url: str, stores: Callable[[], Store]) -> None:
    first, second = stores(), stores()
    paused = Paused(each_new_to("tg"))
    holding = Call(lambda: first.save_run(make_run("news"), [make_item(1), make_item(2)], [],
                                          outbox=hook(paused, "tg")))
    paused.wait_inside()
    try:
        other = Call(lambda: second.save_run(
            make_run("sport"), [make_item(3, source="sport"), make_item(4, source="sport")],
            [], outbox=hook(each_new_to("tg"), "tg")))
        # Finishes while the first transaction is still open (a global write lock would
        # hold it until the first commits: outcome() would then fail after WAIT).
        assert [i.id for i in other.outcome().new] == ["id-0003", "id-0004"]
        assert holding.is_alive()
        assert second.count_items(["sport"]) == 2 and second.count_items(["news"]) == 0
    finally:
        paused.release.set()
    assert len(holding.outcome().new) == 2
    assert sorted(d.item_id for d in first.deliveries("tg")) == [
        "id-0001", "id-0002", "id-0003", "id-0004"]


def test_a_build_mark_taken_between_out_of_order_commits_misses_nothing(
        stores: Callable[[], Store]) -> None:
    first, second, builder = stores(), stores(), stores()
    paused = Paused(each_new_to("tg"))
    holding = Call(lambda: first.save_run(make_run("news"), [make_item(1)], [],
                                          outbox=hook(paused, "tg")))
    paused.wait_inside()                    # its run row (the lower id) inserted, uncommitted
    second.save_run(make_run("sport", started=T0 + timedelta(minutes=1)),
                    [make_item(2, source="sport")], [])
    mark, links = builder.feed_links_changed(["news", "sport"], 0)
    assert [link.item_id for link in links] == ["id-0002"]
    paused.release.set()
    holding.outcome()
    _, after = builder.feed_links_changed(["news", "sport"], mark)
    assert "id-0001" in {link.item_id for link in after}


# -- claims --------------------------------------------------------------------------------

def test_claimers_skip_rows_another_holds_and_never_share_one(
        url: str, stores: Callable[[], Store]) -> None:
    store = stores()
    store.save_run(make_run(), [make_item(n) for n in range(1, 41)], [],
                   outbox=hook(each_new_to("tg"), "tg"))
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            # Another instance's claim in progress holds the oldest row.
            held = conn.execute(select(deliveries.c.id).order_by(deliveries.c.id).limit(1)
                                .with_for_update()).scalar_one()
            [got] = Call(lambda: store.claim_deliveries("tg", T0, "quick", lease=600)).outcome()
            assert got.id != held and got.state == "sending"
    finally:
        engine.dispose()

    claimed: list[int] = []
    lock = threading.Lock()

    def claimer(name: str, opened: Store) -> None:
        while got := opened.claim_deliveries("tg", T0, name, lease=600, limit=3):
            with lock:
                claimed.extend(d.id or 0 for d in got)

    claimers = [stores() for _ in range(6)]
    calls = [Call(lambda n=n, s=s: claimer(f"c{n}", s)) for n, s in enumerate(claimers)]
    for call in calls:
        call.outcome()
    assert len(claimed) == len(set(claimed)) == 39
    assert store.delivery_counts() == {"tg": {"sending": 40}}


def test_sign_up_claimers_never_share_one(stores: Callable[[], Store]) -> None:
    store = stores()
    for n in range(30):
        store.queue_signup("mail", f"reader{n}@example.org", T0)
    claimed: list[int] = []
    lock = threading.Lock()

    def claimer(name: str, opened: Store) -> None:
        while (got := opened.claim_signup("mail", T0, name, lease=600)) is not None:
            assert got.state == "sending" and got.attempts == 1
            with lock:
                claimed.append(got.id)

    claimers = [stores() for _ in range(5)]
    calls = [Call(lambda n=n, s=s: claimer(f"c{n}", s)) for n, s in enumerate(claimers)]
    for call in calls:
        call.outcome()
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 30


def test_an_operators_resend_and_a_claim_of_the_same_row_run_one_after_the_other(
        url: str, stores: Callable[[], Store]) -> None:
    store, operator = stores(), stores()
    store.save_run(make_run(), [make_item(1), make_item(2)], [],
                   outbox=hook(each_new_to("tg"), "tg"))
    for row in store.claim_deliveries("tg", T0, "job", lease=600, limit=2):
        assert store.finish_delivery(row.id or 0, "job", T0, state="failed", next_at=T0)
    first, second = (d.id or 0 for d in store.deliveries("tg"))
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            # A push job's claim of the first row in progress: the row locked and taken.
            conn.execute(deliveries.update().where(deliveries.c.id == first)
                         .values(state="sending", claim="other-job"))
            resend = Call(lambda: operator.settle_deliveries([first, second], T0,
                                                             state="pending"))
            wait_for_lock_waiter(url)           # the operator's command waits for the row
        with pytest.raises(DeliveryRefused, match=rf"delivery {first} is sending"):
            resend.outcome()
    finally:
        engine.dispose()
    # Refused as a whole: the second row is still failed, the claim still the job's.
    assert [(d.state, d.claim) for d in store.deliveries("tg")] == [
        ("sending", "other-job"), ("failed", "job")]
    assert [d.state for d in operator.settle_deliveries([second], T0, state="pending")] == [
        "failed"]
    [queued] = store.deliveries("tg", states=["pending"])
    assert (queued.id, queued.attempts, queued.next_at, queued.claim) == (second, 0, None, None)


# -- stories and subscribers: groups of rows, read then written ----------------------------

def _version(n: int, language: str, other: int) -> Item:
    return make_item(n, language=language,
                     translation_claims=((language, f"https://example.org/a/{other}"),))


def _once_per_story(view: OutboxView) -> OutboxPlan:
    """Telegram's `translations: skip`, reduced: a story already told is suppressed."""
    told = set(view.told.get(("tg", ""), ()))
    rows = []
    for item in view.new:
        story = view.story_of.get(item.id)
        rows.append(Delivery(item_id=item.id, target_id="tg",
                             state="suppressed" if story in told else "pending"))
        if story is not None:
            told.add(story)
    return OutboxPlan(deliveries=tuple(rows))


def test_two_runs_storing_the_versions_of_one_story_at_once_join_it_and_tell_it_once(
        url: str, stores: Callable[[], Store]) -> None:
    english, russian = stores(), stores()
    paused = Paused(_once_per_story)
    holding = Call(lambda: english.save_run(
        make_run("en"), [_version(1, "en", 2)], [],
        outbox=hook(paused, "tg", stories=("tg",))))
    paused.wait_inside()                    # item 1 and its claim written, not committed
    waiting = Call(lambda: russian.save_run(
        make_run("ru", started=T0 + timedelta(minutes=1)), [_version(2, "ru", 1)], [],
        outbox=hook(_once_per_story, "tg", stories=("tg",))))
    wait_for_lock_waiter(url)               # on the story (the URLs the two pages name)
    paused.release.set()
    holding.outcome()
    waiting.outcome()
    assert english.story_groups(["id-0001", "id-0002"]) == {"id-0001": "id-0001",
                                                            "id-0002": "id-0001"}
    states = {d.item_id: d.state for d in english.deliveries("tg")}
    assert states == {"id-0001": "pending", "id-0002": "suppressed"}


def test_an_address_unsubscribed_during_a_run_gets_none_of_its_rows(
        url: str, stores: Callable[[], Store]) -> None:
    run_store, forms = stores(), stores()
    run_store.set_subscriber("mail", "ann@example.org", "confirmed", T0)

    def to_subscribers(view: OutboxView) -> OutboxPlan:
        return OutboxPlan(deliveries=tuple(
            Delivery(item_id=item.id, target_id="mail", recipient=email)
            for item in view.new for email in view.subscribers.get("mail", ())))

    paused = Paused(to_subscribers)
    holding = Call(lambda: run_store.save_run(
        make_run(), [make_item(1), make_item(2)], [],
        outbox=OutboxHook(targets=("mail",), subscriber_targets=("mail",), history=1,
                          decide=paused)))
    paused.wait_inside()                    # ann read as confirmed, her rows not yet queued
    leaving = Call(lambda: forms.set_subscriber("mail", "ann@example.org", "unsubscribed",
                                                T0 + timedelta(minutes=1)))
    wait_for_lock_waiter(url)               # on ann's row, read FOR SHARE by the run
    paused.release.set()
    holding.outcome()
    assert leaving.outcome().status == "unsubscribed"
    rows = run_store.deliveries("mail")
    assert len(rows) == 2 and {d.state for d in rows} == {"suppressed"}


def test_one_address_set_from_two_places_at_once_is_one_subscriber(
        stores: Callable[[], Store]) -> None:
    barrier = threading.Barrier(4)

    def sign_up(opened: Store, n: int) -> None:
        barrier.wait(WAIT)
        opened.set_subscriber("mail", "bob@example.org", "pending",
                              T0 + timedelta(seconds=n), languages=("en",))

    forms = [stores() for _ in range(4)]
    calls = [Call(lambda n=n, s=s: sign_up(s, n)) for n, s in enumerate(forms)]
    for call in calls:
        call.outcome()
    [bob] = stores().subscribers("mail")
    assert (bob.email, bob.status, bob.languages) == ("bob@example.org", "pending", ("en",))


# -- the transaction machinery -------------------------------------------------------------

def test_instances_starting_at_once_migrate_once() -> None:
    for fresh in postgres_database():           # not migrated: the instances race to do it
        barrier = threading.Barrier(4)

        def start(database: str = fresh, together: threading.Barrier = barrier) -> None:
            together.wait(WAIT)
            Store(database).close()

        calls = [Call(start) for _ in range(4)]
        for call in calls:
            call.outcome()
        engine = create_engine(fresh)
        try:
            with engine.connect() as conn:
                versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        finally:
            engine.dispose()
        assert [v for (v,) in versions] == [HEAD_REVISION]


def test_a_transaction_that_loses_a_deadlock_runs_again(stores: Callable[[], Store]) -> None:
    setup = stores()
    for target in ("p", "q"):
        setup.update_push_target(target, T0, paused=False)
    barrier = threading.Barrier(2)
    attempts: Counter[str] = Counter()

    def crosswise(name: str, first: str, then: str) -> Callable[[Connection], str]:
        def work(conn: Connection) -> str:
            attempts[name] += 1
            conn.execute(_pause(first, name))
            if attempts[name] == 1:
                barrier.wait(WAIT)          # both hold their first row: a deadlock next
            conn.execute(_pause(then, name))
            return name
        return work

    one, two = stores(), stores()
    calls = [Call(lambda: one._write("lock p then q", crosswise("one", "p", "q"))),
             Call(lambda: two._write("lock q then p", crosswise("two", "q", "p")))]
    assert [call.outcome() for call in calls] == ["one", "two"]
    assert sorted(attempts.values()) == [1, 2]         # the loser ran again, once
    with setup.engine.connect() as conn:
        reasons = dict(conn.execute(select(push_targets.c.target_id,
                                           push_targets.c.paused_reason)).all())
    assert reasons["p"] == reasons["q"]                # the later writer's, on both rows


def _pause(target: str, reason: str) -> Any:
    return (push_targets.update().where(push_targets.c.target_id == target)
            .values(paused_reason=reason))

