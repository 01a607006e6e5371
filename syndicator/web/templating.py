"""The server-rendered pages' templates (through the Jinja2 adapter, autoescaped), with the
publisher's partials (the subscribe box and help the feed directory shares)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from syndicator.locales import page_language
from syndicator.publish.pages import TEMPLATES
from syndicator.templating import environment

_FOLDERS = [Path(__file__).parent / "templates", TEMPLATES]


def render(name: str, *, language: str | None = None, **context: Any) -> bytes:
    """Render templates/`name` with `context` to UTF-8 bytes, its text in `language`
    (English when there is no catalog for it; the page's `lang` says which)."""
    lang = page_language(language)
    template = environment(_FOLDERS, language=lang).get_template(name)
    return template.render(**{"lang": lang, **context}).encode("utf-8")
