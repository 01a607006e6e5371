"""What the feed iframe (`/embed/<feed>`) shows: its language and its items, read from the
published JSON Feed as the widget (static/embed.js) reads it.

The frame speaks `lang`: a language tag, or `auto` for the reader's (the browser's
`Accept-Language`: a frame on the service's origin cannot read the partner page's
`<html lang>`, which the widget reads), else `fallback`, else the feed's language. Each
item is shown in that language when its story has a version in it (the JSON Feed item's
`_syndicator` links, docs/configuration.md), with a line of the story's languages: the one
shown, then links to the others. The widget makes the same choice from the same data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from syndicator.localdates import format_date
from syndicator.locales import language_key

_LANG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,3}$")
MAX_ACCEPT = 20          # Accept-Language entries read at most


def safe_url(value: object) -> str | None:
    """An http(s) URL to put in href/src, or None (javascript:, data:, relative, junk)."""
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return value.strip()


def _primary(tag: object) -> str:
    return str(tag or "").split("-")[0].lower() if isinstance(tag, str) else ""


def accepted_languages(header: str) -> list[str]:
    """The language tags of an Accept-Language header, the reader's preferred first."""
    found: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:MAX_ACCEPT]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        weight = re.search(r"q=([0-9.]{1,5})", params)
        if weight:
            try:
                quality = float(weight.group(1))
            except ValueError:
                continue
        if _LANG.match(tag) and quality > 0:
            found.append((-quality, position, tag))
    return [tag for _quality, _position, tag in sorted(found)]


def best_match(want: str, tags: Sequence[object]) -> int | None:
    """The position in `tags` of the one that best serves a reader of `want`: the same tag
    (`zh-Hant` before `zh-Hans`, case aside), else the same language and script
    (locales.language_key: `zh-Hant` for `zh-TW`), else the same language (`be` for
    `be-BY`); None when none does. static/embed.js chooses the same way (it knows the
    scripts of Chinese only)."""
    wanted = want.lower()
    for position, tag in enumerate(tags):
        if isinstance(tag, str) and tag.lower() == wanted:
            return position
    key = language_key(want)
    for position, tag in enumerate(tags):
        if key and isinstance(tag, str) and language_key(tag) == key:
            return position
    primary = _primary(want)
    for position, tag in enumerate(tags):
        if primary and _primary(tag) == primary:
            return position
    return None


def frame_language(raw: str | None, fallback: str | None, accept: str,
                   default: str | None, offered: Sequence[str] = ()) -> str:
    """The frame's language: `raw` (a tag, or `auto`: the first of the reader's
    Accept-Language languages that `offered` has, the feed's stories' languages and the
    pages' ones), else `fallback`, else `default` (the feed's), else English."""
    if raw and raw.strip().lower() == "auto":
        raw = next((tag for tag in accepted_languages(accept)
                    if best_match(tag, offered) is not None), None)
    for choice in (raw, fallback, default):
        if choice and _LANG.match(choice):
            return choice
    return "en"


@dataclass(frozen=True)
class LanguageLink:
    """One language of an item's story: `url` None for the version shown."""

    code: str
    language: str
    url: str | None
    title: str | None


@dataclass(frozen=True)
class ItemView:
    title: str
    url: str | None
    iso: str | None
    date: str | None
    summary: str | None
    image: str | None
    language: str | None = None
    languages: tuple[LanguageLink, ...] = ()


def _versions(raw: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    extension = raw.get("_syndicator")
    links = extension.get("links") if isinstance(extension, dict) else None
    return [link for link in links if isinstance(link, dict) and link.get("rel") == "alternate"
            and isinstance(link.get("language"), str)] if isinstance(links, list) else []


def _languages(shown: Mapping[str, Any], others: Sequence[Mapping[str, Any]]
               ) -> tuple[LanguageLink, ...]:
    """The story's languages: the one shown first (unlinked), then the others."""
    found = [LanguageLink(_primary(shown.get("language")).upper(),
                          str(shown.get("language")), None, None)]
    for version in others:
        url = safe_url(version.get("url"))
        title = version.get("title")
        if url and isinstance(version.get("language"), str):
            found.append(LanguageLink(_primary(version["language"]).upper(),
                                      version["language"], url,
                                      title if isinstance(title, str) else None))
    return tuple(found) if len(found) > 1 and isinstance(shown.get("language"), str) else ()


def item_views(document: Mapping[str, Any], *, limit: int, lang: str, timezone: str,
               summaries: bool, images: bool) -> list[ItemView]:
    """The first `limit` usable items of a JSON Feed document, ready for the template, each
    in the frame's language when its story has a version in it."""
    views: list[ItemView] = []
    raw_items = document.get("items")
    for raw in raw_items if isinstance(raw_items, list) else []:
        if len(views) >= limit:
            break
        if not isinstance(raw, dict) or not isinstance(raw.get("title"), str):
            continue
        versions = _versions(raw)
        titled = [raw, *(v for v in versions if isinstance(v.get("title"), str))]
        best = best_match(lang, [version.get("language") for version in titled])
        mine = titled[best] if best else None
        shown: Mapping[str, Any] = mine or raw
        others = [{"url": raw.get("url"), "language": raw.get("language"),
                   "title": raw.get("title")}, *(v for v in versions if v is not mine)] \
            if mine else versions
        published = _parse_time(raw.get("date_published"))
        summary = raw.get("summary")
        language = shown.get("language")
        views.append(ItemView(
            title=shown["title"],
            url=safe_url(shown.get("url")),
            iso=published.isoformat().replace("+00:00", "Z") if published else None,
            date=format_date(published, lang, timezone) if published else None,
            # The summary is the published version's: not shown under a translated title.
            summary=summary if summaries and not mine and isinstance(summary, str)
            and summary else None,
            image=safe_url(raw.get("image")) if images else None,
            language=language if isinstance(language, str) else None,
            languages=_languages(shown, others),
        ))
    return views


def story_languages(document: Mapping[str, Any]) -> list[str]:
    """The languages a JSON Feed document's stories are told in (its items' and their
    versions'), in order of first appearance."""
    found: dict[str, None] = {}
    raw_items = document.get("items")
    for raw in raw_items if isinstance(raw_items, list) else []:
        if isinstance(raw, dict):
            for version in [raw, *_versions(raw)]:
                if isinstance(version.get("language"), str):
                    found.setdefault(version["language"])
    return list(found)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
