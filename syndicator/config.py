"""config.yaml → validated, frozen models.

The one pydantic user. Errors name the key path (`sources[1].list.date`) and the line of the
file, so an operator can fix them without reading code. Secrets are never written in the
file: a value may be `{env: NAME}` or contain `${NAME}`, substituted from the environment
when the config loads (a missing variable is an error naming the key and the variable, never
the value).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from syndicator.errors import ConfigError

DEFAULT_CONFIG = "config.yaml"
CONFIG_ENV = "SYNDICATOR_CONFIG"
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


Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SiteConfig(_Model):
    title: str = "Syndicator feeds"
    base_url: str = "http://127.0.0.1:8080/"
    description: str = ""

    @field_validator("base_url")
    @classmethod
    def _slash(cls, value: str) -> str:
        if not re.match(r"^https?://", value):
            raise ValueError("base_url must start with http:// or https://")
        return value if value.endswith("/") else value + "/"


class FetchSettings(_Model):
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


class FetchConfig(_Model):
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


class Schedule(_Model):
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


class ListSelectors(_Model):
    item: str
    link: str | None = None
    title: str | None = None
    date: str | None = None
    summary: str | None = None
    image: str | None = None
    author: str | None = None
    category: str | None = None
    next: str | None = None
    max_pages: int = Field(default=1, ge=1, le=10_000)
    backfill_pages: int = Field(default=500, ge=1, le=100_000)


class ArticleSelectors(_Model):
    title: str | None = None
    date: str | None = None
    updated: str | None = None
    content: str | None = None
    summary: str | None = None
    remove: tuple[str, ...] = ()
    image: str | None = None
    author: str | None = None
    category: str | None = None


class SourceConfig(_Model):
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


class FeedConfig(_Model):
    id: Annotated[str, Field(pattern=_ID)]
    title: str
    description: str | None = None
    sources: tuple[str, ...]
    language: str | None = None
    limit: int = Field(default=50, ge=1, le=10_000)
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    link: str | None = None               # the site the feed is about (defaults to first source)


class ServerLimits(_Model):
    """`server: {limits: ...}` bounds on every HTTP request (docs/server.md, "Limits")."""

    request_line: Size = Field(default=8 * 1024, ge=256, le=1024 * 1024)     # 414 above
    headers: int = Field(default=100, ge=8, le=10_000)          # how many; 431 above
    header_bytes: Size = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)  # 431
    body_bytes: Size = Field(default=64 * 1024, ge=1024, le=1024 * 1024 * 1024)  # 413
    # From a connection's opening, or the previous answer on it, to the end of a request's
    # headers.
    header_timeout: Duration = Field(default=10.0, gt=0, le=600)
    # An idle keep-alive connection is closed after this long without a new request.
    idle_timeout: Duration = Field(default=5.0, gt=0, le=600)
    # From the end of a request's headers to the end of its body (else 408).
    body_timeout: Duration = Field(default=30.0, gt=0, le=3600)


class ServerConfig(_Model):
    """`server:` where `syndicator run` / `serve` listen (base_url may differ behind a proxy)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    limits: ServerLimits = ServerLimits()
    # Feed views with ?limit/filter/filterout/format that miss the cache, per client address:
    # `query_burst` at once, refilled at `query_rate` per second; then 429 (web/ratelimit.py).
    query_rate: float = Field(default=1.0, gt=0, le=10_000)
    query_burst: int = Field(default=20, ge=1, le=100_000)
    # `serve` only: processes answering on the one socket (`run` keeps one: its scheduler).
    # "auto": one per CPU this process may run on, as nginx's `worker_processes auto`.
    workers: int | Literal["auto"] = 1

    @field_validator("workers", mode="before")
    @classmethod
    def _workers(cls, value: object) -> object:
        # One message for both forms, instead of one per member of the union.
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool)
                               and 1 <= value <= 64):
            return value
        raise ValueError(f"must be a number of processes from 1 to 64, or auto (got {value!r})")

    def processes(self) -> int:
        """How many processes `serve` forks: `workers`, with "auto" resolved."""
        if self.workers != "auto":
            return self.workers
        try:
            cpus = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):     # not on Linux
            cpus = os.cpu_count() or 1
        return max(1, min(64, cpus))


class WebSubConfig(_Model):
    """`websub:` a hub to advertise in every feed and to ping after a feed changed."""

    hub: str | None = None
    timeout: Duration = 10.0
    retries: int = Field(default=3, ge=0, le=10)

    @field_validator("hub")
    @classmethod
    def _hub_http(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://", value):
            raise ValueError("hub must be an http:// or https:// URL")
        return value


class SmtpConfig(_Model):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: str | None = Field(default=None, repr=False)   # from {env: NAME}, never in logs
    timeout: Duration = 30.0


class PushTargetBase(_Model):
    id: Annotated[str, Field(pattern=_ID)]
    feeds: tuple[str, ...]
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    template: str = "default"               # or a path to a Jinja2 template
    backfill: int = Field(default=0, ge=0, le=1000)
    max_attempts: int = Field(default=5, ge=1, le=100)
    enabled: bool = True

    @field_validator("include", "exclude")
    @classmethod
    def _regexes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return value


class TelegramTarget(PushTargetBase):
    type: Literal["telegram"]
    chat_id: str | int
    token: str = Field(repr=False)          # from {env: NAME}, never in logs
    api_url: str = "https://api.telegram.org"
    on_update: Literal["ignore", "edit"] = "ignore"
    disable_notification: bool = False
    link_preview: bool = True
    # Read timeout of one Bot API request: no answer by then = outcome unknown, not resent.
    timeout: Duration = Field(default=30.0, gt=0)

    @field_validator("api_url")
    @classmethod
    def _api_http(cls, value: str) -> str:
        if not re.match(r"^https?://", value):
            raise ValueError("api_url must be an http:// or https:// URL")
        return value


class SignupLimits(_Model):
    """Sign-ups through the web forms to one email target, in any `window`: at most
    `per_ip` from one client address (an IPv6 /64 counts as one) and `per_target` in all.
    Counted in each serving process."""

    per_ip: int = Field(default=5, ge=1, le=100_000)
    per_target: int = Field(default=100, ge=1, le=1_000_000)
    window: Duration = Field(default=3600.0, gt=0, le=7 * 86400)


class EmailTarget(PushTargetBase):
    type: Literal["email"]
    mode: Literal["per_item", "digest"] = "per_item"
    schedule: Schedule | None = None        # digests: when to send (cron)
    smtp: SmtpConfig
    from_: str = Field(alias="from")
    reply_to: str | None = None
    subject: str | None = None              # digest subject; default from the feed titles
    unsubscribe_mailto: str | None = None   # default: the from address
    on_update: Literal["ignore"] = "ignore"
    signups: SignupLimits = SignupLimits()  # rate limits of the sign-up forms

    @model_validator(mode="after")
    def _digest_schedule(self) -> EmailTarget:
        if self.mode == "digest" and self.schedule is None:
            raise ValueError("a digest needs a `schedule` (e.g. {cron: \"0 7 * * *\"})")
        return self


PushTarget = Annotated[TelegramTarget | EmailTarget, Field(discriminator="type")]


@functools.lru_cache(maxsize=64)
def _resolved(base_dir: Path, path: str) -> Path:
    # resolve() asks the file system about every component (~0.1 ms), and a build asks for
    # the output folder a dozen times; the folder is taken to stay where it is meanwhile.
    return (base_dir / path).resolve()


class Config(_Model):
    site: SiteConfig = SiteConfig()
    storage: str = "sqlite:///syndicator.db"
    output_dir: str = "feeds"
    timezone: str = "UTC"
    fetch: FetchSettings = FetchSettings()
    # Worker processes that extract article pages in large runs: "auto" (one per core beyond
    # the first, at most 4) or a number; 0 extracts in the main process.
    extract_processes: Annotated[int, Field(ge=0, le=64)] | Literal["auto"] = "auto"
    sources: tuple[SourceConfig, ...] = ()
    feeds: tuple[FeedConfig, ...] = ()
    server: ServerConfig = ServerConfig()
    websub: WebSubConfig = WebSubConfig()
    push: tuple[PushTarget, ...] = ()
    # Secret used to sign subscribe/unsubscribe tokens: {env: NAME}; required with email push.
    secret_key: str | None = Field(default=None, repr=False)

    # Where the file was loaded from; relative paths (storage, output_dir) resolve against it.
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        check_timezone(value)
        return value

    @model_validator(mode="after")
    def _references(self) -> Config:
        seen: set[str] = set()
        for index, source in enumerate(self.sources):
            if source.id in seen:
                raise _RefError(f"duplicate source id {source.id!r}", ("sources", index, "id"))
            seen.add(source.id)
            if source.timezone:
                try:
                    check_timezone(source.timezone)
                except ValueError as exc:
                    raise _RefError(str(exc), ("sources", index, "timezone")) from None
        feed_ids: set[str] = set()
        for index, feed in enumerate(self.feeds):
            if feed.id in feed_ids:
                raise _RefError(f"duplicate feed id {feed.id!r}", ("feeds", index, "id"))
            feed_ids.add(feed.id)
            for pos, ref in enumerate(feed.sources):
                if ref not in seen:
                    known = ", ".join(sorted(seen)) or "none"
                    raise _RefError(f"unknown source {ref!r} (known: {known})",
                                    ("feeds", index, "sources", pos))
            for key in ("include", "exclude"):
                for pos, pattern in enumerate(getattr(feed, key)):
                    try:
                        re.compile(pattern)
                    except re.error as exc:
                        raise _RefError(f"invalid regular expression: {exc}",
                                        ("feeds", index, key, pos)) from None
        target_ids: set[str] = set()
        for index, target in enumerate(self.push):
            if target.id in target_ids:
                raise _RefError(f"duplicate push target id {target.id!r}", ("push", index, "id"))
            target_ids.add(target.id)
            for pos, ref in enumerate(target.feeds):
                if ref not in feed_ids:
                    known = ", ".join(sorted(feed_ids)) or "none"
                    raise _RefError(f"unknown feed {ref!r} (known: {known})",
                                    ("push", index, "feeds", pos))
            if isinstance(target, EmailTarget) and not self.secret_key:
                raise _RefError("email push needs `secret_key` (e.g. {env: SYNDICATOR_SECRET}) "
                                "to sign unsubscribe links", ("push", index, "type"))
        return self

    def source(self, source_id: str) -> SourceConfig:
        for source in self.sources:
            if source.id == source_id:
                return source
        known = ", ".join(s.id for s in self.sources) or "none"
        raise ConfigError(f"unknown source {source_id!r} (known: {known})")

    def fetch_for(self, source: SourceConfig) -> FetchConfig:
        return FetchConfig().merged(self.fetch).merged(source.fetch)

    def timezone_for(self, source: SourceConfig) -> str:
        return source.timezone or self.timezone

    def feeds_for_source(self, source_id: str) -> tuple[FeedConfig, ...]:
        return tuple(f for f in self.feeds if source_id in f.sources)

    @property
    def output_path(self) -> Path:
        return _resolved(self.base_dir, self.output_dir)

    @property
    def storage_url(self) -> str:
        """The SQLAlchemy URL, with a relative SQLite path resolved against the config's folder."""
        prefix = "sqlite:///"
        if self.storage.startswith(prefix) and not self.storage.startswith(prefix + "/"):
            rest = self.storage[len(prefix):]
            if rest and rest != ":memory:":
                return prefix + str((self.base_dir / rest).resolve())
        return self.storage


class _RefError(ValueError):
    """A cross-reference error raised inside the model validator, with its own key path."""

    def __init__(self, message: str, loc: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.loc = loc


def check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; "
                         "use an IANA name such as Europe/Minsk") from None


# --- loading ---------------------------------------------------------------------------------

class _LineLoader(yaml.SafeLoader):
    """A safe loader that also remembers the line of every mapping key and sequence item."""


def _compose_lines(node: yaml.Node, path: tuple[str | int, ...],
                   lines: dict[tuple[str | int, ...], int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*path, key)] = key_node.start_mark.line + 1
            _compose_lines(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            _compose_lines(child, (*path, index), lines)


def format_path(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _line_for(loc: tuple[str | int, ...], lines: Mapping[tuple[str | int, ...], int]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _substitute_env(value: Any, path: tuple[str | int, ...], env: Mapping[str, str],
                    lines: Mapping[tuple[str | int, ...], int], file: str) -> Any:
    """Replace `{env: NAME}` mappings and `${NAME}` inside strings with environment values."""
    if isinstance(value, dict):
        if set(value) == {"env"} and isinstance(value["env"], str):
            name = value["env"]
            if name not in env:
                raise ConfigError(_unset(name), path=format_path(path),
                                  line=_line_for(path, lines), file=file)
            return env[name]
        return {k: _substitute_env(v, (*path, k), env, lines, file) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute_env(v, (*path, i), env, lines, file) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(_unset(name), path=format_path(path),
                                  line=_line_for(path, lines), file=file)
            return env[name]
        return _ENV_REF.sub(replace, value)
    return value


_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")


def _unset(name: str) -> str:
    """The error for an unset variable; a name that does not look like one (the secret
    itself written where its variable's name belongs) is not repeated."""
    if _ENV_NAME.match(name):
        return f"environment variable {name} is not set"
    return ("environment variable not set, and its name is not shown: it does not look like "
            "one (A-Z, 0-9, _) and may be the secret itself; put the value in the "
            "environment and its name here")


def resolve_config_path(explicit: str | os.PathLike[str] | None) -> Path:
    """`--config PATH`, else `$SYNDICATOR_CONFIG`, else `./config.yaml`."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(CONFIG_ENV)
    return Path(from_env) if from_env else Path(DEFAULT_CONFIG)


def load_config(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a config file. Raises ConfigError naming the key path and line."""
    file_path = Path(path)
    try:
        text = file_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {file_path} (use --config PATH or set "
                          f"${CONFIG_ENV})", file=str(file_path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config: {exc}", file=str(file_path)) from None
    return parse_config(text, file=str(file_path), base_dir=file_path.resolve().parent, env=env)


def parse_config(text: str, *, file: str = "<config>", base_dir: Path | None = None,
                 env: Mapping[str, str] | None = None) -> Config:
    try:
        node = yaml.compose(text, Loader=_LineLoader)
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', exc)}", line=line,
                          file=file) from None
    lines: dict[tuple[str | int, ...], int] = {}
    if node is not None:
        _compose_lines(node, (), lines)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the config must be a mapping of keys (site, sources, feeds, ...)",
                          line=1, file=file)
    data = _substitute_env(data, (), os.environ if env is None else env, lines, file)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, lines, file) from None
    except _RefError as exc:  # pragma: no cover - pydantic wraps it; kept for safety
        raise ConfigError(str(exc), path=format_path(exc.loc), line=_line_for(exc.loc, lines),
                          file=file) from None
    return config.model_copy(update={"base_dir": base_dir or Path(".").resolve()})


def _config_error(exc: ValidationError, lines: Mapping[tuple[str | int, ...], int],
                  file: str) -> ConfigError:
    messages: list[str] = []
    first_path = ""
    first_line: int | None = None
    for error in exc.errors():
        loc: tuple[str | int, ...] = tuple(error["loc"])
        ctx_error = (error.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _RefError):
            loc = loc + ctx_error.loc
            message = str(ctx_error)
        else:
            message = _explain(error)
        # pydantic adds the tagged-union / function names into loc; keep only our keys
        loc = tuple(p for p in loc if isinstance(p, int) or not str(p).startswith("function-"))
        path = format_path(loc)
        line = _line_for(loc, lines)
        if not messages:
            first_path, first_line = path, line
        where = f"line {line}: " if line is not None else ""
        messages.append(f"{where}{path or '(top level)'}: {message}")
    summary = messages[0] if len(messages) == 1 else "\n  " + "\n  ".join(messages)
    config_error = ConfigError(summary, path=first_path, line=first_line, file=file)
    config_error.args = (f"{file}: {summary}",)
    return config_error


def _explain(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key (check its spelling and indentation)"
    if kind == "missing":
        return "required key is missing"
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    value = error.get("input")
    # The value is never echoed: a secret may have landed in the wrong key (a bot token as
    # a port, a password as a number). Its kind and size say enough to find the mistake.
    if isinstance(value, str | int | float) and len(str(value)) >= 4:
        message = message.replace(str(value), "(the value)").replace(repr(value),
                                                                     "(the value)")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"{message} (got {_shape(value)})"
    return message


def _shape(value: Any) -> str:
    """What a value is, without what it says."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, str):
        return f"text of {len(value)} character{'s' if len(value) != 1 else ''}"
    if isinstance(value, int | float):
        return "a number"
    return "a list" if isinstance(value, list) else "a mapping" if isinstance(
        value, dict) else type(value).__name__
