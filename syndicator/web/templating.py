"""The server-rendered pages' templates (through the Jinja2 adapter, autoescaped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from syndicator.templating import environment

_ENVIRONMENT = environment([Path(__file__).parent / "templates"])


def render(name: str, **context: Any) -> bytes:
    """Render templates/`name` with `context` to UTF-8 bytes."""
    return _ENVIRONMENT.get_template(name).render(**context).encode("utf-8")
