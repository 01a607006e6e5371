"""Red team on item identity (issue 22): feeds as generators write them.

Many feed generators (page-to-feed services, small CMSs) make an entry's guid from its title
and link (a hash): correcting a headline renames the guid too. The corrected entry, alone
on its URL with its published time unchanged, is the same story: updated, not a second
item, and not pushed twice. A different entry that later takes a fixed URL (a daily
briefing page) comes with a time of its own and stays a new item. Real feeds on loopback,
real SQLite, push deliveries queued by the runs.
"""

from __future__ import annotations

import hashlib
import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from syndicator.demo.server import SiteServer
from syndicator.pipeline import run_source
from tests.test_dates_wild import _app, stored_after_a_run
from tests.test_entry_identity import FEED, _rss, _runs, pushing_app

STORY = "http://w.example/2026/12/bridge"


def _hashed(title: str, published: str, link: str = STORY) -> str:
    """A feed of one entry whose guid is a hash of its title and link."""
    guid = hashlib.md5(f"{title}|{link}".encode()).hexdigest()
    return _rss(f"<item><title>{title}</title><link>{link}</link>"
                f'<guid isPermaLink="false">{guid}</guid><pubDate>{published}</pubDate>'
                f"<description>{title}: what happened.</description></item>")




def test_a_headline_corrected_under_a_hashed_guid_is_one_story_pushed_once(
        site: SiteServer, tmp_path: Path) -> None:
    when = "Sun, 06 Dec 2026 09:15:00 GMT"
    feeds = [_rss(""),                              # the target's first run: nothing yet
             _hashed("Bridge closd after flood", when),
             _hashed("Bridge closed after flood", when)]
    with pushing_app(site, tmp_path) as app:
        runs = list(_runs(app, site, feeds))
        rows = app.store.deliveries("tg")
        items = app.store.items_by_id(row.item_id for row in rows)
    (_empty, _none), (first, before), (second, after) = runs
    assert (first.new, second.new, second.updated) == (1, 0, 1), after
    assert after["Bridge closed after flood"].id == before["Bridge closd after flood"].id
    assert after["Bridge closed after flood"].url == STORY
    assert len(rows) == 1, [(items[row.item_id].title, row.state) for row in rows]


def test_a_new_briefing_on_a_fixed_url_is_a_new_story(
        site: SiteServer, tmp_path: Path) -> None:
    briefing = "http://w.example/briefing"
    feeds = [_rss(""),
             _hashed("Morning briefing: floods", "Sun, 06 Dec 2026 07:00:00 GMT", briefing),
             _hashed("Evening briefing: repairs", "Sun, 06 Dec 2026 18:00:00 GMT", briefing)]
    with pushing_app(site, tmp_path) as app:
        runs = list(_runs(app, site, feeds))
        rows = app.store.deliveries("tg")
    (_empty, _none), (first, _before), (second, after) = runs
    assert (first.new, second.new) == (1, 1)
    assert len({item.id for item in after.values()}) == 2
    assert len(rows) == 2


def test_json_feed_items_with_numeric_ids_on_one_url_are_told_apart(
        site: SiteServer, tmp_path: Path) -> None:
    # JSON Feed 1.1: an id given as a number is coerced to a string by the reader. A
    # micro-blog's items all linking its page are told apart by those ids.
    page = "http://w.example/notes"
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "Notes",
            "items": [{"id": n, "url": page, "content_text": f"Note number {n} of the day."}
                      for n in (101, 102, 103)]}
    (Path(site.root) / "feed.json").write_text(json.dumps(feed), encoding="utf-8")
    stored = stored_after_a_run(site, tmp_path,
                                "  - {id: notes, type: feed, url: \"${SITE}feed.json\"}\n")
    assert sorted(stored) == [f"Note number {n} of the day" for n in (101, 102, 103)]
    assert sorted(item.url for item in stored.values()) == [f"{page}#{n}"
                                                            for n in (101, 102, 103)]


# --- a listing whose article pages all name one canonical URL -------------------------------

def _canonical_site(root: Path, canonical: str, titles: list[str]) -> str:
    """A listing at /news/ of one card per title, each article page naming `canonical` as
    its rel=canonical (a template bug: the section page, or one fixed page)."""
    (root / "news").mkdir(exist_ok=True)
    cards = []
    for n, title in enumerate(titles):
        cards.append(f'<div class="card"><a href="/news/{n}.html">{title}</a></div>')
        (root / "news" / f"{n}.html").write_text(
            f'<!doctype html><html><head><title>{title}</title><link rel="canonical" '
            f'href="{canonical}"></head><body><article><h1>{title}</h1><p>{title}: the story '
            "as the paper tells it, in a paragraph of its own.</p></article></body></html>",
            encoding="utf-8")
    (root / "news" / "index.html").write_text(
        f"<!doctype html><html><body>{''.join(cards)}</body></html>", encoding="utf-8")
    return "  - id: news\n    url: ${SITE}news/\n    list: {item: div.card, link: a}\n"


@pytest.mark.parametrize("canonical", ["/news/", "/about.html"])
def test_stories_whose_pages_name_one_canonical_url_are_not_merged(
        canonical: str, site: SiteServer, tmp_path: Path) -> None:
    titles = ["Bridge closed", "Council votes", "School reopens"]
    source = _canonical_site(Path(site.root), canonical, titles[:2])
    first = stored_after_a_run(site, tmp_path, source)
    assert sorted(first) == titles[:2], first
    assert {item.url.removeprefix(site.url) for item in first.values()} == {
        "news/0.html", "news/1.html"}


def test_a_later_story_naming_the_same_canonical_url_is_a_new_item(
        site: SiteServer, tmp_path: Path) -> None:
    titles = ["Bridge closed", "Council votes", "School reopens"]
    source = _canonical_site(Path(site.root), "/about.html", titles[:1])
    stored_after_a_run(site, tmp_path, source)
    _canonical_site(Path(site.root), "/about.html", titles)
    later = stored_after_a_run(site, tmp_path, source)
    assert sorted(later) == sorted(titles), later


def test_one_story_under_two_links_naming_its_canonical_is_one_item(
        site: SiteServer, tmp_path: Path) -> None:
    # The same story linked from the listing and its AMP copy: one item, the canonical.
    root = Path(site.root)
    source = _canonical_site(root, "/news/0.html", ["Bridge closed", "Bridge closed"])
    stored = stored_after_a_run(site, tmp_path, source)
    assert [item.url.removeprefix(site.url) for item in stored.values()] == ["news/0.html"]


def _story_page(title: str, canonical: str | None) -> str:
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    return (f"<!doctype html><html><head><title>{title}</title>{link}</head><body><article>"
            f"<h1>{title}</h1><p>The bridge over the river was closed in the night after "
            "the water rose above the warning mark.</p></article></body></html>")


def test_one_story_linked_twice_under_two_titles_is_one_item(
        site: SiteServer, tmp_path: Path) -> None:
    # A front page's lead block links the story with a short title and a query of its own,
    # its list with the headline: the page names one canonical URL, so one item.
    root = Path(site.root)
    (root / "news").mkdir()
    (root / "news" / "1.html").write_text(_story_page("Bridge closed after flood",
                                                      "/news/1.html"), encoding="utf-8")
    (root / "index.html").write_text(
        '<!doctype html><html><body><div class="card"><a href="/news/1.html?from=lead">'
        'Bridge closed</a></div><div class="card"><a href="/news/1.html">Bridge closed '
        "after flood</a></div></body></html>", encoding="utf-8")
    stored = stored_after_a_run(site, tmp_path, "  - id: news\n    url: ${SITE}index.html\n"
                                "    list: {item: div.card, link: a}\n")
    assert [item.url.removeprefix(site.url) for item in stored.values()] == ["news/1.html"]


def _slash_redirect(handler: BaseHTTPRequestHandler, path: str) -> bool:
    """/news/1 → 301 /news/1/, as sites send a link without its trailing slash on."""
    if path != "/news/1":
        return False
    handler.send_response(301)
    handler.send_header("Location", "/news/1/")
    handler.send_header("Content-Length", "0")
    handler.end_headers()
    return True


def test_a_link_the_site_redirects_to_its_slashed_form_is_that_pages_item(
        tmp_path: Path) -> None:
    # /news/1 answers a redirect to /news/1/ (the site's own form), and the page names no
    # canonical URL: the two links are one story.
    root = tmp_path / "site"
    (root / "news" / "1").mkdir(parents=True)
    (root / "news" / "1" / "index.html").write_text(_story_page("Bridge closed", None),
                                                    encoding="utf-8")
    (root / "index.html").write_text(
        '<!doctype html><html><body><div class="card"><a href="/news/1/">Bridge closed</a>'
        '</div><div class="card"><a href="/news/1">Bridge closed after flood</a></div>'
        "</body></html>", encoding="utf-8")
    with SiteServer(root, hook=_slash_redirect) as site:
        stored = stored_after_a_run(site, tmp_path, "  - id: news\n    url: ${SITE}index.html"
                                    "\n    list: {item: div.card, link: a}\n")
        assert [item.url.removeprefix(site.url) for item in stored.values()] == ["news/1/"]


def test_entries_sharing_a_link_with_nothing_to_tell_them_apart_are_reported(
        site: SiteServer, tmp_path: Path) -> None:
    # No guid, no #fragment: one link is one item, and the run says what it merged.
    page = "http://w.example/updates"
    (Path(site.root) / "feed.xml").write_text(_rss("".join(
        f"<item><title>Update {n}</title><link>{page}</link>"
        f"<description>Update number {n}.</description></item>" for n in (1, 2, 3))),
        encoding="utf-8")
    with _app(site, tmp_path, FEED) as app:
        result = run_source(app, app.config.sources[0])
        stored = app.store.latest(["wire"], limit=10)
    assert result.ok, result.errors
    assert [item.title for item in stored] == ["Update 1"]
    assert any("2 entries share the link of another" in line for line in result.warnings), (
        result.warnings)
