"""The server-rendered pages' templates (through the Jinja2 adapter, autoescaped), with the
publisher's partials (the subscribe box and help the feed directory shares)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from syndicator.publish.pages import TEMPLATES
from syndicator.templating import environment

_ENVIRONMENT = environment([Path(__file__).parent / "templates", TEMPLATES])


def render(name: str, **context: Any) -> bytes:
    """Render templates/`name` with `context` to UTF-8 bytes."""
    return _ENVIRONMENT.get_template(name).render(**context).encode("utf-8")
