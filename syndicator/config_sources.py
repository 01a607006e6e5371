"""The `sources:` and `feeds:` sections and the fetch options a source runs with."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from syndicator.config_base import (
    _ID,
    DEFAULT_USER_AGENT,
    Duration,
    Model,
    Pattern,
    Selector,
    ShownValueError,
    Size,
)


class FetchSettings(Model):
    """Fetch options; every field optional so a source can override only some of them."""

    user_agent: str | None = None
    timeout: Duration | None = None
    connect_timeout: Duration | None = None
    delay: Duration | None = None
    per_host: int | None = Field(default=None, ge=1, le=32)
    max_bytes: Size | None = None
    retries: int | None = Field(default=None, ge=0, le=10)
    max_redirects: int | None = Field(default=None, ge=0, le=30)
    robots: bool | None = None            # honour robots.txt (default true)
    concurrency: int | None = Field(default=None, ge=1, le=64)  # article fetches in flight
    allow_private: bool | None = None     # fetch loopback/private/metadata addresses
    request_deadline: Duration | None = Field(default=None, gt=0)  # connect + all reads
    run_deadline: Duration | None = Field(default=None, gt=0)      # one source run


class FetchConfig(Model):
    """Effective fetch options for one source: defaults < global `fetch:` < source `fetch:`."""

    user_agent: str = DEFAULT_USER_AGENT
    timeout: float = 20.0
    connect_timeout: float = 10.0
    delay: float = 1.0
    per_host: int = 2
    max_bytes: int = 5_000_000
    retries: int = 2
    max_redirects: int = 5
    robots: bool = True
    concurrency: int = 4
    allow_private: bool = False
    request_deadline: float = 60.0
    run_deadline: float = 600.0

    def merged(self, override: FetchSettings | None) -> FetchConfig:
        if override is None:
            return self
        changes = {k: v for k, v in override.model_dump().items() if v is not None}
        return self.model_copy(update=changes)


class Schedule(Model):
    every: Duration | None = None
    cron: str | None = None
    jitter: Duration = 0.0

    @model_validator(mode="after")
    def _one_of(self) -> Schedule:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one of `every` (e.g. 15m) or `cron` "
                             "(e.g. '*/15 * * * *')")
        if self.every is not None and self.every < 1:
            raise ValueError("`every` must be at least 1s")
        if self.cron is not None and len(self.cron.split()) != 5:
            raise ValueError("`cron` needs five fields: minute hour day month weekday")
        return self

    @property
    def interval_seconds(self) -> float:
        """A typical gap between runs (cron: a rough estimate); used for cache lifetimes."""
        if self.every is not None:
            return self.every
        minute = (self.cron or "").split()[0]
        step = re.match(r"^\*/(\d+)$", minute)
        if step:
            return int(step.group(1)) * 60.0
        return 60.0 if minute == "*" else 3600.0


class ListSelectors(Model):
    item: Selector
    link: Selector | None = None
    title: Selector | None = None
    date: Selector | None = None
    summary: Selector | None = None
    image: Selector | None = None
    author: Selector | None = None
    category: Selector | None = None
    next: Selector | None = None
    max_pages: int = Field(default=1, ge=1, le=10_000)
    backfill_pages: int = Field(default=500, ge=1, le=100_000)


class ArticleSelectors(Model):
    title: Selector | None = None
    date: Selector | None = None
    updated: Selector | None = None
    content: Selector | None = None
    summary: Selector | None = None
    remove: tuple[Selector, ...] = ()
    image: Selector | None = None
    author: Selector | None = None
    category: Selector | None = None
    # The page's language switcher (its links or the elements holding them): the other
    # language versions of the story, besides the hreflang and JSON-LD the page carries.
    translations: Selector | None = None


# What datetime.strptime understands after a `%`.
_STRPTIME_DIRECTIVES = frozenset("aAbBcdfGHIjmMpSuUVwWxXyYzZ%")


class SourceConfig(Model):
    id: Annotated[str, Field(pattern=_ID)]
    type: Literal["html", "feed", "sitemap"] = "html"
    url: str
    title: str | None = None
    language: str | None = None
    timezone: str | None = None
    date_format: str | None = None        # optional strptime format tried before dateparser
    schedule: Schedule = Schedule(every=900.0)
    fetch: FetchSettings | None = None
    list: ListSelectors | None = None
    article: ArticleSelectors | None = None
    fetch_articles: bool | None = None    # feed sources: also fetch each article page
    # sitemap sources: the newest N URLs per run (a sitemap may list 50,000), and how many
    # child sitemaps of a sitemap index are read (newest first)
    max_items: int = Field(default=50, ge=1, le=10_000)
    max_sitemaps: int = Field(default=3, ge=1, le=100)
    enabled: bool = True
    # Hosts (`cdn.example.org`, `*.example.org`) or origins (`https://cdn.example.org:8443`)
    # whose links may be followed besides the source URL's own origin.
    follow_hosts: tuple[str, ...] = ()

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"^https?://", value):
            raise ValueError("url must start with http:// or https://")
        return value

    @field_validator("date_format")
    @classmethod
    def _strptime_format(cls, value: str | None) -> str | None:
        if value is None:
            return value
        directives = re.findall(r"%(.?)", value)
        unknown = [d for d in directives if d not in _STRPTIME_DIRECTIVES]
        if unknown or not directives:
            why = (f"`%{unknown[0]}` is no strptime directive" if unknown
                   else "it has no %-directive")
            raise ShownValueError(f"date_format '{value}': {why} (write e.g. "
                                  "'%d.%m.%Y %H:%M'; see Python's strptime)")
        return value

    @field_validator("follow_hosts")
    @classmethod
    def _hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            if not re.match(r"^(https?://)?(\*\.)?[^\s/*@]+/?$", entry.strip()):
                raise ValueError(f"{entry!r} is not a host (news.example.org, *.example.org) "
                                 "or an origin (https://news.example.org:8443)")
        return value

    @model_validator(mode="after")
    def _selectors(self) -> SourceConfig:
        if self.type == "html" and self.list is None:
            raise ValueError("an html source needs a `list:` block with at least `item` and `link`")
        return self


class FeedConfig(Model):
    id: Annotated[str, Field(pattern=_ID)]
    title: str
    description: str | None = None
    sources: tuple[str, ...]
    language: str | None = None
    limit: int = Field(default=50, ge=1, le=10_000)
    include: tuple[Pattern, ...] = ()
    exclude: tuple[Pattern, ...] = ()
    link: str | None = None               # the site the feed is about (defaults to first source)
    # `group`: each story once, in the first of `languages` it exists in (its other
    # versions linked); `all`: every version as an item of its own.
    translations: Literal["all", "group"] = "all"
    languages: tuple[str, ...] = ()       # preference order of a grouped feed

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        codes = tuple(code.strip().lower() for code in value)
        for code in codes:
            if not re.fullmatch(r"[a-z]{2,3}", code):
                raise ValueError(f"{code!r} is not a language code (be, ru, en)")
        return codes

    @property
    def preferred_languages(self) -> tuple[str, ...]:
        """The grouped feed's order: `languages`, else the feed's own language."""
        own = re.split(r"[-_]", self.language or "")[0].lower()
        return self.languages or ((own,) if own else ())


