"""One story linked in several spellings of its URL is one item: as an IRI (`/café`) or
percent-encoded (`/caf%C3%A9`), with the hex of an escape in either case (`%c3%a9`), or an
unreserved character escaped (`/%63af`). Items are told apart by the URL as published
(uris.uri, RFC 3986 §6.2.2), and items stored before under another spelling (with the id
made from it) are found after the upgrade, never stored a second time (migration 0015).
Real listings on loopback; SQLite and the machine's PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Connection, select

from syndicator.app import make_app
from syndicator.config import Config, parse_config
from syndicator.demo.server import SiteServer
from syndicator.normalise import item_id
from syndicator.pipeline import run_source
from syndicator.store.schema import item_sources, items, translation_claims
from tests.test_store import T0, _downgrade, db_url  # noqa: F401  (db_url: a fixture)


def _cards(*links: str) -> str:
    return "".join(f'<div class="card"><a href="/{link}">Story {n}</a></div>'
                   for n, link in enumerate(links))


def _config(server: SiteServer, db: str, tmp_path: Path) -> Config:
    return parse_config(
        "timezone: UTC\nfetch: {delay: 0s, allow_private: true}\n"
        f"storage: {db}\nsources:\n  - id: one\n    url: {server.url}\n"
        "    fetch_articles: false\n    list: {item: div.card, link: a}\n",
        base_dir=tmp_path)


def _rows(conn: Connection) -> dict[str, str]:
    """Every stored item: URL → id."""
    return {row.url: row.id for row in conn.execute(select(items.c.url, items.c.id))}


def test_every_spelling_of_a_link_is_one_item(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    root = tmp_path / "site"
    root.mkdir()
    listing = root / "index.html"
    clock = [T0]
    spellings = ["caf%c3%a9", "café", "%63af%C3%A9", "caf%C3%A9"]
    with SiteServer(root) as server:
        site = server.url
        config = _config(server, db_url, tmp_path)
        with make_app(config, clock=lambda: clock[0]) as app:
            results = []
            for hour, link in enumerate(spellings):
                # Each run links the story in another spelling, next to one new story.
                listing.write_text(_cards(link, f"other-{hour}"), encoding="utf-8")
                clock[0] = T0 + timedelta(hours=hour)
                result = run_source(app, config.sources[0])
                assert result.ok, result.errors
                results.append((result.new, result.updated))
            # All four spellings on one listing: one item, the first card's.
            listing.write_text(_cards(*spellings), encoding="utf-8")
            clock[0] = T0 + timedelta(hours=5)
            together = run_source(app, config.sources[0])
            with app.store.engine.connect() as conn:
                stored = _rows(conn)
    url = f"{site}caf%C3%A9"
    assert results == [(2, 0), (1, 0), (1, 0), (1, 0)]
    assert (together.new, together.updated) == (0, 0)
    assert stored == {url: item_id(url), **{f"{site}other-{hour}": item_id(f"{site}other-{hour}")
                                            for hour in range(4)}}


def _as_stored_before(conn: Connection, url: str, old_id: str, old_url: str, *,
                      earlier: timedelta = timedelta(0)) -> None:
    """Make the item at `url` look as the code before 0015 stored it: under `old_url` with
    the id made from the spelling it was found in (`earlier`: first seen that much before,
    under a copy of its own when the copy's URL differs)."""
    row = conn.execute(select(items).where(items.c.url == url)).one()._asdict()
    links = [link._asdict() for link in conn.execute(
        select(item_sources).where(item_sources.c.item_id == row["id"]))]
    keep = bool(earlier) and old_url != url
    if not keep:
        conn.execute(item_sources.delete().where(item_sources.c.item_id == row["id"]))
        conn.execute(items.delete().where(items.c.id == row["id"]))
    first_seen = row["first_seen"] - earlier
    conn.execute(items.insert().values({**row, "id": old_id, "url": old_url,
                                        "first_seen": first_seen}))
    conn.execute(item_sources.insert(), [
        {**link, "item_id": old_id, "first_seen": first_seen} for link in links])


def test_items_stored_under_an_older_spelling_are_found_after_the_upgrade(
        db_url: str, tmp_path: Path) -> None:  # noqa: F811
    root = tmp_path / "site"
    root.mkdir()
    listing = root / "index.html"
    links = ("caf%c3%a9", "новости", "th%c3%A9")
    listing.write_text(_cards(*links), encoding="utf-8")
    clock = [T0]
    with SiteServer(root) as server:
        site = server.url
        config = _config(server, db_url, tmp_path)
        old: Callable[[str], str] = lambda link: item_id(f"{site}{link}")   # noqa: E731
        with make_app(config, clock=lambda: clock[0]) as app:
            assert run_source(app, config.sources[0]).new == 3
            with app.store.engine.begin() as conn:
                # Before 0015: ids made from the link as found, its escapes kept as found.
                _as_stored_before(conn, f"{site}caf%C3%A9", old("caf%c3%a9"),
                                  f"{site}caf%c3%a9")
                _as_stored_before(conn, f"{site}%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8",
                                  old("новости"),
                                  f"{site}%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8")
                # A story the old code stored twice (linked `th%c3%A9`, earlier `th%C3%a9`).
                _as_stored_before(conn, f"{site}th%C3%A9", old("th%c3%A9"),
                                  f"{site}th%c3%A9")
                _as_stored_before(conn, f"{site}th%c3%A9", old("th%C3%a9"),
                                  f"{site}th%C3%a9", earlier=timedelta(days=1))
                conn.execute(translation_claims.insert(), [
                    {"item_id": old("новости"), "url": f"{site}en/caf%c3%a9", "language": "en"},
                    {"item_id": old("новости"), "url": f"{site}en/caf%C3%A9", "language": "en"}])
                _downgrade(conn, "0014")
                assert len(_rows(conn)) == 4
        listing.write_text(_cards(*links, "new"), encoding="utf-8")
        clock[0] = T0 + timedelta(hours=1)
        with make_app(config, clock=lambda: clock[0]) as app:
            result = run_source(app, config.sources[0])
            with app.store.engine.connect() as conn:
                stored = {row.url: (row.id, row.last_seen) for row in conn.execute(
                    select(items.c.url, items.c.id, items.c.last_seen))}
                claims = set(conn.execute(select(translation_claims.c.item_id,
                                                 translation_claims.c.url)))
    assert result.ok, result.errors
    # The three stories were found under their stored ids: only the new card is new.
    assert (result.new, result.updated) == (1, 0)
    now = clock[0]
    assert stored == {
        f"{site}caf%C3%A9": (old("caf%c3%a9"), now),
        f"{site}%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8": (old("новости"), now),
        f"{site}th%C3%A9": (old("th%C3%a9"), now),         # the older of the two stays
        f"{site}new": (item_id(f"{site}new"), now),
    }
    assert claims == {(old("новости"), f"{site}en/caf%C3%A9")}
