"""One identity rule for every source type (issue 22, finding 5, for HTML listings).

Cards that link to one page's distinct `#anchors` (a single-page site, a live blog) are
distinct items, as a feed's entries are; the same article linked with and without a
fragment, or with a fragment of no meaning (`#comments`), is one item; an item stored under
its fragment keeps it (and its id) when it is later alone on its page. Real listing pages on
loopback, real SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from syndicator.app import App
from syndicator.config import ListSelectors
from syndicator.demo.server import SiteServer
from syndicator.extract import extract_listing
from syndicator.model import Item, Page
from syndicator.pipeline import run_source
from tests.test_dates_wild import NOW, _app


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SiteServer]:
    """A listing site on loopback; each test writes the pages it serves."""
    (tmp_path / "site").mkdir()
    with SiteServer(tmp_path / "site") as server:
        yield server

LISTING_ONLY = ("  - id: one\n    url: ${SITE}\n    fetch_articles: false\n"
                "    list: {item: div.card, link: a}\n")
WITH_PAGES = ("  - id: one\n    url: ${SITE}\n"
              "    list: {item: div.card, link: a}\n")


def _cards(*links: tuple[str, str]) -> str:
    return ('<!doctype html><html lang="en"><body>' + "".join(
        f'<div class="card"><a href="{href}">{title}</a></div>' for href, title in links)
        + "</body></html>")


def _stored(app: App) -> dict[str, Item]:
    return {item.title: item for item in app.store.latest(["one"], limit=100)}


def test_a_single_page_site_whose_cards_link_to_its_anchors_stores_every_card(
        site: SiteServer, tmp_path: Path) -> None:
    root = Path(site.root)
    (root / "index.html").write_text(_cards(
        ("#mon", "Monday: the river rose"), ("#tue", "Tuesday: the bridge closed"),
        ("#wed", "Wednesday: the water fell")), encoding="utf-8")
    with _app(site, tmp_path, LISTING_ONLY) as app:
        result = run_source(app, app.config.sources[0])
        stored = _stored(app)
    assert result.ok and result.new == 3
    assert stored["Monday: the river rose"].url == f"{site.url}#mon"
    assert len({item.id for item in stored.values()}) == 3


def test_a_live_blog_keeps_its_posts_apart_through_its_article_page(
        site: SiteServer, tmp_path: Path) -> None:
    # The article page is fetched (and read by the page reader) for each post: the
    # identity the listing gave the card survives the merge with what the page says.
    root = Path(site.root)
    (root / "index.html").write_text(_cards(
        ("/live#post-1", "Polls open"), ("/live#post-2", "Turnout at noon")), encoding="utf-8")
    (root / "live").write_text('<!doctype html><html lang="en"><head><title>Live</title>'
                               '<link rel="canonical" href="/live"></head><body><article>'
                               "<p>Everything as it happens.</p></article></body></html>",
                               encoding="utf-8")
    with _app(site, tmp_path, WITH_PAGES) as app:
        assert run_source(app, app.config.sources[0]).new == 2
        urls = sorted(item.url for item in _stored(app).values())
    assert urls == [f"{site.url}live#post-1", f"{site.url}live#post-2"]


def test_one_article_linked_with_and_without_a_fragment_is_one_item(
        site: SiteServer, tmp_path: Path) -> None:
    root = Path(site.root)
    (root / "index.html").write_text(_cards(
        ("/story", "The story"), ("/story#video", "The story, with video"),
        ("/other#comments", "Another story"), ("/third#section-2", "A third story"),
        # A link to the listing page itself is a story only when its anchor tells it apart.
        ("#share", "Share"), ("/", "Home")),
        encoding="utf-8")
    with _app(site, tmp_path, LISTING_ONLY) as app:
        run_source(app, app.config.sources[0])
        urls = sorted(item.url for item in _stored(app).values())
    assert urls == [f"{site.url}other", f"{site.url}story", f"{site.url}third"]


def test_a_post_keeps_its_fragment_identity_when_it_is_left_alone_on_its_page(
        site: SiteServer, tmp_path: Path) -> None:
    root = Path(site.root)
    index = root / "index.html"
    index.write_text(_cards(("/live#post-1", "Polls open"), ("/live#post-2", "Turnout")),
                     encoding="utf-8")
    with _app(site, tmp_path, LISTING_ONLY) as app:
        assert run_source(app, app.config.sources[0]).new == 2
        before = _stored(app)["Turnout"]
        # The first post leaves the listing and the second is edited: the same item changes.
        index.write_text(_cards(("/live#post-2", "Turnout at noon")), encoding="utf-8")
        app.clock.now = NOW + timedelta(hours=1)  # type: ignore[attr-defined]
        second = run_source(app, app.config.sources[0])
        stored = _stored(app)
    assert (second.new, second.updated) == (0, 1)
    assert len(stored) == 2
    assert stored["Turnout at noon"].id == before.id
    assert stored["Turnout at noon"].url == f"{site.url}live#post-2"


def test_the_rule_is_the_feeds_rule() -> None:
    # extract_listing gives cards the identity entries.told_apart gives a feed's entries.
    text = _cards(("#a", "A"), ("#b", "B"), ("/x#only", "X"))
    page = Page(url="https://one.example/", final_url="https://one.example/", status=200,
                text=text, encoding="utf-8", content_type="text/html")
    cards = extract_listing(page, ListSelectors(item="div.card", link="a")).articles
    assert [card.identity for card in cards] == ["#a", "#b", None]


def test_a_post_first_seen_alone_keeps_its_item_when_others_join_it(
        site: SiteServer, tmp_path: Path) -> None:
    root = Path(site.root)
    index = root / "index.html"
    index.write_text(_cards(("/live#post-1", "Polls open")), encoding="utf-8")
    with _app(site, tmp_path, LISTING_ONLY) as app:
        assert run_source(app, app.config.sources[0]).new == 1
        before = _stored(app)["Polls open"]
        # A second post joins it: the fragments now tell them apart, and the first post
        # stays the item it was stored as (under the page's plain URL), not a new one.
        index.write_text(_cards(("/live#post-1", "Polls open"), ("/live#post-2", "Turnout")),
                         encoding="utf-8")
        app.clock.now = NOW + timedelta(hours=1)  # type: ignore[attr-defined]
        second = run_source(app, app.config.sources[0])
        stored = _stored(app)
    assert (second.new, second.updated) == (1, 0)
    assert sorted(item.url for item in stored.values()) == [f"{site.url}live",
                                                            f"{site.url}live#post-2"]
    assert stored["Polls open"].id == before.id
