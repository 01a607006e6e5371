"""The pages' text in the readers' languages: gettext catalogs read with Babel (its only user).

    syndicator/locale/<language>/pages.po      one catalog per language (ru, be)

The templates are written in English and mark their text for translation (`{{ _("…") }}`,
`{% trans %}…{% endtrans %}`, Jinja2's i18n extension, installed by templating.py). The
catalogs are plain .po files, compiled in memory when a language is first used, so nothing
generated is kept in the repository. A page takes its feed's language (`en-GB` → `en`,
`be-BY` → `be`); a language without a catalog gets the English text.

Languages are compared by `language_key`, the one form of a language tag every item,
feed, push target and subscriber is matched in: the primary subtag ("be-BY" → "be"), with
the script for a language written in several (Babel's likely subtags: "zh-TW", "zh-HK",
"zh-MO" → "zh-Hant"; "zh", "zh-CN", "zh-SG" → "zh-Hans"; "sr-ME" → "sr-Latn").
"""

from __future__ import annotations

import gettext
import io
import re
from functools import lru_cache
from pathlib import Path

from babel.core import Locale, UnknownLocaleError, get_global
from babel.localedata import locale_identifiers
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


_PRIMARY = re.compile(r"[A-Za-z]{2,3}")
_SUBTAGS = re.compile(r"[-_\s]+")


@lru_cache(maxsize=512)
def language_key(tag: str | None) -> str | None:
    """The form languages are compared in: `tag`'s primary subtag in lower case ("be-BY" →
    "be", "iw" → "he"), followed by its script for a language written in several scripts
    (`_scripted`), the script the tag names or its region implies ("zh-TW" → "zh-Hant",
    "zh-CN" and "zh" → "zh-Hans"). None for what is no language tag ("x-default", "")."""
    subtags = [part for part in _SUBTAGS.split((tag or "").strip()) if part]
    if not subtags or not _PRIMARY.fullmatch(subtags[0]):
        return None
    # A language, script and region are the first three subtags at most; extensions and
    # private use ("zh-TW-x-mine", "zh-Hant-TW-u-ca-roc") say nothing more of them.
    language, script = subtags[0].lower(), None      # what Babel does not know ("xx")
    for length in (3, 2, 1):
        try:
            parsed = Locale.parse("_".join(subtags[:length]))
        except (ValueError, UnknownLocaleError):
            continue
        language, script = str(parsed.language), parsed.script
        break
    default = _scripted().get(language)
    return language if default is None else f"{language}-{script or default}"


@lru_cache(maxsize=1)
def _scripted() -> dict[str, str]:
    """The languages Babel's data writes in several scripts, its default one among them
    (zh: Hans and Hant, sr: Cyrl and Latn), each with its default script (likely subtags)."""
    scripts: dict[str, set[str]] = {}
    for identifier in locale_identifiers():
        parts = identifier.split("_")
        if len(parts) > 1 and len(parts[1]) == 4:
            scripts.setdefault(parts[0], set()).add(parts[1])
    likely = get_global("likely_subtags")
    found: dict[str, str] = {}
    for language, written in scripts.items():
        default = str(likely.get(language, "")).split("_")
        if len(written) > 1 and len(default) > 1 and default[1] in written:
            found[language] = default[1]
    return found
