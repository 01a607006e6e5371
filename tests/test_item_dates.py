"""Feed order and dates: undated items keep the listing's order with distinct instants; a
story carried by two sources is one item that does not flip-flop between their versions.

Real sources on loopback (SiteServer), real SQLite, a controlled clock.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicator.app import App, make_app
from syndicator.config import parse_config
from syndicator.demo.server import SiteServer
from syndicator.model import Item
from syndicator.pipeline import run_source

T0 = datetime(2026, 3, 2, 12, 0, 0, 500_000, tzinfo=UTC)


def _rss(items: str) -> str:
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f'<title>Wire</title><link>http://wire.example/</link>{items}</channel></rss>')


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SiteServer]:
    root = tmp_path / "site"
    root.mkdir()
    with SiteServer(root) as server:
        yield server


def _app(server: SiteServer, tmp_path: Path, sources: str, clock: Clock) -> App:
    text = ("timezone: UTC\nfetch: {delay: 0s, allow_private: true}\n"
            f"storage: sqlite:///{tmp_path / 'items.db'}\nsources:\n{sources}")
    config = parse_config(text.replace("${SITE}", server.url), base_dir=tmp_path)
    return make_app(config, clock=clock)


def _items(app: App, source_id: str) -> list[Item]:
    return app.store.latest([source_id], limit=100)


def test_undated_items_get_distinct_instants_in_listing_order(site: SiteServer,
                                                              tmp_path: Path) -> None:
    entries = "".join(f"<item><title>Story {n}</title><link>http://wire.example/{n}</link>"
                      f"<description>Text {n}</description></item>" for n in range(16))
    (Path(site.root) / "undated.xml").write_text(_rss(entries))
    clock = Clock(T0)
    with _app(site, tmp_path, '  - {id: wire, type: feed, url: "${SITE}undated.xml"}\n',
              clock) as app:
        assert run_source(app, app.config.source("wire")).new == 16
        items = _items(app, "wire")          # newest first
        assert [item.title for item in items] == [f"Story {n}" for n in range(16)]
        instants = [item.published for item in items]
        assert len(set(instants)) == 16
        # whole seconds apart: RSS and Atom dates carry no fraction of a second
        assert all(a - b >= timedelta(seconds=1) for a, b in itertools.pairwise(instants))
        assert instants[0] == T0 and all(item.published_precision == "none" for item in items)
        # a later run keeps them where they are
        clock.now = T0 + timedelta(hours=1)
        again = run_source(app, app.config.source("wire"))
        assert again.new == again.updated == 0
        assert [item.published for item in _items(app, "wire")] == instants


def _two_sources(site: SiteServer, *, rss_summary: str, atom_summary: str,
                 atom_updated: str) -> None:
    root = Path(site.root)
    (root / "wire.rss").write_text(_rss(
        "<item><title>Breaking</title><link>http://wire.example/story</link>"
        f"<pubDate>Mon, 02 Mar 2026 09:00:00 GMT</pubDate><description>{rss_summary}"
        "</description></item>"))
    (root / "wire.atom").write_text(
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        '<title>Wire</title><id>urn:wire</id><updated>2026-03-02T09:30:00Z</updated>'
        '<entry><title>Breaking</title><link href="http://wire.example/story"/>'
        '<id>urn:wire:story</id><published>2026-03-02T09:00:00Z</published>'
        f'<updated>{atom_updated}</updated><summary>{atom_summary}</summary></entry></feed>')


def test_one_story_from_two_sources_does_not_flip_flop(site: SiteServer,
                                                       tmp_path: Path) -> None:
    _two_sources(site, rss_summary="The RSS wording.", atom_summary="The Atom wording.",
                 atom_updated="2026-03-02T09:30:00Z")
    sources = ('  - {id: rss, type: feed, url: "${SITE}wire.rss"}\n'
               '  - {id: atom, type: feed, url: "${SITE}wire.atom"}\n')
    clock = Clock(T0)
    with _app(site, tmp_path, sources, clock) as app:
        seen: list[Item] = []
        for step in range(6):
            clock.now = T0 + timedelta(minutes=10 * step)
            source = "rss" if step % 2 == 0 else "atom"
            result = run_source(app, app.config.source(source))
            assert result.ok, result.errors
            (item,) = _items(app, source)
            seen.append(item)
        # One item, in both feeds, with the first source's version throughout; its dates
        # are the ones the feed gave, never the time of a run.
        assert {item.id for item in seen} == {seen[0].id}
        assert {item.summary for item in seen} == {"The RSS wording."}
        assert {item.content_hash for item in seen} == {seen[0].content_hash}
        assert {item.updated for item in seen} == {datetime(2026, 3, 2, 9, tzinfo=UTC)}

        # The Atom version stops mattering, and the RSS one still changes the item: its
        # `updated` moves to the time of that run (RSS gives no modification date) once.
        _two_sources(site, rss_summary="The RSS wording, corrected.",
                     atom_summary="The Atom wording, again.",
                     atom_updated="2026-03-02T11:00:00Z")
        clock.now = T0 + timedelta(hours=2)
        assert run_source(app, app.config.source("atom")).updated == 0
        assert run_source(app, app.config.source("rss")).updated == 1
        (item,) = _items(app, "atom")
        assert item.summary == "The RSS wording, corrected."
        assert item.updated == clock.now
        clock.now = T0 + timedelta(hours=3)
        assert run_source(app, app.config.source("atom")).updated == 0
        assert _items(app, "rss") == [replace(item, source_id="rss")]
