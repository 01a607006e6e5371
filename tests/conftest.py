"""Shared fixtures: fixture sites served on loopback, apps wired to a tmp store, and stores on
SQLite and on the machine's PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from syndicator.app import App, make_app
from syndicator.config import Config, load_config
from syndicator.demo import demo_config_path, demo_site_root
from syndicator.demo.server import SiteServer
from syndicator.store import Store
from tests.postgres_support import postgres_database

DATA = Path(__file__).resolve().parent / "data"


@dataclass
class Site:
    """A fixture site on loopback plus its config, loaded against a tmp folder."""

    server: SiteServer
    config: Config

    @property
    def url(self) -> str:
        return self.server.url

    def app(self) -> App:
        return make_app(self.config)


@contextmanager
def serve_site(root: Path, config_path: Path, env_name: str, tmp_path: Path,
               *, etags: bool = True) -> Iterator[Site]:
    with SiteServer(root, etags=etags) as server:
        config = load_config(config_path, env={env_name: server.url})
        config = config.model_copy(update={"base_dir": tmp_path})
        yield Site(server, config)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SiteServer]:
    """An empty site on loopback (tmp_path/site); each test writes the files it serves.
    Modules with a `site` fixture of their own use theirs."""
    (tmp_path / "site").mkdir()
    with SiteServer(tmp_path / "site") as server:
        yield server


@pytest.fixture
def office_site(tmp_path: Path) -> Iterator[Site]:
    """The bundled demo site: a WordPress-like office site in three languages."""
    with serve_site(demo_site_root(), demo_config_path(), "SYNDICATOR_DEMO_URL",
                    tmp_path) as site:
        yield site


@pytest.fixture(params=["cp1251", "jsonld", "feeds"])
def fixture_site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    root = DATA / request.param
    with serve_site(root, root / "config.yaml", "SITE_URL", tmp_path) as site:
        yield site


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL on SQLite and one on a throwaway PostgreSQL database (tests.postgres_support)."""
    if request.param == "sqlite":
        # A folder that does not exist yet: the store creates it.
        yield f"sqlite:///{tmp_path / 'data' / 'nested' / 'store.db'}"
    else:
        yield from postgres_database()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A Store on each of db_url's databases, closed after the test."""
    opened = Store(db_url)
    try:
        yield opened
    finally:
        opened.close()
