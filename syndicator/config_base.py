"""What every part of the config shares: units (durations, sizes), ids, selectors and
patterns, the frozen model base and the time zone check."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationInfo,
)

from syndicator.locales import language_key
from syndicator.selection import compile_pattern
from syndicator.uris import uri

DEFAULT_USER_AGENT = "Syndicator/0.1 (+https://github.com/syndicator/syndicator; news feeds)"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
               "kib": 1024, "mib": 1024**2, "gib": 1024**3, None: 1}
_ID = r"^[a-z0-9][a-z0-9_-]*$"


def parse_duration(value: Any) -> float:
    """`20s`, `1.5m`, `250ms`, `2h`, `1d` or a bare number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 20s, 15m or 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration; write e.g. 20s, 15m, 1h, 250ms")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def parse_size(value: Any) -> int:
    """`5MB`, `512KiB` or a bare number of bytes → bytes."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 5MB")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a size; write e.g. 5MB, 512KB, 1GiB")
        unit = match.group(2).lower() if match.group(2) else None
        size = int(float(match.group(1)) * _SIZE_UNITS[unit])
    if size <= 0:
        raise ValueError("a size must be positive")
    return size


def check_http_url(value: str) -> str:
    """An absolute http(s) URL with a host and without user:password@, kept as the URI it
    is written as (an IRI's non-ASCII percent-encoded, its host in IDNA: uris.uri). The
    value is never echoed in the error: it may hold a password."""
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("holds a space, a line break or a control character: a URL has "
                         "none (write a space in a path as %20)")
    if "\\" in value:
        raise ValueError("holds a backslash: a URL separates its parts with /")
    try:
        parts = urlsplit(value)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:      # e.g. an unclosed "[" in the host, a port out of range
        usable = False
    if not usable:
        raise ValueError("must be an http:// or https:// URL such as https://news.example.org/")
    if "@" in parts.netloc:
        # Credentials in a URL are shown wherever the URL is (logs, check, links resolved
        # against it), and each of those would need to hide them: they are refused instead.
        raise ValueError("holds user:password@ (not shown): credentials are not written in a "
                         "URL; send them as a header from the environment, e.g. a source's "
                         "headers: {Authorization: \"${NEWS_AUTH}\"} with NEWS_AUTH set to "
                         "'Basic ' and the base64 of user:password")
    return uri(value)


def site_of(url: str) -> str:
    """The site (scheme, host and port, then "/") of an http(s) URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2].lower()}/"


def _language_code(value: str) -> str:
    """A configured language as languages are compared (locales.language_key: "be-BY" →
    "be", "zh-TW" → "zh-Hant")."""
    code = language_key(value)
    if code is None:
        raise ValueError(f"{value!r} is not a language tag (be, en-GB, zh-Hant)")
    return code


Duration = Annotated[float, BeforeValidator(parse_duration)]
LanguageCode = Annotated[str, AfterValidator(_language_code)]
Size = Annotated[int, BeforeValidator(parse_size)]
HttpUrl = Annotated[str, AfterValidator(check_http_url)]


class ShownValueError(ValueError):
    """A config error whose message shows the value it rejects. Only for values the operator
    must see exactly to fix them and that are never secrets: selectors and patterns (other
    errors never echo a value, see config._explain)."""


# The validation context key (`Config.model_validate(..., context={CHECK_SELECTORS: True})`)
# that makes loading compile every selector. Off by default: the CSS engine is the
# extractor's (selectolax), which a build or the feed server never needs to import.
CHECK_SELECTORS = "check_selectors"


def _compiled(value: str, info: ValidationInfo) -> tuple[str, str | None] | None:
    """The selector's CSS and attribute, compiled when loading checks selectors (else None)."""
    if not (info.context and info.context.get(CHECK_SELECTORS)):
        return None
    from syndicator.errors import InvalidSelector
    from syndicator.extract.html import compile_selector

    try:
        css, attribute = compile_selector(value)
    except InvalidSelector as exc:
        raise ShownValueError(str(exc)) from None
    return css, attribute


def _checked_selector(value: str, info: ValidationInfo) -> str:
    _compiled(value, info)
    return value


def _element_selector(advice: str) -> Callable[[str, ValidationInfo], str]:
    """The check of a selector that picks elements (cards, parts to remove, a switcher):
    nothing is read from them, so an `@attr` would be ignored and is refused. `advice`
    says what to write instead ({css} and {attr} filled in)."""
    def check(value: str, info: ValidationInfo) -> str:
        compiled = _compiled(value, info)
        if compiled is not None and compiled[1] is not None:
            css, attribute = compiled
            raise ShownValueError(f"'{value}': this selector picks elements and reads "
                                  f"nothing, so `@{attribute}` would be ignored; "
                                  + advice.format(css=css or "a.card", attr=attribute))
        return value
    return check


def _checked_pattern(value: str) -> str:
    try:
        compile_pattern(value)
    except re.error as exc:
        raise ShownValueError(f"invalid regular expression '{value}': {exc}") from None
    return value


# A CSS selector with an optional final `@attr` (extract/html.py compiles it).
Selector = Annotated[str, AfterValidator(_checked_selector)]
# `list.item`: the cards. A card that is the link itself reads it with `link: '@href'`.
CardSelector = Annotated[str, AfterValidator(_element_selector(
    "select the cards here and read the attribute with `link` "
    "(item: '{css}', link: '@{attr}')"))]
# `article.remove`, `article.translations`: elements, without `@attr`.
ElementSelector = Annotated[str, AfterValidator(_element_selector(
    "write it without `@{attr}`"))]
# An include/exclude regular expression (selection.py compiles it).
Pattern = Annotated[str, AfterValidator(_checked_pattern)]



class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)



def check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; "
                         "use an IANA name such as Europe/Minsk") from None

