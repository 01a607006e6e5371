"""Feeds whose entry guids change on every fetch while their links stay: each entry is one
item, stored and pushed once (extract/entries.py: an entry alone on its link under a new
guid is the link's stored item renamed when its title or its published time says so).
Entries of one fetch sharing one link (a feed linking every entry to its home page) are
told apart by their guids. Real feeds on loopback, real SQLite, the push deliveries queued
by the runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from syndicator.demo.server import SiteServer
from tests.test_entry_identity import _rss, _runs, pushing_app

LINKS = ("http://w.example/2026/12/bridge", "http://w.example/2026/12/road/")
TITLES = ("Bridge closed after flood", "Road reopens")


def _guid() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _rss_entries(fetch: int, *, guid: Callable[[int], str], dated: bool = True,
                 stamped: bool = False) -> str:
    """Both stories, each under a guid made anew by `guid(entry)`; dated by their own
    time, or (`stamped`) by the time of the fetch, as some generators do."""
    entries = []
    for n, (title, link) in enumerate(zip(TITLES, LINKS, strict=True)):
        hour = 10 + fetch if stamped else 8 + n
        date = f"<pubDate>Sun, 06 Dec 2026 {hour:02d}:00:00 GMT</pubDate>" if dated else ""
        entries.append(f"<item><title>{title}</title><link>{link}</link>"
                       f'<guid isPermaLink="{str(guid(n).startswith("http")).lower()}">'
                       f"{guid(n)}</guid>{date}<description>{title}: what happened."
                       "</description></item>")
    return _rss("".join(entries))


def _atom_entries(fetch: int) -> str:
    entries = "".join(
        f"<entry><title>{title}</title><link href='{link}'/><id>{_guid()}</id>"
        f"<updated>2026-12-06T{10 + fetch:02d}:00:00Z</updated>"
        f"<summary>{title}: what happened.</summary></entry>"
        for title, link in zip(TITLES, LINKS, strict=True))
    return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>Wire</title><id>urn:wire</id><updated>2026-12-06T10:00:00Z</updated>"
            f"{entries}</feed>")


EARLIER = _rss("<item><title>Earlier story</title><link>http://w.example/2026/11/earlier</link>"
               '<guid isPermaLink="false">urn:wire:earlier</guid></item>')
FEEDS: dict[str, Callable[[int], str]] = {
    "urn guids": lambda fetch: _rss_entries(fetch, guid=lambda n: _guid()),
    "stamped with the fetch time": lambda fetch: _rss_entries(
        fetch, guid=lambda n: _guid(), stamped=True),
    "undated": lambda fetch: _rss_entries(fetch, guid=lambda n: _guid(), dated=False),
    "permalink guids with a session": lambda fetch: _rss_entries(
        fetch, guid=lambda n: f"{LINKS[n]}?session={uuid.uuid4().hex}"),
    "atom ids": _atom_entries,
}


@pytest.mark.parametrize("kind", list(FEEDS))
def test_entries_whose_guids_change_on_every_fetch_are_stored_and_pushed_once(
        site: SiteServer, tmp_path: Path, kind: str) -> None:
    # The first run stores an earlier story (old news to the target: not pushed); the
    # entries after it are news, pushed once each, however often their guids change.
    feeds = [EARLIER, *(FEEDS[kind](fetch) for fetch in range(1, 5))]
    with pushing_app(site, tmp_path) as app:
        runs = list(_runs(app, site, feeds))
        rows = [row for row in app.store.deliveries("tg") if row.state != "suppressed"]
        stored = {item.title: item for item in app.store.latest(["wire"], limit=100)}
    assert [result.new for result, _items in runs] == [1, 2, 0, 0, 0]
    assert sorted(stored) == sorted([*TITLES, "Earlier story"])
    assert sorted(row.item_id for row in rows) == sorted(stored[title].id for title in TITLES)
    assert {row.state for row in rows} == {"pending"}


def test_entries_of_one_fetch_on_one_link_are_told_apart_by_their_guids(
        site: SiteServer, tmp_path: Path) -> None:
    # Every entry links to the home page: the link names no story, the guid does.
    home = "http://w.example/"
    feed = _rss("".join(
        f"<item><title>{title}</title><link>{home}</link>"
        f'<guid isPermaLink="false">urn:wire:{n}</guid>'
        f"<description>{title}: what happened.</description></item>"
        for n, title in enumerate(TITLES)))
    with pushing_app(site, tmp_path) as app:
        runs = list(_runs(app, site, [_rss(""), feed, feed]))
        rows = app.store.deliveries("tg")
    (_empty, _none), (first, stored), (again, _same) = runs
    assert (first.new, again.new, again.updated) == (2, 0, 0)
    assert sorted(stored) == sorted(TITLES)
    assert len({item.id for item in stored.values()}) == 2 and len(rows) == 2
