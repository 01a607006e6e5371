"""The pages' text in the readers' languages: gettext catalogs read with Babel (its only user).

    syndicator/locale/<language>/pages.po      one catalog per language (ru, be)

The templates are written in English and mark their text for translation (`{{ _("…") }}`,
`{% trans %}…{% endtrans %}`, Jinja2's i18n extension, installed by templating.py). The
catalogs are plain .po files, compiled in memory when a language is first used, so nothing
generated is kept in the repository. A page takes its feed's language (`en-GB` → `en`,
`be-BY` → `be`); a language without a catalog gets the English text.
"""

from __future__ import annotations

import gettext
import io
from functools import lru_cache
from pathlib import Path

from babel.core import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE = Path(__file__).parent / "locale"
CATALOG = "pages.po"
LANGUAGES = ("en", "ru", "be")          # en: the text as the templates write it


def N_(message: str) -> str:
    """Marks `message` for the catalogs where it is written; it is translated where shown
    (`translations(language).gettext(message)`)."""
    return message


def page_language(language: str | None) -> str:
    """The language a page is written in for content in `language`."""
    base = (language or "en").replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else "en"


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str | None) -> gettext.NullTranslations:
    """The catalog of `language` (see `page_language`), compiled once."""
    chosen = page_language(language)
    path = LOCALE / chosen / CATALOG
    if chosen == "en":
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=chosen)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@lru_cache(maxsize=64)
def language_name(code: str) -> str:
    """A language's name in itself, capitalised as a choice is ("be" → "Беларуская"); the
    code itself when Babel does not know it."""
    try:
        name = Locale.parse(code).get_display_name(code)
    except (ValueError, UnknownLocaleError):
        return code
    return name[:1].upper() + name[1:] if name else code
