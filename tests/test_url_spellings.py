"""One story linked in several spellings of its URL is one item: as an IRI (`/café`) or
percent-encoded (`/caf%C3%A9`), with the hex of an escape in either case (`%c3%a9`), or an
unreserved character escaped (`/%63af`). Items are told apart by the key all spellings
share (uris.uri_key, RFC 3986 §6.2.2) and published under the spelling first found, which
stays (it is every feed's guid). Items stored before, with the id made from the link as
found, are found by the key of their URL (`items.url_key`, migration 0016) in whatever
spelling their link comes next: the upgrade duplicates nothing.
Real listings on loopback; SQLite and the machine's PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy import Connection, create_engine, select

from syndicator.app import make_app
from syndicator.config import Config, parse_config
from syndicator.demo.server import SiteServer
from syndicator.model import Item
from syndicator.normalise import content_hash, item_id
from syndicator.pipeline import run_source
from syndicator.store.items import item_row
from syndicator.store.schema import item_sources, items
from syndicator.uris import uri_key
from tests.test_store import T0, store_at


def _cards(*links: str) -> str:
    """A listing of these links, each titled by the story it names (`unquote`: one title
    for every spelling of one link)."""
    return "".join(f'<div class="card"><a href="/{link}">Story {unquote(link)}</a></div>'
                   for link in links)


def _config(server: SiteServer, db: str, tmp_path: Path) -> Config:
    return parse_config(
        "timezone: UTC\nfetch: {delay: 0s, allow_private: true}\n"
        f"storage: {db}\nsources:\n  - id: one\n    url: {server.url}\n"
        "    fetch_articles: false\n    list: {item: div.card, link: a}\n",
        base_dir=tmp_path)


def _rows(conn: Connection) -> dict[str, str]:
    """Every stored item: URL → id."""
    return {row.url: row.id for row in conn.execute(select(items.c.url, items.c.id))}


def test_every_spelling_of_a_link_is_one_item(db_url: str, tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    listing = root / "index.html"
    clock = [T0]
    spellings = ["caf%c3%a9", "café", "caf%C3%A9", "ca%66%c3%A9"]
    with SiteServer(root) as server:
        site = server.url
        config = _config(server, db_url, tmp_path)
        with make_app(config, clock=lambda: clock[0]) as app:
            results = []
            for hour, link in enumerate(spellings):
                # Each run links the story in another spelling, next to one new story.
                listing.write_text(_cards(link, f"o{hour}"), encoding="utf-8")
                clock[0] = T0 + timedelta(hours=hour)
                result = run_source(app, config.sources[0])
                assert result.ok, result.errors
                results.append((result.new, result.updated))
            # All four spellings on one listing: one item.
            listing.write_text(_cards(*spellings), encoding="utf-8")
            clock[0] = T0 + timedelta(hours=5)
            together = run_source(app, config.sources[0])
            with app.store.engine.connect() as conn:
                stored = _rows(conn)
    assert results == [(2, 0), (1, 0), (1, 0), (1, 0)]
    assert (together.new, together.updated) == (0, 0)
    # Published as first found; the id made from the key every spelling shares.
    assert stored == {f"{site}caf%c3%a9": item_id(f"{site}caf%C3%A9"),
                      **{f"{site}o{hour}": item_id(f"{site}o{hour}") for hour in range(4)}}


def _as_stored_before(conn: Connection, url: str, old_id: str) -> None:
    """Give the item at `url` the id the code before uri_key made: from the link as found."""
    row = conn.execute(select(items).where(items.c.url == url)).one()._asdict()
    links = [link._asdict() for link in conn.execute(
        select(item_sources).where(item_sources.c.item_id == row["id"]))]
    conn.execute(item_sources.delete().where(item_sources.c.item_id == row["id"]))
    conn.execute(items.delete().where(items.c.id == row["id"]))
    conn.execute(items.insert().values({**row, "id": old_id}))
    conn.execute(item_sources.insert(), [{**link, "item_id": old_id} for link in links])


def test_items_stored_with_ids_of_their_spelling_are_found_after_the_upgrade(
        db_url: str, tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    listing = root / "index.html"
    links = ("caf%c3%a9", "новости", "th%c3%A9?x=%7e")
    listing.write_text(_cards(*links), encoding="utf-8")
    clock = [T0]
    with SiteServer(root) as server:
        site = server.url
        published = {f"{site}caf%c3%a9": f"{site}caf%c3%a9",
                     f"{site}%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8": f"{site}новости",
                     f"{site}th%c3%A9?x=%7e": f"{site}th%c3%A9?x=%7e"}
        config = _config(server, db_url, tmp_path)
        with make_app(config, clock=lambda: clock[0]) as app:
            assert run_source(app, config.sources[0]).new == 3
            with app.store.engine.begin() as conn:
                assert set(_rows(conn)) == set(published)
                for url, found in published.items():
                    _as_stored_before(conn, url, item_id(found))
        listing.write_text(_cards(*links, "new"), encoding="utf-8")
        clock[0] = T0 + timedelta(hours=1)
        with make_app(config, clock=lambda: clock[0]) as app:
            result = run_source(app, config.sources[0])
            with app.store.engine.connect() as conn:
                stored = {row.url: (row.id, row.last_seen) for row in conn.execute(
                    select(items.c.url, items.c.id, items.c.last_seen))}
    assert result.ok, result.errors
    # The three stories were found under their stored ids and URLs: only "new" is new.
    assert (result.new, result.updated) == (1, 0)
    now = clock[0]
    assert stored == {**{url: (item_id(found), now) for url, found in published.items()},
                      f"{site}new": (item_id(f"{site}new"), now)}


def test_an_item_stored_before_the_key_is_found_under_another_spelling(
        db_url: str, tmp_path: Path) -> None:
    """An item stored with the id of the spelling first found (`/caf%c3%a9`), by a store
    from before items kept their URL's key (0016), is the item of its link spelt otherwise
    (`/café`, `/caf%C3%A9`): the upgrade gives it its key, the run finds it by that key."""
    root = tmp_path / "site"
    root.mkdir()
    listing = root / "index.html"
    listing.write_text(_cards("café", "caf%C3%A9", "new"), encoding="utf-8")
    with SiteServer(root) as server:
        site = server.url
        stored_url = f"{site}caf%c3%a9"
        old_id = item_id(stored_url)          # not item_id(uri_key(...)): made before it
        assert old_id != item_id(uri_key(stored_url))
        store_at(db_url, "0015")
        # As the listing's card makes it (no dates, no text), stored an hour earlier.
        old = Item(id=old_id, source_id="one", url=stored_url, title="Story café",
                   published=T0, updated=T0, summary="", content="", published_precision="none")
        row = item_row(replace(old, content_hash=content_hash(old)), T0)
        del row["url_key"]                                    # a column of 0016
        engine = create_engine(db_url)
        try:
            with engine.begin() as conn:
                conn.execute(items.insert(), [row])
                conn.execute(item_sources.insert(), [
                    {"item_id": old_id, "source_id": "one", "first_seen": T0}])
        finally:
            engine.dispose()
        config = _config(server, db_url, tmp_path)
        with make_app(config, clock=lambda: T0 + timedelta(hours=1)) as app:   # migrates
            result = run_source(app, config.sources[0])
            with app.store.engine.connect() as conn:
                stored = {row.url: (row.id, row.url_key) for row in conn.execute(
                    select(items.c.url, items.c.id, items.c.url_key))}
    assert result.ok, result.errors
    assert (result.new, result.updated) == (1, 0)       # only "new"
    assert stored == {stored_url: (old_id, f"{site}caf%C3%A9"),
                      f"{site}new": (item_id(f"{site}new"), f"{site}new")}
