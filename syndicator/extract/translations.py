"""The other-language versions an article page names.

Three places say it, all read here or in structured.py (the JSON-LD and `<head>` home):

    <link rel="alternate" hreflang="be" href="...">     structured.py, every page
    JSON-LD workTranslation / translationOfWork         structured.py, every page
    a language switcher's links                          here, where the source's
                                                         `article.translations` selector
                                                         points at them

What a page names is only its claim: store/translations.py joins two items into one story
only when each names the other, so a wrong or one-way link merges nothing.
"""

from __future__ import annotations

from syndicator.extract.html import (
    Node,
    absolute_url,
    attr,
    compile_selector,
    element_text,
    select_all,
    select_one,
    tag_name,
)
from syndicator.extract.structured import language_code
from syndicator.model import Translations

__all__ = ["switcher_links", "translations_of"]


def switcher_links(soup: Node, selector: str | None, base: str) -> Translations:
    """The links of a language switcher (`selector`: its anchors, or elements holding
    them), each with the language its `hreflang`, its or a child's `lang`, or its text
    ("BE", "ru") gives; a link without one keeps None (the linked item's own language is
    used once it is stored)."""
    if not selector:
        return ()
    css, _attr = compile_selector(selector)
    found: list[tuple[str | None, str]] = []
    for element in select_all(soup, css):
        anchors = [element] if tag_name(element) == "a" else select_all(element, "a[href]")
        for anchor in anchors:
            url = absolute_url(base, attr(anchor, "href"))
            if url is not None:
                found.append((_anchor_language(anchor), url))
    return tuple(found)


def _anchor_language(anchor: Node) -> str | None:
    for name in ("hreflang", "lang"):
        code = language_code(attr(anchor, name))
        if code is not None:
            return code
    inner = select_one(anchor, "[lang]")
    code = language_code(attr(inner, "lang")) if inner is not None else None
    text = element_text(anchor)
    if code is None and 2 <= len(text) <= 3 and text.isalpha():
        code = language_code(text)
    return code


def translations_of(page_names: Translations, switcher: Translations) -> Translations:
    """What a page names, once each (by URL, the first language given kept)."""
    seen: dict[str, str | None] = {}
    for language, url in (*page_names, *switcher):
        if seen.get(url) is None:
            seen[url] = language
    return tuple((language, url) for url, language in seen.items())

