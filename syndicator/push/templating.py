"""Templates of push messages and subscription pages (through the Jinja2 adapter).

Templates ending in `.html.j2` are autoescaped (HTML for email and Telegram), `.txt.j2` are
not. An operator may point a target's `template` at a file (Telegram) or a folder (email:
files there override the bundled ones of the same name).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from syndicator.errors import ConfigError
from syndicator.templating import Environment, Markup, environment

BUNDLED = Path(__file__).parent / "templates"


def _environment(extra: str | None, language: str | None = None) -> Environment:
    """Bundled templates, overridden by the operator's folder when one is given, their
    marked words (`_("…")`) in `language` (locales.py's catalogs; English otherwise)."""
    folders: list[str | Path] = [extra, BUNDLED] if extra is not None else [BUNDLED]
    return environment(folders, autoescape=("html.j2",), language=language)


def render(name: str, *, folder: str | None = None, language: str | None = None,
           **context: Any) -> str:
    """Render a bundled template, or the operator's one of that name in `folder`, its
    words in `language`."""
    try:
        return _environment(folder, language).get_template(name).render(**context)
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
