"""The `sources:` and `feeds:` sections, the fetch options a source runs with and the
`content:` bounds on what its items keep."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    field_validator,
    model_validator,
)

from syndicator.capping import (
    CONTENT_BYTES_RANGE,
    DEFAULT_CONTENT_BYTES,
    DEFAULT_TITLE_CHARS,
    TITLE_CHARS_RANGE,
    ContentLimits,
)
from syndicator.config_base import (
    _ID,
    DEFAULT_USER_AGENT,
    CardSelector,
    Duration,
    ElementSelector,
    HttpUrl,
    LanguageCode,
    Model,
    Pattern,
    Selector,
    ShownValueError,
    Size,
)
from syndicator.locales import language_key

DEFAULT_CHROMIUM = "/usr/bin/chromium"


class BrowserSettings(Model):
    """`fetch.browser`: the headless Chromium that renders `render: browser` sources.

    One browser serves every source: `executable` and `concurrency` are set at the top level
    only; `timeout` (one page's whole render) may differ per source."""

    executable: str = DEFAULT_CHROMIUM
    concurrency: int = Field(default=1, ge=1, le=8)    # pages rendered at once
    timeout: Duration = Field(default=30.0, gt=0)


class ContentConfig(Model):
    """`content`: how much of one item the store keeps, whatever its source (capping.py)."""

    max_bytes: Size = DEFAULT_CONTENT_BYTES       # the item's HTML, in UTF-8 bytes
    max_title_chars: int = DEFAULT_TITLE_CHARS     # its title, in characters

    @field_validator("max_bytes")
    @classmethod
    def _content_bytes(cls, value: int) -> int:
        low, high = CONTENT_BYTES_RANGE
        if not low <= value <= high:
            raise ValueError(f"must be from {low // 1024}KiB to {high // 1024 // 1024}MiB: "
                             "one item's HTML, which every feed file and push carries")
        return value

    @field_validator("max_title_chars")
    @classmethod
    def _title_chars(cls, value: int) -> int:
        low, high = TITLE_CHARS_RANGE
        if not low <= value <= high:
            raise ValueError(f"must be from {low} to {high} characters")
        return value

    def limits(self) -> ContentLimits:
        return ContentLimits(content_bytes=self.max_bytes, title_chars=self.max_title_chars)


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
    browser: BrowserSettings | None = None


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
    browser: BrowserSettings = BrowserSettings()
    # What a source adds (for_source): its headers and cookies, sent only to
    # its own origins (source_url's and follow_hosts'), and whether its pages are rendered.
    source_url: str | None = None
    follow_hosts: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = Field(default=(), repr=False)
    cookies: tuple[tuple[str, str], ...] = Field(default=(), repr=False)
    render: bool = False               # through headless Chromium (fetch/browser.py)
    render_articles: bool = False      # what `for_articles()` makes `render`

    def merged(self, override: FetchSettings | None) -> FetchConfig:
        if override is None:
            return self
        changes: dict[str, Any] = {}
        for name in type(override).model_fields:
            value = getattr(override, name)
            if isinstance(value, BrowserSettings):  # a source's timeout over the top level's
                value = self.browser.model_copy(update={
                    key: getattr(value, key) for key in value.model_fields_set})
            if value is not None:
                changes[name] = value
        return self.model_copy(update=changes)

    def for_source(self, source: SourceConfig) -> FetchConfig:
        """These settings with what the source adds: its headers, cookies and rendering."""
        return self.model_copy(update={
            "source_url": source.url, "follow_hosts": source.follow_hosts,
            "headers": source.headers, "cookies": source.cookies,
            "render": source.render == "browser", "render_articles": source.render_articles})

    def for_articles(self) -> FetchConfig:
        """The settings for a source's article pages: rendered only with `render_articles`."""
        if self.render == self.render_articles:
            return self
        return self.model_copy(update={"render": self.render_articles})


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
        return self

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        """A line the scheduler can run, checked by the trigger it will become."""
        if value is None:
            return value
        from syndicator.scheduler import cron_trigger  # APScheduler only for cron lines

        try:
            cron_trigger(value, "UTC")
        except ValueError as exc:
            # The line is shown: it is no secret, and the operator must see what was read.
            raise ShownValueError(f"invalid cron schedule '{value}': {exc} (five fields: "
                                  "minute hour day month weekday, e.g. '*/15 * * * *')"
                                  ) from None
        return value

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
    item: CardSelector
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
    remove: tuple[ElementSelector, ...] = ()
    image: Selector | None = None
    author: Selector | None = None
    category: Selector | None = None
    # The page's language switcher (its links or the elements holding them): the other
    # language versions of the story, besides the hreflang and JSON-LD the page carries.
    translations: ElementSelector | None = None


# What datetime.strptime understands after a `%`.
_STRPTIME_DIRECTIVES = frozenset("aAbBcdfGHIjmMpSuUVwWxXyYzZ%")

# Request headers a source may not set: the connection's framing and hop-by-hop headers,
# and those the fetcher owns (conditional GET, content decoding, its own User-Agent and
# cookies), each with where to set it instead.
_HEADERS_NOT_SET: Mapping[str, str] = {
    **dict.fromkeys(("host", "content-length", "transfer-encoding", "connection",
                     "keep-alive", "proxy-connection", "upgrade", "te", "trailer", "expect",
                     "proxy-authorization", "content-type", "range", "if-range"),
                    "it belongs to the connection, not to a source"),
    **dict.fromkeys(("if-none-match", "if-modified-since", "if-match",
                     "if-unmodified-since"),
                    "the fetcher sends conditional requests itself"),
    "accept-encoding": "the fetcher asks for the encodings it decodes (gzip, deflate)",
    "user-agent": "set fetch.user_agent instead",
    "cookie": "write cookies under `cookies:` (name: value)",
}
# Matched whole (fullmatch): RFC 9110 field names; values of visible ASCII, spaces and tabs;
# RFC 6265 cookie values (bare or in double quotes).
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FIELD_VALUE = re.compile(r"[\x20-\x7e\t]*")
_COOKIE_VALUE = re.compile(r'([\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*)|'
                           r'"([\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*)"')


def _pairs(value: Any) -> Any:
    """A `name: value` mapping as pairs (a frozen config holds no dicts); numbers as text."""
    if isinstance(value, Mapping):
        return tuple((str(name), str(text) if isinstance(text, int | float)
                      and not isinstance(text, bool) else text)
                     for name, text in value.items())
    return value


# Written as a mapping, kept as pairs. The value is never shown in an error: it may be a
# secret from {env: NAME}.
NamedValues = Annotated[tuple[tuple[str, str], ...], BeforeValidator(_pairs)]


def check_headers(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    seen: set[str] = set()
    for name, value in pairs:
        if not _TOKEN.fullmatch(name):
            # Not shown: `{"Authorization: Bearer …"}` puts a secret where a name goes.
            raise ValueError("a key is not a header name (letters, digits and -; not shown: "
                             "a name with `:` or spaces may be a header and its secret value)")
        why = _HEADERS_NOT_SET.get(name.lower())
        if why is not None:
            raise ValueError(f"header {name} cannot be set here: {why}")
        if name.lower() in seen:
            raise ValueError(f"header {name} is given twice")
        seen.add(name.lower())
        if not _FIELD_VALUE.fullmatch(value):
            raise ValueError(f"the value of header {name} holds a line break, a control "
                             "character or non-ASCII text (not shown)")
    return pairs


def check_cookies(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    for name, value in pairs:
        if not _TOKEN.fullmatch(name):
            # Not shown: `{"sid=…"}` puts a secret where a name goes.
            raise ValueError("a key is not a cookie name (letters, digits and -_.; not shown: "
                             "a name with `=` may be a cookie and its secret value)")
        if not _COOKIE_VALUE.fullmatch(value):
            raise ValueError(f"the value of cookie {name} holds a character a cookie cannot "
                             "carry (spaces, quotes, commas, semicolons, backslashes, "
                             "controls or non-ASCII; not shown)")
    return pairs


class SourceConfig(Model):
    id: Annotated[str, Field(pattern=_ID)]
    type: Literal["html", "feed", "sitemap"] = "html"
    url: HttpUrl
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
    # Sent with every request of this source to its own origins (the URL's and follow_hosts');
    # secrets through {env: NAME}. Never logged or shown.
    headers: NamedValues = Field(default=(), repr=False)
    cookies: NamedValues = Field(default=(), repr=False)
    # html sources: listing pages rendered by headless Chromium (fetch.browser), for sites that
    # build their lists with JavaScript; article pages too with render_articles.
    render: Literal["http", "browser"] = "http"
    render_articles: bool = False

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        return check_headers(value)

    @field_validator("cookies")
    @classmethod
    def _cookies(cls, value: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        return check_cookies(value)

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
        if self.type != "html" and (self.render != "http" or self.render_articles):
            raise ValueError("`render` and `render_articles` are for html sources: a feed or "
                             "sitemap is read as it is served")
        if self.render_articles and self.render != "browser":
            raise ValueError("`render_articles: true` needs `render: browser`")
        browser = self.fetch.browser if self.fetch is not None else None
        if browser is not None and browser.model_fields_set - {"timeout"}:
            raise ValueError("fetch.browser of a source may set only `timeout`: one browser "
                             "serves every source, set `executable` and `concurrency` in "
                             "the top-level fetch.browser")
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
    # The site the feed is about (the feed's <link>, the index's "Website", OPML htmlUrl);
    # Config fills in the site of its first source when it is not given.
    link: HttpUrl | None = None
    # `group`: each story once, in the first of `languages` it exists in (its other
    # versions linked); `all`: every version as an item of its own.
    translations: Literal["all", "group"] = "all"
    languages: tuple[LanguageCode, ...] = ()   # preference order of a grouped feed

    @property
    def preferred_languages(self) -> tuple[str, ...]:
        """The grouped feed's order: `languages`, else the feed's own language."""
        own = language_key(self.language)
        return self.languages or ((own,) if own else ())


