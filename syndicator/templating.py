"""The one Jinja2 adapter: environments for the pages, the embeds and the push messages.

Autoescaping is on for HTML (titles and summaries come from scraped sites) and undefined
names fail loudly instead of printing "".
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

__all__ = ["Environment", "Markup", "environment"]


def environment(folders: Sequence[str | Path], *, autoescape: bool | tuple[str, ...] = True,
                keep_trailing_newline: bool = False) -> Environment:
    """A cached environment loading templates from `folders` (earlier folders win).

    `autoescape` is True for all templates, or the file extensions to autoescape
    (e.g. `("html.j2",)`: text templates of e-mails are not HTML).
    """
    return _environment(tuple(str(f) for f in folders), autoescape, keep_trailing_newline)


@lru_cache(maxsize=32)
def _environment(folders: tuple[str, ...], autoescape: bool | tuple[str, ...],
                 keep_trailing_newline: bool) -> Environment:
    escape = (autoescape if isinstance(autoescape, bool)
              else select_autoescape(enabled_extensions=autoescape, default=False))
    return Environment(
        loader=FileSystemLoader(list(folders)),
        autoescape=escape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=keep_trailing_newline,
    )
