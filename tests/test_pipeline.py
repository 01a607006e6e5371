"""The whole pipeline against fixture sites on loopback, compared with golden items."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser

from syndicator.app import App
from syndicator.cli import build_and_report, run_sources
from syndicator.demo import demo_config_path
from syndicator.model import Item
from tests.conftest import DATA, Site, serve_site

HOSTILE = ("<script", "onerror", "onclick", "onload", "javascript:", "<iframe", "<style",
           "<form", "<object", "<svg", "tracker.example", "data:text/html", "http-equiv")


def _expected_rows(site_name: str) -> list[dict[str, Any]]:
    data = json.loads((DATA / site_name / "expected.json").read_text())
    if isinstance(data, dict):  # feeds: per file
        rows: list[dict[str, Any]] = []
        for entry in data.values():
            rows.extend({**item, "source": entry["source"]} for item in entry["items"])
        return rows
    return list(data)


def _absolute(site: Site, value: str | None) -> str | None:
    if value is None or value.startswith("http"):
        return value
    return site.url.rstrip("/") + value


def _stored(app: App, source_id: str) -> dict[str, Item]:
    return {item.url: item for item in app.store.latest([source_id], limit=1000)}


def _assert_matches(site: Site, app: App, rows: list[dict[str, Any]]) -> None:
    by_source: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_source.setdefault(row["source"], []).append(row)
    for source_id, expected in by_source.items():
        stored = _stored(app, source_id)
        assert len(stored) == len(expected), (source_id, sorted(stored))
        for row in expected:
            url = _absolute(site, row["url"])
            assert url in stored, (source_id, url, sorted(stored))
            item = stored[url]
            assert item.title == row["title"]
            if row.get("published"):
                published = datetime.fromisoformat(row["published"].replace("Z", "+00:00"))
                assert item.published == published, (url, item.published, published)
            if "summary_startswith" in row:
                assert item.summary.startswith(row["summary_startswith"]), (url, item.summary)
            if "image" in row:
                assert item.image == _absolute(site, row["image"]), url
            if "author" in row:
                assert item.author == row["author"], url
            if row.get("language"):
                assert item.language == row["language"], url
            if row.get("categories"):
                assert list(item.categories) == row["categories"], url


def test_office_site_matches_golden_items(office_site: Site) -> None:
    with office_site.app() as app:
        results = run_sources(app, [s.id for s in office_site.config.sources],
                              echo=lambda line: None)
        assert all(r.ok for r in results), [r.errors for r in results]
        _assert_matches(office_site, app, _expected_rows("office"))
        for item in app.store.latest([s.id for s in office_site.config.sources], limit=1000):
            assert item.content, item.url
            for marker in HOSTILE:
                assert marker not in item.content.lower(), (item.url, marker)
            assert "Last news" not in item.content
            assert "share-buttons" not in item.content


def test_fixture_sites_match_golden_items(fixture_site: Site) -> None:
    name = Path(fixture_site.server.root).name
    with fixture_site.app() as app:
        results = run_sources(app, [s.id for s in fixture_site.config.sources],
                              echo=lambda line: None)
        failing = {r.source_id for r in results if not r.ok}
        if name == "feeds":
            assert failing == {"feed-laughs", "feed-xxe"}
            for result in results:
                if result.source_id in failing:
                    assert "entit" in result.errors[0].lower()
        else:
            assert not failing, [r.errors for r in results]
        _assert_matches(fixture_site, app, [r for r in _expected_rows(name) if "url" in r])
        for item in app.store.latest([s.id for s in fixture_site.config.sources], limit=1000):
            assert "root:" not in item.content  # no /etc/passwd from an external entity


def test_second_fetch_is_conditional_and_changes_nothing(office_site: Site) -> None:
    sources = [s.id for s in office_site.config.sources]
    with office_site.app() as app:
        first = run_sources(app, sources, echo=lambda line: None)
        assert sum(r.new for r in first) > 30
        before = {i.id: i for i in app.store.latest(sources, limit=1000)}
        office_site.server.requests.clear()
        second = run_sources(app, sources, echo=lambda line: None)
        after = {i.id: i for i in app.store.latest(sources, limit=1000)}
    assert after == before
    assert all(r.ok and r.new == 0 and r.updated == 0 for r in second)
    assert all(r.not_modified == 1 and r.pages == 0 for r in second)
    fetched = [path for method, path, _ in office_site.server.requests if method == "GET"]
    assert not any("/events/news/" in path for path in fetched), fetched
    listing_requests = [h for _, path, h in office_site.server.requests if path.endswith("/news/")]
    assert listing_requests and all("If-None-Match" in h for h in listing_requests)


def test_feeds_parse_and_match_store(office_site: Site, tmp_path: Path) -> None:
    with office_site.app() as app:
        run_sources(app, [s.id for s in office_site.config.sources], echo=lambda line: None)
        build_and_report(app, echo=lambda line: None)
        output = office_site.config.output_path
        for feed in office_site.config.feeds:
            stored = app.store.latest(list(feed.sources), limit=feed.limit)
            for ext in ("rss", "atom"):
                parsed = feedparser.parse((output / f"{feed.id}.{ext}").read_bytes())
                assert not parsed.bozo, (feed.id, ext, parsed.get("bozo_exception"))
                assert [e.link for e in parsed.entries] == [i.url for i in stored]
                assert [e.title for e in parsed.entries] == [i.title for i in stored]
                text = (output / f"{feed.id}.{ext}").read_text().lower()
                for marker in ("<script", "javascript:", "tracker.example", "onerror="):
                    assert marker not in text, (feed.id, ext, marker)
            data = json.loads((output / f"{feed.id}.json").read_text())
            assert [i["url"] for i in data["items"]] == [i.url for i in stored]
        assert (output / "index.html").exists() and (output / "feeds.opml").exists()


def _copy_demo(tmp_path: Path) -> Path:
    from syndicator.demo import demo_site_root

    root = tmp_path / "site"
    shutil.copytree(demo_site_root(), root)
    return root


def test_edited_article_updates_the_item_and_never_duplicates(tmp_path: Path) -> None:
    root = _copy_demo(tmp_path)
    with serve_site(root, demo_config_path(), "SYNDICATOR_DEMO_URL", tmp_path) as site, \
            site.app() as app:
        run_sources(app, ["office-en"], echo=lambda line: None)
        before = {i.url: i for i in app.store.latest(["office-en"], limit=100)}
        listing = root / "en" / "news" / "index.html"
        old_title = "Office hosts open consultation on document renewal for Belarusians abroad"
        listing.write_text(listing.read_text().replace(old_title, old_title + " (updated)"))
        site.server.requests.clear()
        result = run_sources(app, ["office-en"], echo=lambda line: None)[0]
        after = {i.url: i for i in app.store.latest(["office-en"], limit=100)}
    assert (result.new, result.updated) == (0, 1)
    assert len(after) == len(before)
    changed = [url for url in after if after[url].title != before[url].title]
    assert len(changed) == 1
    item, old = after[changed[0]], before[changed[0]]
    assert item.title == old_title + " (updated)"
    assert item.id == old.id and item.published == old.published
    assert item.updated > old.updated
    articles = [p for m, p, _ in site.server.requests if m == "GET" and "/events/news/" in p]
    assert articles == [urlsplit(item.url).path]  # only the changed card's page was fetched


def test_failing_source_keeps_its_items_and_the_others_still_run(tmp_path: Path) -> None:
    root = _copy_demo(tmp_path)
    with serve_site(root, demo_config_path(), "SYNDICATOR_DEMO_URL", tmp_path) as site, \
            site.app() as app:
        run_sources(app, ["office-en", "office-ru"], echo=lambda line: None)
        build_and_report(app, echo=lambda line: None)
        feed = site.config.output_path / "office-en.rss"
        items_before = len(feedparser.parse(feed.read_bytes()).entries)

        def broken(handler: Any, path: str) -> bool:
            if path.startswith("/en/"):
                handler.send_error(503)
                return True
            return False

        site.server.hook = broken
        lines: list[str] = []
        results = run_sources(app, ["office-en", "office-ru"], echo=lines.append)
        build_and_report(app, echo=lambda line: None)
        runs = app.store.runs("office-en", limit=1)
    by_id = {r.source_id: r for r in results}
    assert not by_id["office-en"].ok and by_id["office-ru"].ok
    assert "503" in by_id["office-en"].errors[0]
    assert lines[0].startswith("office-en: FAILED") and "503" in lines[0]
    assert runs[0].ok is False and runs[0].errors  # recorded in the run log
    assert len(feedparser.parse(feed.read_bytes()).entries) == items_before == 15
