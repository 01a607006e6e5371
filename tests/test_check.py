"""`syndicator check`: a dry run whose output makes a wrong selector obvious."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syndicator.demo import demo_config_path, demo_site_root
from syndicator.demo.server import SiteServer
from tests.test_cli import run_cli


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    with SiteServer(demo_site_root()) as server:
        yield server.url


def test_check_prints_every_field_and_writes_nothing(demo_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(demo_config_path().read_text())
    done = run_cli("--config", str(config), "check", "office-be",
                   env={"SYNDICATOR_DEMO_URL": demo_url})
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "5 item(s) on the first page; next page: " in out
    assert "list.date" in out and "list.title" in out
    assert "article.content" in out
    assert "published  20" in out and "precision: time" in out
    assert "WARNING" not in out
    assert "all fields extracted" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]  # no db, no feeds


def test_check_makes_a_wrong_selector_obvious(demo_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    text = demo_config_path().read_text()
    assert "date: .news-card__date" in text
    config.write_text(text.replace("date: .news-card__date", "date: .news-card__when"))
    done = run_cli("--config", str(config), "check", "office-en",
                   env={"SYNDICATOR_DEMO_URL": demo_url})
    out = done.stdout
    assert "list.date" in out and "0/" in out and "<-- WARNING" in out
    assert "WARNING: list.date empty on" in out


def test_check_reports_a_listing_that_matches_nothing(demo_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    text = demo_config_path().read_text()
    assert "item: article.news-card" in text
    config.write_text(text.replace("item: article.news-card", "item: div.card"))
    done = run_cli("--config", str(config), "check", "office-en",
                   env={"SYNDICATOR_DEMO_URL": demo_url})
    assert done.returncode == 1
    assert "WARNING: no items: list.item 'div.card' matched nothing" in done.stdout


def test_check_unreachable_site_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(demo_config_path().read_text())
    done = run_cli("--config", str(config), "check", "office-en",
                   env={"SYNDICATOR_DEMO_URL": "http://127.0.0.1:9/"})
    assert done.returncode == 1
    assert "ERROR fetching the listing: http://127.0.0.1:9/en/news/" in done.stdout
