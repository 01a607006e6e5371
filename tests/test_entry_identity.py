"""Each story keeps one item across runs, whichever order its neighbours arrive in (issue 22,
finding 5: identity).

- Feed entries on one URL under different guids: the entry first stored alone under the
  plain URL keeps that item (and its id), the others get items of their own, whether they
  join it, come alone later, or come first; a feed that renames an entry's guid keeps it.
- A listing walked over several pages decides its fragment identities with all its pages
  in the first run.
- Entries with different guids whose article pages name one `rel=canonical` stay apart.

Real feeds and pages on loopback, real SQLite, a controlled clock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from syndicator.app import App, make_app
from syndicator.config import parse_config
from syndicator.demo.server import SiteServer
from syndicator.model import Item, RunResult
from syndicator.pipeline import run_source
from syndicator.store.schema import items as t_items
from tests.push_support import telegram, with_targets
from tests.test_dates_wild import NOW, _app
from tests.test_item_dates import Clock

DIGEST = "http://digest.example/today"
FEED = "  - id: wire\n    type: feed\n    url: ${SITE}feed.xml\n"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SiteServer]:
    (tmp_path / "site").mkdir()
    with SiteServer(tmp_path / "site") as server:
        yield server


def _rss(entries: str) -> str:
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Digest</title><link>http://digest.example/</link>{entries}"
            "</channel></rss>")


def _briefs(names: str, *, guid: str = "urn:brief:{}", link: str = DIGEST) -> str:
    """One RSS entry per letter, each on `link`, under its own guid."""
    return _rss("".join(
        f"<item><title>Brief {name}</title><link>{link.format(name)}</link>"
        f'<guid isPermaLink="false">{guid.format(name)}</guid>'
        f"<description>What happened in {name}.</description></item>" for name in names))


def _stored(app: App, source: str = "wire") -> dict[str, Item]:
    items = app.store.latest([source], limit=100)
    by_title = {item.title: item for item in items}
    assert len(by_title) == len(items), "one story stored twice"
    return by_title


def _runs(app: App, site: SiteServer, feeds: list[str]) -> Iterator[tuple[RunResult,
                                                                          dict[str, Item]]]:
    """Serve each feed in turn, an hour apart, and run the source on it."""
    for hour, feed in enumerate(feeds):
        (Path(site.root) / "feed.xml").write_text(feed, encoding="utf-8")
        app.clock.now = NOW + timedelta(hours=hour)  # type: ignore[attr-defined]
        result = run_source(app, app.config.sources[0])
        assert result.ok, result.errors
        yield result, _stored(app)


# Which entries (A, B, C: guids urn:brief:A, ...; all on one URL) each run's feed holds, in
# feed order.
ORDERS = [["A", "AB"], ["A", "BA"], ["A", "B", "AB"], ["AB", "A", "B"], ["B", "AB", "A"],
          ["A", "BC", "CAB"], ["BA", "B", "A", "AB"]]


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(order) for order in ORDERS])
def test_entries_on_one_url_keep_one_item_each_whichever_order_they_come_in(
        site: SiteServer, tmp_path: Path, order: list[str]) -> None:
    ids: dict[str, str] = {}
    news = 0
    with _app(site, tmp_path, FEED) as app:
        for result, stored in _runs(app, site, [_briefs(names) for names in order]):
            news += result.new
            assert result.updated == 0          # nobody's item got another entry's text
            for title, item in stored.items():
                # Once made, an entry's item keeps its id (and its title: not overwritten).
                assert ids.setdefault(title, item.id) == item.id, (order, title)
    names = sorted(set("".join(order)))
    assert sorted(ids) == [f"Brief {name}" for name in names]
    assert len(set(ids.values())) == len(names)
    assert news == len(names)                  # each entry new once: pushed once


def pushing_app(site: SiteServer, tmp_path: Path) -> App:
    """The feed source `wire` in feed `wire`, pushed to Telegram target `tg`. Deliveries are
    queued in the run's transaction; nothing is sent here."""
    config = parse_config(
        "timezone: UTC\nfetch: {delay: 0s, allow_private: true}\n"
        f"storage: sqlite:///{tmp_path / 'items.db'}\nsources:\n"
        f"{FEED.replace('${SITE}', site.url)}"
        "feeds:\n  - {id: wire, title: Wire, sources: [wire]}\n", base_dir=tmp_path)
    config = with_targets(config, telegram("tg", api_url="http://127.0.0.1:9/",
                                           feeds=("wire",)))
    return make_app(config, clock=Clock(NOW))


def test_each_entry_on_one_url_is_pushed_once(site: SiteServer, tmp_path: Path) -> None:
    with pushing_app(site, tmp_path) as app:
        # The first run's items are old news to a new target (suppressed), the rest news.
        list(_runs(app, site, [_briefs("A"), _briefs("B"), _briefs("AB"), _briefs("CBA")]))
        rows = app.store.deliveries("tg")
        items = app.store.items_by_id(row.item_id for row in rows)
    assert len({row.item_id for row in rows}) == len(rows) == 3
    assert sorted((items[row.item_id].title, row.state) for row in rows) == [
        ("Brief A", "suppressed"), ("Brief B", "pending"), ("Brief C", "pending")]


def test_the_entry_first_alone_keeps_the_plain_url_when_others_join(
        site: SiteServer, tmp_path: Path) -> None:
    with _app(site, tmp_path, FEED) as app:
        (first, alone), (second, joined) = _runs(app, site, [_briefs("A"), _briefs("BA")])
    assert (first.new, second.new, second.updated) == (1, 1, 0)
    assert alone["Brief A"].url == DIGEST
    assert joined["Brief A"].id == alone["Brief A"].id and joined["Brief A"].url == DIGEST
    assert joined["Brief B"].url == f"{DIGEST}#urn:brief:B"


def test_an_entry_whose_guid_is_renamed_stays_its_item(site: SiteServer,
                                                       tmp_path: Path) -> None:
    # The feed's generator changed its guid scheme: the same story, not a new one.
    with _app(site, tmp_path, FEED) as app:
        runs = list(_runs(app, site, [_briefs("A"), _briefs("A", guid="tag:new:{}")]))
    (_first, before), (second, after) = runs
    assert (second.new, second.updated) == (0, 0)
    assert after["Brief A"].id == before["Brief A"].id


def test_an_item_stored_before_names_were_is_its_titles_entry(
        site: SiteServer, tmp_path: Path) -> None:
    with _app(site, tmp_path, FEED) as app:
        runs = _runs(app, site, [_briefs("A"), _briefs("BA")])
        _first, before = next(runs)
        # As a store from before 0009 holds it: no entry_key.
        with app.store.engine.begin() as conn:
            conn.execute(update(t_items).values(entry_key=None))
        second, after = next(runs)
    assert (second.new, second.updated) == (1, 0)
    assert after["Brief A"].id == before["Brief A"].id
    assert after["Brief B"].url == f"{DIGEST}#urn:brief:B"


def test_an_edited_entry_alone_on_its_url_is_updated_not_duplicated(
        site: SiteServer, tmp_path: Path) -> None:
    # The common case the rule must leave alone: one entry per URL, edited.
    one = "http://w.example/{}"
    edited = _briefs("A", link=one).replace("Brief A", "Brief A, corrected")
    with _app(site, tmp_path, FEED) as app:
        runs = list(_runs(app, site, [_briefs("A", link=one), edited]))
    (_first, before), (second, after) = runs
    assert (second.new, second.updated) == (0, 1)
    assert after["Brief A, corrected"].id == before["Brief A"].id


# --- a listing of several pages ----------------------------------------------------------------

def _cards(links: list[tuple[str, str]], next_page: str | None = None) -> str:
    more = f'<a class="next" href="{next_page}">Older</a>' if next_page else ""
    return ('<!doctype html><html lang="en"><body>' + "".join(
        f'<div class="card"><a href="{href}">{title}</a></div>' for href, title in links)
        + f"{more}</body></html>")


PAGED = ("  - id: one\n    url: ${SITE}\n    fetch_articles: false\n"
         "    list: {item: div.card, link: a, next: a.next, max_pages: 3}\n")


def test_a_live_blogs_posts_on_several_listing_pages_are_told_apart_in_the_first_run(
        site: SiteServer, tmp_path: Path) -> None:
    root = Path(site.root)
    # Each listing page shows one post of the live blog: alone on its page, told apart
    # only by the cards of the other pages.
    (root / "index.html").write_text(_cards(
        [("/live#post-3", "Results"), ("/other", "Another story")], "/page2.html"),
        encoding="utf-8")
    (root / "page2.html").write_text(_cards([("/live#post-2", "Turnout")], "/page3.html"),
                                     encoding="utf-8")
    (root / "page3.html").write_text(_cards([("/live#post-1", "Polls open"),
                                             ("/live", "The live blog")]), encoding="utf-8")
    with _app(site, tmp_path, PAGED) as app:
        first = run_source(app, app.config.sources[0])
        stored = _stored(app, "one")
        app.clock.now = NOW + timedelta(hours=1)  # type: ignore[attr-defined]
        second = run_source(app, app.config.sources[0])
    assert (first.new, second.new, second.updated) == (5, 0, 0)
    assert {title: item.url for title, item in stored.items()} == {
        "Results": f"{site.url}live#post-3", "Turnout": f"{site.url}live#post-2",
        "Polls open": f"{site.url}live#post-1", "Another story": f"{site.url}other",
        "The live blog": f"{site.url}live"}
    # Undated, they keep the listing's order (newest first), the cards decided last too.
    assert list(stored) == ["Results", "Another story", "Turnout", "Polls open",
                            "The live blog"]


def test_a_post_on_the_listing_page_of_another_posts_item_gets_its_own(
        site: SiteServer, tmp_path: Path) -> None:
    # Post 1 was alone on its page (stored under the plain URL); post 2 comes alone later.
    root = Path(site.root)
    index = root / "index.html"
    index.write_text(_cards([("/live#post-1", "Polls open")]), encoding="utf-8")
    with _app(site, tmp_path, PAGED) as app:
        assert run_source(app, app.config.sources[0]).new == 1
        before = _stored(app, "one")["Polls open"]
        index.write_text(_cards([("/live#post-2", "Turnout")]), encoding="utf-8")
        app.clock.now = NOW + timedelta(hours=1)  # type: ignore[attr-defined]
        second = run_source(app, app.config.sources[0])
        stored = _stored(app, "one")
    assert (second.new, second.updated) == (1, 0)
    assert stored["Polls open"].id == before.id and stored["Polls open"].url == before.url
    assert stored["Turnout"].url == f"{site.url}live#post-2"


# --- one canonical URL, different guids ------------------------------------------------------

ARTICLES = "  - id: wire\n    type: feed\n    url: ${SITE}feed.xml\n    fetch_articles: true\n"


def _page(title: str) -> str:
    # Every page names the one story page as canonical (a CMS that points its variants
    # there, or a misconfigured one).
    return ('<!doctype html><html lang="en"><head><link rel="canonical" href="/story">'
            f"<title>{title}</title></head><body><article><h1>{title}</h1><p>{title} happened "
            "today, and here is what it means for the city and its people.</p></article>"
            "</body></html>")


def test_entries_whose_pages_name_one_canonical_url_stay_apart_when_their_guids_differ(
        site: SiteServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = Path(site.root)
    for name in "ABC":
        (root / name).write_text(_page(f"Brief {name}"), encoding="utf-8")
    link = site.url + "{}"
    feeds = [_briefs("A", link=link), _briefs("AB", link=link), _briefs("ABC", link=link),
             _briefs("C", link=link)]
    ids: dict[str, str] = {}
    with caplog.at_level(logging.INFO, logger="syndicator"), \
            _app(site, tmp_path, ARTICLES) as app:
        results = []
        for result, stored in _runs(app, site, feeds):
            results.append(result)
            for title, item in stored.items():
                assert ids.setdefault(title, item.id) == item.id, title
        urls = {title: item.url for title, item in _stored(app).items()}
    assert [(r.new, r.updated) for r in results] == [(1, 0), (1, 0), (1, 0), (0, 0)]
    # The first keeps the canonical URL it was stored under; the others their own links.
    assert urls == {"Brief A": f"{site.url}story", "Brief B": f"{site.url}B",
                    "Brief C": f"{site.url}C"}
    assert f"name {site.url}story as their canonical URL: kept apart" in caplog.text


def test_entries_first_seen_together_on_one_canonical_url_keep_their_own_links(
        site: SiteServer, tmp_path: Path) -> None:
    root = Path(site.root)
    for name in "AB":
        (root / name).write_text(_page(f"Brief {name}"), encoding="utf-8")
    link = site.url + "{}"
    with _app(site, tmp_path, ARTICLES) as app:
        runs = list(_runs(app, site, [_briefs("AB", link=link), _briefs("A", link=link)]))
    (first, together), (second, alone) = runs
    assert (first.new, second.new) == (2, 0)
    assert together["Brief A"].url == f"{site.url}A" and together["Brief B"].url == f"{site.url}B"
    assert alone["Brief A"].id == together["Brief A"].id


def test_one_entry_under_a_link_and_its_canonical_is_one_item(site: SiteServer,
                                                              tmp_path: Path) -> None:
    # The same guid twice (a feed listing a story under two links): canonicalisation merges.
    root = Path(site.root)
    for name in "AB":
        (root / name).write_text(_page("Brief A"), encoding="utf-8")
    feed = _rss("".join(f"<item><title>Brief A</title><link>{site.url}{name}</link>"
                        '<guid isPermaLink="false">urn:brief:A</guid></item>'
                        for name in "AB"))
    with _app(site, tmp_path, ARTICLES) as app:
        ((result, stored),) = list(_runs(app, site, [feed]))
    assert result.new == 1 and stored["Brief A"].url == f"{site.url}story"


def test_a_renamed_entry_keeps_its_item_under_its_pages_canonical_url(
        site: SiteServer, tmp_path: Path) -> None:
    (Path(site.root) / "A").write_text(_page("Brief A"), encoding="utf-8")
    link = site.url + "{}"
    # Renamed, with its summary and its page edited: the page is read again.
    renamed = _briefs("A", link=link, guid="tag:new:{}").replace("What happened", "What")
    with _app(site, tmp_path, ARTICLES) as app:
        runs = _runs(app, site, [_briefs("A", link=link), renamed])
        _first, before = next(runs)
        (Path(site.root) / "A").write_text(_page("Brief A").replace("today", "at noon"),
                                           encoding="utf-8")
        second, after = next(runs)
    assert (second.new, second.updated) == (0, 1)
    assert after["Brief A"].id == before["Brief A"].id
    assert after["Brief A"].url == f"{site.url}story"
