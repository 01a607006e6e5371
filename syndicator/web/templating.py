"""Jinja2 for the server-rendered pages: the web package's one Jinja2 user.

Autoescaping is on for every template (titles and summaries come from scraped sites) and
undefined names fail loudly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

_ENVIRONMENT = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(name: str, **context: Any) -> bytes:
    """Render templates/`name` with `context` to UTF-8 bytes."""
    return _ENVIRONMENT.get_template(name).render(**context).encode("utf-8")
