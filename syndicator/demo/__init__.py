"""The bundled offline demo: a replica of a multilingual news site and a config for it."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def demo_site_root() -> Path:
    return _HERE / "site"


def demo_config_path() -> Path:
    return _HERE / "config.yaml"
