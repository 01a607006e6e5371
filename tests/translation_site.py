"""A three-language news site whose stories exist in one, two or three languages, published
on different days, as its pages stand on a given day (tests/test_translations.py).

Each story names its versions the way WordPress multilingual plugins do, only those
published by that day: `vote` by hreflang alternates in the head (English on day 1,
Russian on day 2, Belarusian on day 3), `border` by JSON-LD workTranslation /
translationOfWork (English and Russian, day 2), `forum` by a language switcher the source
config points at (Belarusian day 1, English day 3), `storm` by hreflang (English and
Belarusian, both day 3); `museum` is English only. The `decoy` (English, day 2) names the
Russian `border` as its translation, which does not name it back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

LANGUAGES = ("en", "ru", "be")


@dataclass(frozen=True)
class Version:
    story: str
    language: str
    day: int
    title: str

    @property
    def path(self) -> str:
        return f"/{self.language}/news/{self.story}.html"


VERSIONS = (
    Version("vote", "en", 1, "The vote is counted"),
    Version("vote", "ru", 2, "Голоса подсчитаны"),
    Version("vote", "be", 3, "Галасы падлічаны"),
    Version("border", "en", 2, "The border reopens"),
    Version("border", "ru", 2, "Граница открывается"),
    Version("forum", "be", 1, "Форум у Вільні"),
    Version("forum", "en", 3, "A forum in Vilnius"),
    Version("storm", "en", 3, "A storm in the north"),
    Version("storm", "be", 3, "Бура на поўначы"),
    Version("museum", "en", 1, "The museum opens"),
    Version("decoy", "en", 2, "An unrelated story"),
)
# How each story names its versions.
HREFLANG, JSON_LD, SWITCHER = "hreflang", "json-ld", "switcher"
STYLE = {"vote": HREFLANG, "storm": HREFLANG, "border": JSON_LD, "forum": SWITCHER}

CONFIG = """\
timezone: UTC
fetch: {delay: 0s, allow_private: true}
sources:
%s
feeds:
  - {id: all, title: "All languages", sources: [site-en, site-ru, site-be], limit: 50}
  - id: stories
    title: "Each story once"
    sources: [site-en, site-ru, site-be]
    translations: group
    languages: [be, ru, en]
"""
SOURCE = """\
  - id: site-%(lang)s
    url: "${SITE_URL}%(lang)s/news/"
    language: %(lang)s
    list: {item: "ul.news li", link: "a@href", date: ".date"}
    article: {title: "h1", content: ".body", translations: ".lang-switch"}
"""


def true_stories() -> set[frozenset[str]]:
    """The paths of each story's versions (a story in one language is a group of one)."""
    stories: dict[str, set[str]] = {}
    for version in VERSIONS:
        stories.setdefault(version.story, set()).add(version.path)
    return {frozenset(paths) for paths in stories.values()}


def write_site(root: Path, day: int) -> None:
    """The site as it stands on `day` (1-3), with its config.yaml."""
    published = [v for v in VERSIONS if v.day <= day]
    for language in LANGUAGES:
        folder = root / language / "news"
        folder.mkdir(parents=True, exist_ok=True)
        mine = sorted((v for v in published if v.language == language),
                      key=lambda v: (-v.day, v.story))
        cards = "\n".join(
            f'<li><a href="{v.path}">{v.title}</a> <span class="date">2026-11-0{v.day}</span></li>'
            for v in mine)
        (folder / "index.html").write_text(
            f'<!doctype html><html lang="{language}"><body><ul class="news">{cards}</ul>'
            "</body></html>", encoding="utf-8")
        for version in mine:
            others = [v for v in published if v.story == version.story]
            (root / version.path.lstrip("/")).write_text(_page(version, others),
                                                         encoding="utf-8")
    (root / "config.yaml").write_text(
        CONFIG % "".join(SOURCE % {"lang": lang} for lang in LANGUAGES), encoding="utf-8")


def _page(version: Version, versions: list[Version]) -> str:
    style = STYLE.get(version.story)
    head: list[str] = []
    switcher = ""
    if style == HREFLANG:
        head += [f'<link rel="alternate" hreflang="{v.language}" href="{v.path}">'
                 for v in versions]
        head.append(f'<link rel="alternate" hreflang="x-default" href="{versions[0].path}">')
    elif style == JSON_LD:
        node: dict[str, object] = {"@context": "https://schema.org", "@type": "NewsArticle",
                                   "headline": version.title, "inLanguage": version.language}
        others = [v for v in versions if v is not version]
        key = "workTranslation" if version.language == "en" else "translationOfWork"
        node[key] = [{"@type": "NewsArticle", "@id": v.path, "inLanguage": v.language}
                     for v in others]
        head.append(f'<script type="application/ld+json">{json.dumps(node)}</script>')
    elif style == SWITCHER:
        links = "".join(f'<a href="{v.path}">{v.language.upper()}</a>' for v in versions)
        switcher = f'<nav class="lang-switch">{links}</nav>'
    if version.story == "decoy":
        head.append('<link rel="alternate" hreflang="ru" href="/ru/news/border.html">')
    return (f'<!doctype html><html lang="{version.language}"><head><title>{version.title}'
            f'</title>{"".join(head)}</head><body>{switcher}<h1>{version.title}</h1>'
            f'<time datetime="2026-11-0{version.day}T09:00:00Z">{version.day}</time>'
            f'<div class="body"><p>{version.title}: the story in full.</p></div>'
            "</body></html>")
