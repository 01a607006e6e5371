"""The bundled offline demo: a replica of a multilingual news site and a config for it."""

from __future__ import annotations

from pathlib import Path

from syndicator.config import Config, load_config

_HERE = Path(__file__).resolve().parent
SITE_URL_ENV = "SYNDICATOR_DEMO_URL"


def demo_site_root() -> Path:
    return _HERE / "site"


def demo_config_path() -> Path:
    return _HERE / "config.yaml"


def demo_config(site_url: str, folder: Path, *, served_at: str | None = None,
                env: dict[str, str] | None = None) -> Config:
    """The demo's config for the demo site at `site_url`, storing and writing in `folder`;
    `served_at`: the URL the feed server really listens at, which every page and feed
    links to (its `site.base_url`)."""
    config = load_config(demo_config_path(), env={**(env or {}), SITE_URL_ENV: site_url})
    changes: dict[str, object] = {"base_dir": folder.resolve()}
    if served_at is not None:
        changes["site"] = config.site.model_copy(update={"base_url": served_at})
    return config.model_copy(update=changes)


def demo_links(config: Config, site_url: str) -> list[tuple[str, str]]:
    """What to open while the demo runs: (what, URL)."""
    base = config.site.base_url
    first = config.feeds[0].id
    return [("index", base), ("preview", f"{base}feeds/{first}"),
            ("feed", f"{base}{first}.rss"), ("status", f"{base}status"),
            ("builder", f"{base}builder"), ("news site", f"{site_url}en/news/")]
