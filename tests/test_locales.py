"""The pages' text in Russian and Belarusian: every message the templates mark has a
translation in each catalog, and a page takes its feed's language."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from syndicator.config import Config, FeedConfig, SiteConfig, SourceConfig
from syndicator.locales import LOCALE, page_language, translations
from syndicator.publish.pages import render_index

PACKAGE = Path(__file__).resolve().parents[1] / "syndicator"
# The pages' templates and the web modules that say something on a page; the mails'
# templates and the push modules that write their subjects.
FOLDERS = [PACKAGE / "web", PACKAGE / "publish" / "templates", PACKAGE / "push"]
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}


def marked_messages() -> set[str | tuple[str, ...]]:
    """What the pages mark for translation, as Babel extracts it."""
    found: set[str | tuple[str, ...]] = set()
    for folder in FOLDERS:
        for _name, _line, message, _comments, _context in extract_from_dir(
                str(folder), keywords=KEYWORDS,
                method_map=[("**.html", "jinja2.ext:babel_extract"),
                            ("**.j2", "jinja2.ext:babel_extract"), ("**.py", "python")],
                options_map={"**.html": {"trimmed": "true", "extensions": ""},
                             "**.j2": {"trimmed": "true", "extensions": ""}}):
            found.add(message)
    return found


@pytest.mark.parametrize("language", ["ru", "be"])
def test_every_marked_message_is_translated(language: str) -> None:
    with (LOCALE / language / "pages.po").open("rb") as handle:
        catalog = read_po(handle, locale=language)
    marked = marked_messages()
    assert len(marked) >= 60
    for message in marked:
        entry = catalog.get(message[0] if isinstance(message, tuple) else message)
        assert entry is not None, f"{language}: no entry for {message!r}"
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        assert all(strings) and len(strings) == (3 if isinstance(message, tuple) else 1), \
            f"{language}: {message!r} is not translated"
    # No stale entries either: what the catalog has, a template uses.
    known = {m[0] if isinstance(m, tuple) else m for m in marked}
    assert {entry.id[0] if isinstance(entry.id, tuple) else entry.id
            for entry in catalog if entry.id} == known


def test_languages_fall_back_to_english() -> None:
    assert [page_language(x) for x in ("be-BY", "ru_RU", "RU", "en-GB", "de", None, "")] == [
        "be", "ru", "ru", "en", "en", "en", "en"]
    assert translations("uk").gettext("Copy") == "Copy"
    assert translations("be").ngettext("%(count)s item", "%(count)s items", 3) == \
        "%(count)s матэрыялы"


def _config(tmp: Path, *languages: str | None) -> Config:
    return Config(
        site=SiteConfig(title="Навіны", base_url="https://feeds.example.org/"),
        sources=tuple(SourceConfig(id=f"s{n}", type="feed", url=f"https://x.example/{n}",
                                   language=language)
                      for n, language in enumerate(languages)),
        feeds=tuple(FeedConfig(id=f"f{n}", title=f"Feed {n}", sources=(f"s{n}",),
                               language=language)
                    for n, language in enumerate(languages)),
        base_dir=tmp)


def test_the_directory_speaks_the_feeds_language_when_they_share_one(tmp_path: Path) -> None:
    one = render_index(_config(tmp_path, "be", "be-BY"), None).decode()
    assert '<html lang="be">' in one and "Як падпісацца" in one and "Капіяваць" in one
    assert 'data-copied="Скапіявана"' in one and "How to subscribe" not in one
    mixed = render_index(_config(tmp_path, "be", "ru", "en"), None).decode()
    assert '<html lang="en">' in mixed and "How to subscribe" in mixed
