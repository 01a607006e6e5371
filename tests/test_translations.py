"""One story in several languages, end to end: a fixture site (tests/translation_site.py)
whose stories exist in one, two or three languages, published on different days, fetched
day by day; the stories the store forms are exactly the true ones, the decoy's one-way
hreflang joins nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import httpx
import pytest

from syndicator.app import App, make_app
from syndicator.check import check_source
from syndicator.cli import run_sources
from syndicator.demo.server import SiteServer
from syndicator.extract import parse_feed
from syndicator.fetch import Fetcher
from syndicator.model import Page
from syndicator.publish import build_feeds
from syndicator.push import dispatch_due
from syndicator.push.subscribers import add_confirmed
from syndicator.web.app import create_web_app
from syndicator.web.cache import FeedCache
from syndicator.web.context import WebContext
from syndicator.web.embed import embed_routes
from tests.conftest import Site, serve_site
from tests.push_support import SmtpServer, email, telegram, with_targets
from tests.test_web import FakeStatus, Server
from tests.translation_site import LANGUAGES, true_stories, write_site


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    root = tmp_path / "site"
    write_site(root, day=1)
    with serve_site(root, root / "config.yaml", "SITE_URL", tmp_path) as served:
        yield served


def _fetch(app: App, order: tuple[str, ...] = LANGUAGES) -> None:
    results = run_sources(app, [f"site-{lang}" for lang in order], echo=lambda line: None)
    assert all(r.ok for r in results), [r.errors for r in results]


def stories(app: App, server: SiteServer) -> set[frozenset[str]]:
    """The stored stories, as sets of the versions' paths."""
    items = app.store.latest([f"site-{lang}" for lang in LANGUAGES], limit=100)
    versions = app.store.translations_of(item.id for item in items)
    prefix = server.url.rstrip("/")
    return {frozenset(url.removeprefix(prefix) for url in
                      [item.url, *(v.url for v in versions.get(item.id, ()))])
            for item in items}


def test_stories_published_on_different_days_are_grouped_exactly(site: Site) -> None:
    root = site.server.root
    with site.app() as app:
        _fetch(app)
        write_site(root, day=2)
        _fetch(app)
        # Day 3: Belarusian first, so `storm` in Belarusian names an English page that is
        # not stored yet; English `forum` names a Belarusian page stored on day 1, whose
        # stored claims (read before the translation existed) do not name it back.
        write_site(root, day=3)
        _fetch(app, ("be", "ru", "en"))
        assert stories(app, site.server) == true_stories()
        # Nothing changes when nothing changed.
        _fetch(app)
        assert stories(app, site.server) == true_stories()


def test_the_old_side_is_read_again_only_when_it_does_not_name_back(site: Site) -> None:
    root = site.server.root
    with site.app() as app:
        _fetch(app)
        write_site(root, day=2)
        site.server.requests.clear()
        _fetch(app)
        fetched = {path for _method, path, _headers in site.server.requests}
        # The Russian `vote` names the English one, stored on day 1 without it: read again;
        # pages of day 1 that nothing new names are not.
        assert "/en/news/vote.html" in fetched
        assert not fetched & {"/en/news/museum.html", "/be/news/forum.html"}
        assert stories(app, site.server) >= {
            frozenset({"/en/news/vote.html", "/ru/news/vote.html"}),
            frozenset({"/en/news/border.html", "/ru/news/border.html"}),
            frozenset({"/en/news/decoy.html"})}


def _three_days(app: App, root: Path) -> None:
    _fetch(app)
    write_site(root, day=2)
    _fetch(app)
    write_site(root, day=3)
    _fetch(app, ("be", "ru", "en"))


def _built(site: Site) -> tuple[str, Path]:
    """The site fetched over its three days and built: (its URL prefix, the output folder)."""
    with site.app() as app:
        _three_days(app, site.server.root)
        build_feeds(app.config, app.store, datetime.now(UTC))
    return site.url.rstrip("/"), site.config.output_path


def test_a_grouped_feed_shows_each_story_once_in_the_preferred_language(site: Site) -> None:
    prefix, output = _built(site)

    def paths(feed_id: str) -> list[str]:
        data = json.loads((output / f"{feed_id}.json").read_text(encoding="utf-8"))
        return [item["url"].removeprefix(prefix) for item in data["items"]]

    assert sorted(paths("stories")) == sorted([
        "/be/news/vote.html", "/ru/news/border.html", "/be/news/forum.html",
        "/be/news/storm.html", "/en/news/museum.html", "/en/news/decoy.html"])
    assert len(paths("all")) == 11          # `translations: all`: every version
    atom = feedparser.parse((output / "stories.atom").read_bytes())
    assert not atom.bozo and len(atom.entries) == 6


def test_a_channel_skipping_translations_gets_each_story_once(site: Site) -> None:
    config = with_targets(site.config,
                          telegram("tg-all", api_url="http://127.0.0.1:9", feeds=("all",),
                                   translations="skip"),
                          telegram("tg-be", api_url="http://127.0.0.1:9", feeds=("all",),
                                   chat_id="@office_be", translations="skip",
                                   languages=["be", "ru", "en"]))
    with make_app(config) as app:
        _three_days(app, site.server.root)
        prefix = site.url.rstrip("/")

        def pushed(target_id: str) -> tuple[set[str], set[str]]:
            rows = app.store.deliveries(target_id, states=["pending", "suppressed"])
            items = app.store.items_by_id(row.item_id for row in rows)
            return ({items[r.item_id].url.removeprefix(prefix) for r in rows
                     if r.state == "pending"},
                    {items[r.item_id].url.removeprefix(prefix) for r in rows
                     if r.state == "suppressed" and "language" in (r.error or "")})

        default, preferred = pushed("tg-all"), pushed("tg-be")
    # A source's first run is its first sight (not pushed: English and Belarusian on day 1,
    # Russian on day 2). On day 3 `storm` came in Belarusian, then in English, which is the
    # same story: pushed once, in the target's first language (its `languages`, else its
    # feed's sources' order: en, ru, be). For the channel preferring English, the English
    # version took the place of the Belarusian one, queued and not yet sent.
    common = {"/en/news/border.html", "/en/news/decoy.html", "/be/news/vote.html",
              "/en/news/forum.html"}
    assert default == (common | {"/en/news/storm.html"}, {"/be/news/storm.html"})
    assert preferred == (common | {"/be/news/storm.html"}, {"/en/news/storm.html"})


def test_feed_entries_name_their_translations_by_hreflang_links() -> None:
    atom = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>News</title><id>urn:news</id>
<updated>2026-11-01T09:00:00Z</updated>
<entry><title>The vote is counted</title><id>urn:vote</id><updated>2026-11-01T09:00:00Z</updated>
<link rel="alternate" href="https://news.example.org/en/vote"/>
<link rel="alternate" hreflang="ru" href="https://news.example.org/ru/vote"/>
<link rel="alternate" hreflang="be-BY" href="/be/vote"/>
<link rel="enclosure" hreflang="ru" href="https://news.example.org/vote.mp3"/>
</entry></feed>"""
    page = Page(url="https://news.example.org/feed.atom",
                final_url="https://news.example.org/feed.atom", status=200, text=atom,
                encoding="utf-8", content_type="application/atom+xml",
                raw=atom.encode("utf-8"))
    [article] = parse_feed(page)
    assert article.url == "https://news.example.org/en/vote"
    assert article.translations == (("ru", "https://news.example.org/ru/vote"),
                                    ("be", "https://news.example.org/be/vote"))


def test_the_preview_and_query_answers_show_each_story_and_its_languages(site: Site) -> None:
    with site.app() as app:
        _three_days(app, site.server.root)
        build_feeds(app.config, app.store, datetime.now(UTC))
        cache = FeedCache(app.config.output_path)
        cache.load_all()
        ctx = WebContext(config=app.config, store=app.store, cache=cache, status=FakeStatus())
        with Server(create_web_app(ctx)) as server, \
                httpx.Client(base_url=server.url, timeout=10) as client:
            every = client.get("/feeds/all").text
            grouped = client.get("/feeds/stories").text
            answer = client.get("/stories.json", params={"limit": 50}).json()
    prefix = site.url.rstrip("/")
    # Every version of `vote` links the other two, with their language and title.
    assert every.count('class="item"') == 11
    assert (f'<a href="{prefix}/be/news/vote.html" hreflang="be" lang="be" '
            'title="Галасы падлічаны">BE</a>') in every
    assert every.count(f'href="{prefix}/en/news/vote.html" hreflang="en"') == 2
    # The grouped feed shows each story once, in its first preferred language.
    assert grouped.count('class="item"') == 6
    assert f'<h3><a href="{prefix}/be/news/vote.html">Галасы падлічаны</a></h3>' in grouped
    assert f'<h3><a href="{prefix}/en/news/vote.html">' not in grouped
    assert sorted(item["url"].removeprefix(prefix) for item in answer["items"]) == sorted([
        "/be/news/vote.html", "/ru/news/border.html", "/be/news/forum.html",
        "/be/news/storm.html", "/en/news/museum.html", "/en/news/decoy.html"])


def test_check_shows_what_an_article_page_names(site: Site) -> None:
    write_site(site.server.root, day=3)
    lines: list[str] = []
    fetcher = Fetcher()
    try:
        assert check_source(site.config, site.config.source("site-be"), fetcher,
                            echo=lines.append)
    finally:
        fetcher.close()
    prefix = site.url.rstrip("/")
    [shown] = [line for line in lines if line.strip().startswith("translations")]
    # The newest Belarusian story is `storm` (day 3), named in English by hreflang.
    assert shown.split(None, 1)[1] == f"en {prefix}/en/news/storm.html"


def test_three_subscribers_get_each_story_in_the_languages_they_chose(site: Site) -> None:
    root = site.server.root
    with SmtpServer() as smtp:
        config = with_targets(site.config, email("mail-all", smtp=smtp.smtp_config(),
                                                 feeds=("all",)))
        with make_app(config) as app:
            add_confirmed(app.store, config, "mail-all", [
                ("be@example.org", ("be",), None), ("ruen@example.org", ("ru", "en"), None),
                ("every@example.org", None, None)], app.clock())
            _fetch(app)                      # day 1: each source's first sight, not mailed
            write_site(root, day=2)
            _fetch(app)
            dispatch_due(app)

            def subjects(address: str) -> set[str]:
                return {str(message["Subject"]) for message in smtp.to(address)}

            assert subjects("be@example.org") == set()
            day2 = {"The border reopens", "An unrelated story"}
            assert subjects("ruen@example.org") == subjects("every@example.org") == day2
            # A preferences change counts from the next mail on.
            add_confirmed(app.store, config, "mail-all",
                          [("every@example.org", ("be", "en"), None)], app.clock())
            write_site(root, day=3)
            _fetch(app, ("be", "ru", "en"))
            dispatch_due(app)
            listed = app.store.subscriber("mail-all", "every@example.org")
            assert listed is not None and listed.languages == ("be", "en")
        # Day 3 brought `vote` and `storm` in Belarusian, then `forum` and `storm` in
        # English: each reader gets each story once, in the first language they read.
        assert subjects("be@example.org") == {"Галасы падлічаны", "Бура на поўначы"}
        assert subjects("ruen@example.org") == day2 | {"A forum in Vilnius",
                                                       "A storm in the north"}
        assert subjects("every@example.org") == day2 | {
            "Галасы падлічаны", "Бура на поўначы", "A forum in Vilnius"}
        assert len(smtp.to("every@example.org")) == 5     # no story twice


def test_every_output_links_the_other_languages_of_a_story(site: Site) -> None:
    prefix, output = _built(site)
    vote = {f"{prefix}/{lang}/news/vote.html": lang for lang in LANGUAGES}
    others = {url: lang for url, lang in vote.items() if lang != "en"}
    english = f"{prefix}/en/news/vote.html"
    for ext in ("atom", "rss"):
        parsed = feedparser.parse((output / f"all.{ext}").read_bytes())
        assert not parsed.bozo, (ext, parsed.bozo_exception)
        entries = {entry.id: entry for entry in parsed.entries}    # id: the item URL
        links = {link["href"]: link.get("hreflang") for link in entries[english].links
                 if link["href"] != english and link.get("rel") == "alternate"}
        assert links == others, ext
        # A story in one language links nothing; the decoy links nothing either.
        for alone in ("museum", "decoy"):
            own = f"{prefix}/en/news/{alone}.html"
            assert [link for link in entries[own].links
                    if link.get("hreflang") and link["href"] != own] == [], (ext, alone)
    data = json.loads((output / "all.json").read_text(encoding="utf-8"))
    items = {item["url"]: item for item in data["items"]}
    assert {(link["url"], link["language"], link["rel"])
            for link in items[english]["_syndicator"]["links"]} == {
        (url, lang, "alternate") for url, lang in others.items()}
    assert "_syndicator" not in items[f"{prefix}/en/news/museum.html"]
    # The grouped feed links the versions it leaves out.
    grouped = json.loads((output / "stories.json").read_text(encoding="utf-8"))
    [shown] = [i for i in grouped["items"] if i["url"] == f"{prefix}/be/news/vote.html"]
    assert {link["language"] for link in shown["_syndicator"]["links"]} == {"en", "ru"}


def test_the_feed_iframe_shows_each_story_in_its_language(site: Site) -> None:
    prefix, _output = _built(site)
    with make_app(site.config) as app:
        cache = FeedCache(app.config.output_path)
        cache.load_all()
        ctx = WebContext(config=app.config, store=app.store, cache=cache, status=FakeStatus())
        with Server(create_web_app(ctx, extra_routes=embed_routes(ctx))) as server, \
                httpx.Client(base_url=server.url, timeout=10) as client:

            def titles(*, headers: dict[str, str] | None = None, **params: str) -> list[str]:
                page = client.get("/embed/stories", params={"limit": "50", **params},
                                  headers=headers or {})
                assert page.status_code == 200
                return re.findall(r'rel="noopener noreferrer"(?: lang="\w+")?>([^<]+)</a>\n',
                                  page.text)

            # The grouped feed publishes `vote` in Belarusian; a frame in English (the
            # default of a feed without a language) shows its English version and links the
            # others.
            assert "Галасы падлічаны" in titles(lang="be")
            assert "The vote is counted" in titles()
            english = client.get("/embed/stories", params={"lang": "en", "limit": "50"}).text
            assert "The vote is counted" in titles(lang="en")
            assert (f'<span>EN</span> <a href="{prefix}/be/news/vote.html" hreflang="be" '
                    'lang="be" title="Галасы падлічаны"') in english
            # `auto`: the reader's languages (a frame cannot read the partner page's), with
            # a fallback when the browser names none.
            assert "Голоса подсчитаны" in titles(lang="auto",
                                                  headers={"Accept-Language": "ru;q=0.9, *"})
            assert "The vote is counted" in titles(lang="auto", fallback="en")
            # The first of the reader's languages the feed has: not German, Russian.
            assert "Голоса подсчитаны" in titles(
                lang="auto", fallback="en", headers={"Accept-Language": "de-DE,de;q=0.9,ru;q=0.5"})
            auto = client.get("/embed/stories", params={"lang": "auto"},
                              headers={"Accept-Language": "en-GB,en;q=0.8"})
            assert "Accept-Language" in auto.headers["vary"] and 'lang="en-GB"' in auto.text
            # A story without a Russian version stays as published.
            russian = titles(lang="ru")
            assert "Форум у Вільні" in russian and "Голоса подсчитаны" in russian


def test_a_version_already_tried_is_never_replaced(site: Site) -> None:
    config = with_targets(site.config, telegram("tg-all", api_url="http://127.0.0.1:9",
                                                feeds=("all",), translations="skip"))
    with make_app(config) as app:
        prefix = site.url.rstrip("/")

        def storm() -> dict[str, str]:
            rows = app.store.deliveries("tg-all")
            items = app.store.items_by_id(row.item_id for row in rows)
            return {items[r.item_id].url.removeprefix(prefix): r.state for r in rows
                    if items[r.item_id].url.endswith("/storm.html")}

        _fetch(app)
        write_site(site.server.root, day=2)
        _fetch(app)
        write_site(site.server.root, day=3)
        _fetch(app, ("be",))
        assert storm() == {"/be/news/storm.html": "pending"}
        # A push job takes the Belarusian `storm` (it is being sent) before the English
        # version, which the channel prefers, is stored: the English one is not pushed.
        app.store.claim_deliveries("tg-all", app.clock(), "job", lease=60, limit=50)
        _fetch(app, ("ru", "en"))
        assert storm() == {"/be/news/storm.html": "sending", "/en/news/storm.html": "suppressed"}
