"""The one Jinja2 adapter: environments for the pages, the embeds and the push messages.

Autoescaping is on for HTML (titles and summaries come from scraped sites) and undefined
names fail loudly instead of printing "". Every environment has Jinja2's i18n extension
with the catalog of its `language` (locales.py; English text when none): templates mark
their text with `_("…")` and `{% trans %}`, whitespace in a `trans` block trimmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from syndicator.locales import page_language, translations

__all__ = ["Environment", "Markup", "environment"]


def environment(folders: Sequence[str | Path], *, autoescape: bool | tuple[str, ...] = True,
                keep_trailing_newline: bool = False, language: str | None = None
                ) -> Environment:
    """A cached environment loading templates from `folders` (earlier folders win), its
    text in `language` (locales.page_language).

    `autoescape` is True for all templates, or the file extensions to autoescape
    (e.g. `("html.j2",)`: text templates of e-mails are not HTML).
    """
    return _environment(tuple(str(f) for f in folders), autoescape, keep_trailing_newline,
                        page_language(language))


@lru_cache(maxsize=64)
def _environment(folders: tuple[str, ...], autoescape: bool | tuple[str, ...],
                 keep_trailing_newline: bool, language: str) -> Environment:
    escape = (autoescape if isinstance(autoescape, bool)
              else select_autoescape(enabled_extensions=autoescape, default=False))
    env = Environment(
        loader=FileSystemLoader(list(folders)),
        autoescape=escape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=keep_trailing_newline,
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True
    # The i18n extension adds this method to the environment it is loaded into.
    installer: Any = env
    installer.install_gettext_translations(translations(language), newstyle=True)
    return env
