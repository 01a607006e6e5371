"""Jinja2 for push messages and subscription pages: the push package's one Jinja2 user.

Templates ending in `.html.j2` are autoescaped (HTML for email and Telegram), `.txt.j2` are
not. An operator may point a target's `template` at a file (Telegram) or a folder (email:
files there override the bundled ones of the same name).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    select_autoescape,
)
from markupsafe import Markup

from syndicator.errors import ConfigError

BUNDLED = Path(__file__).parent / "templates"


@lru_cache(maxsize=32)
def _environment(extra: str | None) -> Environment:
    loaders: list[BaseLoader] = []
    if extra is not None:
        loaders.append(FileSystemLoader(extra))
    loaders.append(FileSystemLoader(str(BUNDLED)))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def render(name: str, *, folder: str | None = None, **context: Any) -> str:
    """Render a bundled template, or the operator's one of that name in `folder`."""
    try:
        return _environment(folder).get_template(name).render(**context)
    except OSError as exc:
        raise ConfigError(f"cannot read template {name!r}: {exc}") from exc


def render_file(path: Path, **context: Any) -> str:
    """Render the operator's template file (autoescaped: it produces HTML)."""
    if not path.is_file():
        raise ConfigError(f"template file not found: {path}")
    env = _environment(str(path.parent))
    env_html = env.overlay(autoescape=True)
    return env_html.get_template(path.name).render(**context)


def safe(html: str) -> Markup:
    """Mark HTML we produced (or sanitised) as safe to insert unescaped."""
    return Markup(html)
