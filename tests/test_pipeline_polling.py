"""Polling unchanged sources: what a run does when a listing did not change.

A 304 ends the run (test_pipeline.py); so does a listing body with the same bytes as last
time, on servers that send no validators. Both must still let a run retry what failed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syndicator.app import make_app
from syndicator.cli import run_sources
from syndicator.config import Config
from syndicator.demo import demo_config_path, demo_site_root
from syndicator.health import assess
from tests.conftest import Site, serve_site

SOURCE = "office-en"
LISTING = "/en/news/"


def quiet(line: str) -> None:
    """run_sources prints a line per source; the tests read the results instead."""


def _copy_demo(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    shutil.copytree(demo_site_root(), root)
    return root


@pytest.fixture
def plain_site(tmp_path: Path) -> Iterator[tuple[Site, Path]]:
    """A copy of the demo site served without ETag or Last-Modified (like dynamic sites)."""
    root = _copy_demo(tmp_path)
    with serve_site(root, demo_config_path(), "SYNDICATOR_DEMO_URL", tmp_path,
                    etags=False) as site:
        yield site, root


def _gets(site: Site) -> list[str]:
    return [path for method, path, _ in site.server.requests if method == "GET"]


def test_unchanged_body_without_validators_ends_the_run_like_a_304(
        plain_site: tuple[Site, Path]) -> None:
    site, _root = plain_site
    with site.app() as app:
        first = run_sources(app, [SOURCE], echo=quiet)[0]
        assert first.ok and first.new > 10 and first.pages > 1
        before = {item.id: item for item in app.store.latest([SOURCE], limit=100)}
        site.server.requests.clear()
        second = run_sources(app, [SOURCE], echo=quiet)[0]
        after = {item.id: item for item in app.store.latest([SOURCE], limit=100)}
        history = app.store.runs(SOURCE)
    assert second.ok and (second.new, second.updated, second.items_seen) == (0, 0, 0)
    # Not a page read: a run that read a listing and found nothing means a broken layout.
    assert (second.not_modified, second.pages) == (1, 0)
    assert not assess(history).broken
    assert after == before
    assert _gets(site) == [LISTING]  # the listing only: no article page, no second page
    assert all("If-None-Match" not in headers for _, _, headers in site.server.requests)


def test_changed_body_without_validators_is_read(plain_site: tuple[Site, Path]) -> None:
    site, root = plain_site
    with site.app() as app:
        run_sources(app, [SOURCE], echo=quiet)
        listing = root / "en" / "news" / "index.html"
        old_title = "Office hosts open consultation on document renewal for Belarusians abroad"
        listing.write_text(listing.read_text().replace(old_title, old_title + " (updated)"))
        result = run_sources(app, [SOURCE], echo=quiet)[0]
        titles = {item.title for item in app.store.latest([SOURCE], limit=100)}
    assert result.ok and (result.new, result.updated) == (0, 1) and result.pages >= 1
    assert old_title + " (updated)" in titles


def _retitled(config: Config) -> Config:
    sources = tuple(s.model_copy(update={"title": "Renamed"}) if s.id == SOURCE else s
                    for s in config.sources)
    return config.model_copy(update={"sources": sources})


def test_a_config_change_reads_the_same_body_again(plain_site: tuple[Site, Path]) -> None:
    # A fixed selector must apply at the next run, not when the site next changes.
    site, _root = plain_site
    with site.app() as app:
        run_sources(app, [SOURCE], echo=quiet)
    with make_app(_retitled(site.config)) as app:
        changed = run_sources(app, [SOURCE], echo=quiet)[0]
        again = run_sources(app, [SOURCE], echo=quiet)[0]
    assert changed.ok and changed.pages >= 1 and changed.items_seen > 10
    assert changed.not_modified == 0
    assert (again.not_modified, again.pages) == (1, 0)


@pytest.mark.parametrize("etags", [True, False])
def test_a_failed_article_is_retried_though_the_listing_did_not_change(
        tmp_path: Path, etags: bool) -> None:
    root = _copy_demo(tmp_path)
    with serve_site(root, demo_config_path(), "SYNDICATOR_DEMO_URL", tmp_path,
                    etags=etags) as site, site.app() as app:
        failing: list[str] = []

        def broken(handler: Any, path: str) -> bool:
            if "/events/news/" in path and not failing:
                failing.append(path)
            if failing and path == failing[0]:
                handler.send_error(503)
                return True
            return False

        site.server.hook = broken
        first = run_sources(app, [SOURCE], echo=quiet)[0]
        assert failing and any("503" in error for error in first.errors)
        site.server.hook = None
        site.server.requests.clear()
        second = run_sources(app, [SOURCE], echo=quiet)[0]
        third = run_sources(app, [SOURCE], echo=quiet)[0]
    assert second.ok and not second.errors
    assert failing[0] in _gets(site)  # asked again, although the listing is unchanged
    # Once everything was read, the unchanged listing ends the run again.
    assert (third.not_modified, third.pages, third.items_seen) == (1, 0, 0)
