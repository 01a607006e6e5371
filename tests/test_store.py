"""The store against real databases: SQLite in tmp_path and the machine's PostgreSQL.

Each PostgreSQL test gets a database of its own, created and dropped around the test
(tests/postgres_support.py, which says when they skip).
"""

from __future__ import annotations

import functools
import pickle
import sqlite3
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, create_engine, inspect, make_url, select, text

from syndicator.app import make_app
from syndicator.config import parse_config
from syndicator.demo.server import SiteServer
from syndicator.errors import StoreError
from syndicator.model import Item, RunResult, UrlState
from syndicator.pipeline import run_source
from syndicator.store import Store, safe_url
from syndicator.store.database import HEAD_REVISION, MIGRATIONS
from syndicator.store.items import item_row
from syndicator.store.reader import SqliteItems
from syndicator.store.schema import (
    deliveries,
    described_here,
    item_sources,
    items,
    metadata,
    translation_claims,
    translation_groups,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make_item(n: int, *, source: str = "news", published: datetime | None = None,
              **changes: object) -> Item:
    item = Item(
        id=f"id-{n:04d}", source_id=source, url=f"https://example.org/a/{n}",
        title=f"Title {n}", published=published or T0 + timedelta(minutes=n),
        updated=published or T0 + timedelta(minutes=n), summary=f"Summary {n}",
        content=f"<p>Body {n}</p>", image=f"https://example.org/img/{n}.jpg",
        author="Ann Author", categories=("Politics", "Économie"), language="fr",
        published_precision="time", content_hash=f"hash-{n}",
    )
    return replace(item, **changes)  # type: ignore[arg-type]


def make_run(source: str = "news", *, started: datetime = T0, ok: bool = True,
             **changes: object) -> RunResult:
    run = RunResult(source_id=source, started=started, finished=started + timedelta(seconds=5),
                    ok=ok, pages=3, not_modified=1, items_seen=4)
    return replace(run, **changes)  # type: ignore[arg-type]


# -- schema and migrations ----------------------------------------------------------------

def test_migration_creates_tables_and_is_idempotent_on_reopen(db_url: str) -> None:
    Store(db_url).close()
    store = Store(db_url)   # the second open finds the schema at head and changes nothing
    try:
        head = store.head_revision()
        assert head is not None and head >= "0002"
        inspector = inspect(store.engine)
        assert {"items", "item_sources", "url_state", "runs", "alembic_version"} <= set(
            inspector.get_table_names())
        indexes = {ix["name"] for table in ("items", "item_sources", "runs")
                   for ix in inspector.get_indexes(table)}
        assert {"ix_items_published_id", "ix_item_sources_source_id",
                "ix_runs_source_id_started"} <= indexes
        with store.engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [v for (v,) in versions] == [head]
    finally:
        store.close()


def test_schema_module_matches_the_migrations(store: Store) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": described_here})
        assert compare_metadata(context, metadata) == []


def test_database_from_a_newer_version_is_refused(db_url: str) -> None:
    store = Store(db_url)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    store.close()
    with pytest.raises(StoreError, match="cannot migrate"):
        Store(db_url)


def test_head_revision_is_the_newest_migration(store: Store) -> None:
    assert store.head_revision() == HEAD_REVISION


def test_a_store_at_head_opens_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Store(url).close()
    code = f"import sys; from syndicator.store import Store; Store({url!r}).close(); " \
        "print('alembic' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert done.stdout.strip() == b"False"


# -- save_run --------------------------------------------------------------------------------

def test_save_run_counts_new_and_updated(store: Store) -> None:
    first = store.save_run(make_run(), [make_item(1), make_item(2)], [])
    assert [i.id for i in first.new] == ["id-0001", "id-0002"]
    assert first.updated == ()

    later = T0 + timedelta(hours=1)
    edited = make_item(1, title="Edited title", content_hash="hash-1b")
    second = store.save_run(make_run(started=later), [edited, make_item(3)], [])
    assert [i.id for i in second.new] == ["id-0003"]
    assert second.updated == (edited,)

    assert store.count_items() == 3
    assert store.items_by_id(["id-0001"])["id-0001"].title == "Edited title"
    logged = store.runs("news")
    assert [(r.new, r.updated) for r in logged] == [(1, 1), (2, 0)]
    with store.engine.connect() as conn:
        seen = conn.execute(select(items.c.first_seen, items.c.last_seen)
                            .where(items.c.id == "id-0001")).one()
    # first_seen stays the first sighting; last_seen is the latest run's finish time.
    assert tuple(seen) == (T0 + timedelta(seconds=5), later + timedelta(seconds=5))


def test_duplicate_ids_in_one_batch_count_once(store: Store) -> None:
    result = store.save_run(make_run(), [make_item(1), make_item(1, title="Later wins")], [])
    assert len(result.new) == 1
    assert store.items_by_id(["id-0001"])["id-0001"].title == "Later wins"


def test_item_in_two_sources_is_one_item_in_both_feeds(store: Store) -> None:
    store.save_run(make_run("news"), [make_item(1, source="news")], [])
    again = store.save_run(make_run("sport", started=T0 + timedelta(minutes=1)),
                           [make_item(1, source="sport")], [])
    # The same item as stored: neither new nor updated (nothing to push again), only linked.
    assert (again.new, again.updated) == ((), ())

    both = store.latest(["news", "sport"], limit=10)
    assert [i.id for i in both] == ["id-0001"]
    assert both[0].source_id == "news"       # the source that saw it first
    assert [i.source_id for i in store.latest(["news"], limit=10)] == ["news"]
    assert [i.source_id for i in store.latest(["sport"], limit=10)] == ["sport"]
    assert store.latest(["other"], limit=10) == []
    assert store.count_items() == 1
    assert store.count_items(["news", "sport"]) == 1
    assert store.count_items(["other"]) == 0
    assert store.items_by_url(["https://example.org/a/1"])["https://example.org/a/1"].id == (
        "id-0001")


def test_unchanged_items_seen_by_another_source_join_its_feed(store: Store) -> None:
    store.save_run(make_run("news"), [make_item(1), make_item(2)], [])
    later = T0 + timedelta(hours=1)
    result = store.save_run(make_run("sport", started=later), [],
                            [], seen=["id-0001", "id-unknown"])
    assert (result.new, result.updated) == ((), ())
    assert [i.id for i in store.latest(["sport"], limit=5)] == ["id-0001"]
    assert [i.id for i in store.latest(["news"], limit=5)] == ["id-0002", "id-0001"]
    assert store.count_items() == 2
    with store.engine.connect() as conn:
        last_seen = {row.id: row.last_seen for row in conn.execute(
            select(items.c.id, items.c.last_seen))}
    assert last_seen == {"id-0001": later + timedelta(seconds=5),
                         "id-0002": T0 + timedelta(seconds=5)}


def test_save_run_links_to_the_given_source_id(store: Store) -> None:
    store.save_run(make_run("news"), [make_item(1)], [], source_id="archive")
    assert store.latest(["news"], limit=5) == []
    assert [i.id for i in store.latest(["archive"], limit=5)] == ["id-0001"]
    assert [r.source_id for r in store.runs()] == ["news"]


def test_failed_save_run_leaves_nothing_written(store: Store) -> None:
    store.save_run(make_run(), [make_item(1)], [])
    # id-0003 reuses item 1's URL: the unique constraint fails after id-0002 was upserted.
    clash = make_item(3, url="https://example.org/a/1")
    state = UrlState(url="https://example.org/list", etag='"v1"', fetched_at=T0)
    with pytest.raises(StoreError, match="cannot save the run of news"):
        store.save_run(make_run(started=T0 + timedelta(hours=1)),
                       [make_item(2), clash], [state])
    assert store.count_items() == 1
    assert store.items_by_id(["id-0002", "id-0003"]) == {}
    assert store.url_states(["https://example.org/list"]) == {}
    assert len(store.runs()) == 1


# -- reads -----------------------------------------------------------------------------------

def test_latest_orders_newest_first_and_pages(store: Store) -> None:
    same = T0 + timedelta(hours=2)
    batch = [make_item(1), make_item(2), make_item(3, published=same),
             make_item(4, published=same), make_item(5, published=T0 - timedelta(days=1))]
    store.save_run(make_run(), batch, [])

    order = [i.id for i in store.latest(["news"], limit=10)]
    # equal published times: higher id first
    assert order == ["id-0004", "id-0003", "id-0002", "id-0001", "id-0005"]
    assert [i.id for i in store.latest(["news"], limit=2)] == order[:2]
    assert [i.id for i in store.latest(["news"], limit=2, offset=1)] == order[1:3]
    assert [i.id for i in store.latest(["news"], limit=10, offset=5)] == []
    before = [i.id for i in store.latest(["news"], limit=10, before=same)]
    assert before == ["id-0002", "id-0001", "id-0005"]
    assert store.latest([], limit=10) == []
    assert store.latest(["news"], limit=0) == []


def test_items_roundtrip_all_fields_and_many_keys(store: Store) -> None:
    batch = [make_item(n) for n in range(1, 701)]   # more than one IN (...) chunk
    store.save_run(make_run(), batch, [])
    by_url = store.items_by_url([i.url for i in batch] + ["https://example.org/unknown"])
    assert len(by_url) == 700
    assert by_url[batch[0].url] == batch[0]
    assert store.items_by_id([i.id for i in batch]) == {i.id: i for i in batch}
    assert store.count_items(["news"]) == 700


def test_another_process_reads_an_sqlite_file_as_the_store_does(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        batch = [make_item(n) for n in range(1, 1201)]   # more than two IN (...) chunks
        batch.append(make_item(1300, image=None, author=None, categories=(), language=None,
                               published_precision="date"))
        store.save_run(make_run(), batch, [])
        ids = [i.id for i in batch] + ["id-unknown"]
        factory = pickle.loads(pickle.dumps(store.reopener()))   # as a worker gets it
        reader = factory()
        assert isinstance(reader, SqliteItems)
        try:
            assert reader.items_for_build(ids) == store.items_for_build(ids)
            assert len(reader.items_for_build(ids)) == 1201
            assert reader.items_for_build([]) == {}
        finally:
            reader.close()
    finally:
        store.close()


def test_only_a_plain_sqlite_file_is_read_without_the_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url, opens in [("sqlite:///relative.db", SqliteItems),
                       (f"sqlite:///{tmp_path / 'timeout.db'}?timeout=10", Store),
                       ("sqlite://", None)]:
        store = Store(url)
        try:
            factory = store.reopener()
        finally:
            store.close()
        if opens is None:
            assert factory is None
            continue
        assert isinstance(factory, functools.partial) and factory.func is opens
        if opens is SqliteItems:   # the working folder may differ in the other process
            assert factory.args == (str(tmp_path / "relative.db"),)


def test_url_states_roundtrip(store: Store) -> None:
    states = [
        UrlState(url="https://example.org/list", etag='"abc"',
                 last_modified="Wed, 01 May 2024 12:00:00 GMT", fetched_at=T0),
        UrlState(url="https://example.org/a/1", listing_hash="card-hash", fetched_at=None),
    ]
    store.save_run(make_run(), [], states)
    found = store.url_states([s.url for s in states] + ["https://example.org/never"])
    assert found == {s.url: s for s in states}
    assert found["https://example.org/list"].validators.etag == '"abc"'

    newer = UrlState(url="https://example.org/list", etag='"def"', fetched_at=T0 + timedelta(1))
    store.save_run(make_run(started=T0 + timedelta(hours=1)), [], [newer])
    assert store.url_states(["https://example.org/list"]) == {newer.url: newer}


def test_url_states_of_many_urls_and_of_none(store: Store) -> None:
    # One prepared statement serves any number of URLs (read in chunks of _CHUNK).
    states = [UrlState(url=f"https://example.org/a/{n}", listing_hash=f"h{n}", fetched_at=T0)
              for n in range(1100)]
    store.save_run(make_run(), [], states)
    asked = [s.url for s in states] + [states[0].url, "https://example.org/never"]
    assert store.url_states(asked) == {s.url: s for s in states}
    assert store.url_states([states[7].url]) == {states[7].url: states[7]}
    assert store.url_states([]) == {}


def test_runs_log_roundtrip(store: Store) -> None:
    failed = make_run("news", ok=False, errors=("https://x/: 500", "timeout"),
                      warnings=("no date",), missing_fields={"date": 2, "image": 1})
    store.save_run(failed, [], [])
    store.save_run(make_run("news", started=T0 + timedelta(hours=1)), [], [])
    store.save_run(make_run("sport", started=T0 + timedelta(minutes=30)), [], [])

    news = store.runs("news")
    assert [r.started for r in news] == [T0 + timedelta(hours=1), T0]
    assert news[1] == failed
    assert news[1].errors == ("https://x/: 500", "timeout")
    assert news[1].missing_fields == {"date": 2, "image": 1}
    assert [r.source_id for r in store.runs()] == ["news", "sport", "news"]
    assert len(store.runs(limit=1)) == 1
    last = store.last_runs()
    assert set(last) == {"news", "sport"}
    assert last["news"].started == T0 + timedelta(hours=1)
    assert last["sport"].started == T0 + timedelta(minutes=30)


def test_pruning_the_run_log_keeps_recent_runs_and_each_sources_newest(store: Store) -> None:
    for hour in range(5):
        store.save_run(make_run("news", started=T0 + timedelta(hours=hour)), [], [])
    store.save_run(make_run("sport", started=T0), [], [])
    store.save_run(make_run("quiet", started=T0 - timedelta(days=400)), [], [])

    gone = store.prune_runs(T0 + timedelta(hours=3), keep=2)

    # news: the runs of hours 0 to 2 finished before the cut and are not among its newest
    # two; sport's and quiet's only run is its newest, kept however old.
    assert gone == 3
    assert [r.started for r in store.runs("news")] == [
        T0 + timedelta(hours=h) for h in (4, 3)]
    assert [r.source_id for r in store.runs("sport")] == ["sport"]
    assert [r.source_id for r in store.runs("quiet")] == ["quiet"]
    assert store.prune_runs(T0 + timedelta(hours=3), keep=2) == 0


# -- datetimes -------------------------------------------------------------------------------

def test_datetimes_come_back_aware_utc(store: Store) -> None:
    paris = timezone(timedelta(hours=2))
    local = datetime(2024, 5, 1, 9, 30, tzinfo=paris)
    store.save_run(make_run(started=local), [make_item(1, published=local)],
                   [UrlState(url="https://example.org/x", fetched_at=local)])
    item = store.items_by_id(["id-0001"])["id-0001"]
    run = store.runs()[0]
    state = store.url_states(["https://example.org/x"])["https://example.org/x"]
    for value in (item.published, item.updated, run.started, run.finished, state.fetched_at):
        assert value is not None
        assert value.utcoffset() == timedelta(0)
        assert value.tzinfo == UTC
    assert item.published == local
    assert item.published.hour == 7


def test_naive_datetime_refused(store: Store) -> None:
    naive = datetime(2024, 5, 1, 12, 0)
    with pytest.raises(ValueError, match="naive datetime"):
        store.save_run(make_run(), [make_item(1, published=naive)], [])
    with pytest.raises(ValueError, match="naive datetime"):
        store.latest(["news"], limit=5, before=naive)
    assert store.count_items() == 0
    assert store.runs() == []


# -- threads ---------------------------------------------------------------------------------

def test_concurrent_writers_count_each_item_new_once(store: Store) -> None:
    batch = [make_item(n) for n in range(1, 21)]
    results: list[int] = []
    failures: list[BaseException] = []

    def write(source: str) -> None:
        try:
            results.append(len(store.save_run(make_run(source), batch, []).new))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(f"s{k}",)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(results) == [0, 0, 0, 20]
    assert store.count_items() == 20
    assert len(store.latest(["s0", "s1", "s2", "s3"], limit=100)) == 20


# -- errors and SQLite specifics ----------------------------------------------------------------

def test_store_error_hides_the_password() -> None:
    url = "postgresql+psycopg://syn:s3cret-pw@127.0.0.1:1/nowhere"
    with pytest.raises(StoreError) as caught:
        Store(url)
    message = str(caught.value)
    assert "s3cret-pw" not in message
    assert "syn:***@127.0.0.1:1/nowhere" in message
    assert safe_url(url) == "postgresql+psycopg://syn:***@127.0.0.1:1/nowhere"


def test_unusable_sqlite_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="database folder"):
        Store(f"sqlite:///{blocker / 'store.db'}")


def test_sqlite_uses_wal_and_connection_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = Store(f"sqlite:///{path}")
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1   # NORMAL
    finally:
        store.close()
    # WAL is a property of the file: a plain connection sees it too.
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        raw.close()


def test_a_database_locked_by_another_writer_is_a_store_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from syndicator.store import database as store_module

    # Wait 50 ms for the lock, not the 5 s a service waits.
    monkeypatch.setattr(store_module, "_SQLITE_PRAGMAS", tuple(
        "PRAGMA busy_timeout=50" if p.startswith("PRAGMA busy_timeout") else p
        for p in store_module._SQLITE_PRAGMAS))
    path = tmp_path / "locked.db"
    store = Store(f"sqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")      # another process's writer holds the lock
        run = RunResult(source_id="news", started=datetime(2024, 1, 1, tzinfo=UTC),
                        finished=datetime(2024, 1, 1, tzinfo=UTC), ok=True)
        with pytest.raises(StoreError, match="save the run of news: database is locked"):
            store.save_run(run, [], [])
        other.execute("ROLLBACK")
        store.save_run(run, [], [])            # the lock gone, the same call succeeds
        assert store.url_states(["https://x/"]) == {}
    finally:
        other.close()
        store.close()


# -- migration 0008: stored item URLs in their published form ---------------------------------

def store_at(db_url: str, revision: str) -> None:
    """A database migrated to `revision` only, as a store of the code before the next
    revision left it."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    database = make_url(db_url).database or ""
    if make_url(db_url).get_backend_name() == "sqlite":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def _downgrade(conn: Connection, revision: str) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.downgrade(cfg, revision)


def _delivery(item_id: str, target: str, recipient: str, state: str) -> dict[str, object]:
    return {"item_id": item_id, "target_id": target, "recipient": recipient, "state": state,
            "action": "send", "attempts": 0, "created": T0, "updated": T0, "message_ids": []}


def test_migration_0008_publishes_stored_urls_encoded_and_merges_duplicates(
        db_url: str) -> None:
    store_at(db_url, "0007")
    day = timedelta(days=1)
    rows = [
        # One story stored twice: first linked unencoded, a day later encoded.
        item_row(make_item(1, id="old", url="https://news.example/insert value here",
                           title="Old title", published=T0), T0),
        item_row(make_item(2, id="new", url="https://news.example/insert%20value%20here",
                           title="New title", published=T0 + day), T0 + day),
        item_row(make_item(3, id="ru", url="https://news.example/новости/a b"), T0),
        item_row(make_item(4, id="ok", url="https://news.example/ok"), T0),
    ]
    rows[1]["last_seen"] = T0 + 2 * day
    for row in rows:
        del row["entry_key"], row["url_key"]              # columns of 0010, 0016
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(items.insert(), rows)
            conn.execute(item_sources.insert(), [
                {"item_id": "old", "source_id": "news", "first_seen": T0},
                {"item_id": "new", "source_id": "news", "first_seen": T0 + day},
                {"item_id": "new", "source_id": "wire", "first_seen": T0 + day},
                {"item_id": "ru", "source_id": "news", "first_seen": T0}])
            conn.execute(deliveries.insert(), [
                _delivery("old", "tg", "", "sent"), _delivery("new", "tg", "", "pending"),
                _delivery("new", "mail", "a@example.org", "pending")])
            conn.execute(translation_claims.insert(), [
                {"item_id": "new", "url": "https://news.example/ru/x", "language": "ru"}])
            conn.execute(translation_groups.insert(), [{"item_id": "new", "group_id": "g"}])
    finally:
        engine.dispose()
    store = Store(db_url)                               # migrates to head
    try:
        encoded = "https://news.example/insert%20value%20here"
        merged = store.items_by_url([encoded])[encoded]
        assert store.items_by_id(["new"]) == {}
        assert (merged.id, merged.title, merged.published) == ("old", "New title", T0)
        assert store.items_by_id(["ru"])["ru"].url == \
            "https://news.example/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8/a%20b"
        assert store.items_by_id(["ok"])["ok"].url == "https://news.example/ok"
        with store.engine.connect() as conn:
            links = set(conn.execute(select(item_sources.c.item_id, item_sources.c.source_id)))
            sent = set(conn.execute(select(deliveries.c.item_id, deliveries.c.target_id,
                                           deliveries.c.state)))
            seen = conn.execute(select(items.c.first_seen, items.c.last_seen)
                                .where(items.c.id == "old")).one()
        assert links == {("old", "news"), ("old", "wire"), ("ru", "news")}
        assert sent == {("old", "tg", "sent"), ("old", "mail", "pending")}
        assert tuple(seen) == (T0, T0 + 2 * day)
        with store.engine.connect() as conn:
            assert set(conn.execute(select(translation_claims.c.item_id))) == {("old",)}
            assert set(conn.execute(select(translation_groups))) == {("old", "g")}
        assert store.first_sources(["old"], ["news", "wire"]) == {"old": "news"}
    finally:
        store.close()


def test_after_0008_the_next_poll_finds_an_item_stored_with_its_url_unencoded(
        db_url: str, tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    listing = root / "index.html"

    def cards(*links: str) -> str:
        return "".join(f'<div class="card"><a href="/{link}">{link.title()}</a></div>'
                       for link in links)

    listing.write_text(cards("insert value here", "b"), encoding="utf-8")
    clock = [T0]
    with SiteServer(root) as server:
        config = parse_config(
            "timezone: UTC\nfetch: {delay: 0s, allow_private: true}\n"
            f"storage: {db_url}\nsources:\n  - id: one\n    url: {server.url}\n"
            "    fetch_articles: false\n    list: {item: div.card, link: a}\n",
            base_dir=tmp_path)
        with make_app(config, clock=lambda: clock[0]) as app:
            assert run_source(app, config.sources[0]).new == 2
            # As a store from before URLs were published encoded holds it, at 0007.
            with app.store.engine.begin() as conn:
                conn.execute(items.update().where(items.c.title == "Insert Value Here")
                             .values(url=f"{server.url}insert value here"))
                _downgrade(conn, "0008")     # the later migrations' columns out
                conn.execute(text("UPDATE alembic_version SET version_num = '0007'"))
        listing.write_text(cards("insert value here", "b", "c"), encoding="utf-8")
        clock[0] = T0 + timedelta(hours=1)
        with make_app(config, clock=lambda: clock[0]) as app:    # migrates to 0008
            result = run_source(app, config.sources[0])
            with app.store.engine.connect() as conn:
                last_seen = dict(conn.execute(select(items.c.title, items.c.last_seen)).all())
    assert (result.new, result.updated) == (1, 0)
    # The unchanged card was matched to its stored item: seen by this run, not missed.
    assert last_seen["Insert Value Here"] == clock[0]
