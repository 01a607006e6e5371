"""A subscriber's languages: what a list offers and what a reader may choose of it.

One check for every way an address gets its languages (the sign-up forms, the preferences
page, `syndicator subscribers add --languages`, the `languages` column of an import): codes
in order of preference, each a language the list publishes in (locales.language_key's form,
so "zh-TW" chooses "zh-Hant"), at most MAX_LANGUAGES; anything else is a `ChoiceInvalid`
naming the value and the list's languages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from syndicator.config import Config, EmailTarget
from syndicator.errors import ChoiceInvalid
from syndicator.locales import language_key

MAX_LANGUAGES = 8
_SEPARATORS = re.compile(r"[,;\s]+")


def list_languages(config: Config, target: EmailTarget) -> tuple[str, ...]:
    """The languages a mailing list publishes in (its feeds', Config.languages_of)."""
    return config.languages_of(target.feeds)


def choose_languages(text: str, offered: Sequence[str], *,
                     where: str = "languages") -> tuple[str, ...]:
    """The languages chosen in `text` (codes separated by commas, semicolons or spaces,
    "be, en"; the forms send the ticked boxes joined by commas), in order, each once;
    "" or "all" is every language (). `where` names the field in the error."""
    codes = [code for code in _SEPARATORS.split(text.strip()) if code]
    if [code.lower() for code in codes] == ["all"]:
        return ()
    if len(codes) > MAX_LANGUAGES:
        raise ChoiceInvalid(f"{where}: at most {MAX_LANGUAGES} may be chosen")
    chosen: list[str] = []
    for code in codes:
        key = language_key(code)
        if key is None or key not in offered:
            raise ChoiceInvalid(f"{where}: {code[:20]!r} is not a language of this list "
                                f"({', '.join(offered) or 'none'})")
        chosen.append(key)
    return tuple(dict.fromkeys(chosen))


def reader_languages(languages: Sequence[str]) -> tuple[str, ...]:
    """A subscriber's stored languages as they are compared (language_key): addresses
    whose languages were stored in another spelling ("zh" for "zh-Hans") read the same."""
    return tuple(dict.fromkeys(language_key(code) or code for code in languages))
