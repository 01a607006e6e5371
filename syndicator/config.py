"""config.yaml → validated, frozen models.

The one pydantic user. Errors name the key path (`sources[1].list.date`) and the line and
column of the file (`config.yaml:12:15: sources[1].list.date: ...`), every problem at once,
so an operator can fix them without reading code. Secrets are never written in the
file: a value may be `{env: NAME}` or contain `${NAME}`, substituted from the environment
when the config loads (a missing variable is an error naming the key and the variable, never
the value).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from syndicator.config_base import (
    CHECK_SELECTORS,
    DEFAULT_USER_AGENT,
    Duration,
    Model,
    ShownValueError,
    Size,
    check_timezone,
    parse_duration,
    parse_size,
    site_of,
)
from syndicator.config_push import (
    EmailTarget,
    PushTarget,
    PushTargetBase,
    SignupLimits,
    SmtpConfig,
    TelegramTarget,
)
from syndicator.config_server import (
    JobsConfig,
    ServerConfig,
    ServerLimits,
    SiteConfig,
    WebSubConfig,
)
from syndicator.config_sources import (
    ArticleSelectors,
    ContentConfig,
    FeedConfig,
    FetchConfig,
    FetchSettings,
    ListSelectors,
    Schedule,
    SourceConfig,
)
from syndicator.errors import ConfigError
from syndicator.locales import language_key
from syndicator.uris import conceal

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG",
    "DEFAULT_USER_AGENT",
    "ArticleSelectors",
    "Config",
    "Duration",
    "EmailTarget",
    "FeedConfig",
    "FetchConfig",
    "FetchSettings",
    "JobsConfig",
    "ListSelectors",
    "PushTarget",
    "PushTargetBase",
    "Schedule",
    "ServerConfig",
    "ServerLimits",
    "SignupLimits",
    "SiteConfig",
    "Size",
    "SmtpConfig",
    "SourceConfig",
    "TelegramTarget",
    "WebSubConfig",
    "check_timezone",
    "format_path",
    "load_config",
    "parse_config",
    "parse_duration",
    "parse_size",
    "resolve_config_path",
]

DEFAULT_CONFIG = "config.yaml"
CONFIG_ENV = "SYNDICATOR_CONFIG"


@functools.lru_cache(maxsize=64)
def _resolved(base_dir: Path, path: str) -> Path:
    # resolve() asks the file system about every component (~0.1 ms), and a build asks for
    # the output folder a dozen times; the folder is taken to stay where it is meanwhile.
    return (base_dir / path).resolve()


class Config(Model):
    site: SiteConfig = SiteConfig()
    storage: str = "sqlite:///syndicator.db"
    output_dir: str = "feeds"
    timezone: str = "UTC"
    fetch: FetchSettings = FetchSettings()
    content: ContentConfig = ContentConfig()      # what one item keeps (capping.py)
    # Worker processes that extract article pages in large runs: "auto" (one per core beyond
    # the first, at most 4) or a number; 0 extracts in the main process.
    extract_processes: Annotated[int, Field(ge=0, le=64)] | Literal["auto"] = "auto"
    sources: tuple[SourceConfig, ...] = ()
    feeds: tuple[FeedConfig, ...] = ()
    server: ServerConfig = ServerConfig()
    websub: WebSubConfig = WebSubConfig()
    jobs: JobsConfig = JobsConfig()
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
        source_ids: set[str] = set()
        for index, source in enumerate(self.sources):
            _add_id(source_ids, source.id, "source", ("sources", index, "id"))
            if source.timezone:
                try:
                    check_timezone(source.timezone)
                except ValueError as exc:
                    raise _RefError(str(exc), ("sources", index, "timezone")) from None
        feed_ids: set[str] = set()
        for index, feed in enumerate(self.feeds):
            _add_id(feed_ids, feed.id, "feed", ("feeds", index, "id"))
            _check_refs(feed.sources, source_ids, "source", ("feeds", index, "sources"))
        target_ids: set[str] = set()
        for index, target in enumerate(self.push):
            _add_id(target_ids, target.id, "push target", ("push", index, "id"))
            _check_refs(target.feeds, feed_ids, "feed", ("push", index, "feeds"))
            if isinstance(target, EmailTarget) and not self.secret_key:
                raise _RefError("email push needs `secret_key` (e.g. {env: SYNDICATOR_SECRET}) "
                                "to sign unsubscribe links", ("push", index, "type"))
        return self

    @model_validator(mode="after")
    def _feed_links(self) -> Config:
        """A feed without `link` links to the site of its first source (the origin of its
        URL): that is what readers mean by the feed's website, not this feed server."""
        urls = {source.id: source.url for source in self.sources}
        if any(feed.link is None and feed.sources for feed in self.feeds):
            # The model is frozen; this runs while it is being made, before anyone sees it.
            object.__setattr__(self, "feeds", tuple(
                feed.model_copy(update={"link": site_of(urls[feed.sources[0]])})
                if feed.link is None and feed.sources else feed for feed in self.feeds))
        return self

    def source(self, source_id: str) -> SourceConfig:
        for source in self.sources:
            if source.id == source_id:
                return source
        known = ", ".join(s.id for s in self.sources) or "none"
        raise ConfigError(f"unknown source {source_id!r} (known: {known})")

    def fetch_for(self, source: SourceConfig) -> FetchConfig:
        return FetchConfig().merged(self.fetch).merged(source.fetch).for_source(source)

    def timezone_for(self, source: SourceConfig) -> str:
        return source.timezone or self.timezone

    def feeds_for_source(self, source_id: str) -> tuple[FeedConfig, ...]:
        return tuple(f for f in self.feeds if source_id in f.sources)

    def languages_of(self, feed_ids: Sequence[str]) -> tuple[str, ...]:
        """The languages of these feeds, in their order of preference: a grouped feed's
        `languages`, each feed's own language, then its sources' (locales.language_key)."""
        found: list[str | None] = []
        for feed in self.feeds:
            if feed.id not in feed_ids:
                continue
            found.extend(feed.preferred_languages)
            found.append(language_key(feed.language))
            found.extend(language_key(s.language) for s in self.sources
                         if s.id in feed.sources)
        return tuple(dict.fromkeys(code for code in found if code))

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


def _add_id(ids: set[str], new: str, what: str, path: tuple[str | int, ...]) -> None:
    """Add `new` to the ids of a config list, refusing it at `path` if it is there already."""
    if new in ids:
        raise _RefError(f"duplicate {what} id {new!r}", path)
    ids.add(new)


def _check_refs(refs: Sequence[str], known: set[str], what: str,
                path: tuple[str | int, ...]) -> None:
    """Refuse the first of `refs` (the list at `path`) that is not among the `known` ids."""
    for pos, ref in enumerate(refs):
        if ref not in known:
            names = ", ".join(sorted(known)) or "none"
            raise _RefError(f"unknown {what} {ref!r} (known: {names})", (*path, pos))


# Where each key path's value starts in the file: 1-based line and column.
Position = tuple[int, int]
Positions = Mapping[tuple[str | int, ...], Position]


def _positions(node: yaml.Node, path: tuple[str | int, ...],
               found: dict[tuple[str | int, ...], Position]) -> None:
    """The position of every mapping value and sequence item under `node`: a scalar's own,
    a block's key's (a nested mapping starts on the lines below its key)."""
    found[path] = _position(node)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key_path = (*path, key_node.value)
            _positions(value_node, key_path, found)
            if not isinstance(value_node, yaml.ScalarNode):
                found[key_path] = _position(key_node)
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            _positions(child, (*path, index), found)


def _position(node: yaml.Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


def format_path(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _position_of(loc: tuple[str | int, ...], positions: Positions) -> Position | None:
    """The position of a key path, else of its nearest ancestor in the file (a missing key
    is reported where its mapping is)."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in positions:
            return positions[loc[:end]]
    return None


def _error_at(message: str, loc: tuple[str | int, ...], positions: Positions,
              file: str) -> ConfigError:
    """The one way a key path becomes a ConfigError naming its line and column."""
    line, column = _position_of(loc, positions) or (None, None)
    return ConfigError(message, path=format_path(loc), line=line, column=column, file=file)


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _substitute_env(value: Any, path: tuple[str | int, ...], env: Mapping[str, str],
                    positions: Positions, file: str) -> Any:
    """Replace `{env: NAME}` mappings and `${NAME}` inside strings with environment values."""
    if isinstance(value, dict):
        if set(value) == {"env"} and isinstance(value["env"], str):
            name = value["env"]
            if name not in env:
                raise _error_at(_unset(name), path, positions, file)
            _conceal_in_url(path, env[name], [(0, env[name])])
            return env[name]
        return {k: _substitute_env(v, (*path, k), env, positions, file) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute_env(v, (*path, i), env, positions, file) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        parts: list[str] = []
        spans: list[tuple[int, str]] = []      # where each value from the environment went
        done = 0
        for match in _ENV_REF.finditer(value):
            name = match.group(1)
            if name not in env:
                raise _error_at(_unset(name), path, positions, file)
            parts.append(value[done:match.start()])
            spans.append((sum(map(len, parts)), env[name]))
            parts.append(env[name])
            done = match.end()
        result = "".join([*parts, value[done:]])
        _conceal_in_url(path, result, spans)
        return result
    return value


_HTTP_URL = re.compile(r"^https?://", re.IGNORECASE)

# Keys whose URLs every feed publishes (the site's, a feed's link): never secrets.
_PUBLISHED = frozenset({"site", "feeds"})


def _conceal_in_url(path: tuple[str | int, ...], url: str,
                    spans: Sequence[tuple[int, str]]) -> None:
    """Have every URL shown (uris.redact) hide what the environment put into `url` (at key
    `path`) after its host, given as (position, value) `spans`: an API key, a token path.
    The host, the file's own text and the URLs every feed publishes stay visible."""
    if not _HTTP_URL.match(url) or (path and path[0] in _PUBLISHED):
        return
    try:
        parts = urlsplit(url)
    except ValueError:
        return                      # not a URL: the field's own check says so
    host_end = len(parts.scheme) + len("://") + len(parts.netloc)
    for start, text in spans:
        conceal(text[max(0, host_end - start):].lstrip("/"))


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


def load_config(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None,
                check_selectors: bool = False) -> Config:
    """Read and validate a config file. Raises ConfigError naming the key path and line.

    `check_selectors` also compiles every selector with the extractor's CSS engine (for the
    commands that read pages: validate, check, fetch, run)."""
    file_path = Path(path)
    try:
        text = file_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {file_path} (use --config PATH or set "
                          f"${CONFIG_ENV})", file=str(file_path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config: {exc}", file=str(file_path)) from None
    return parse_config(text, file=str(file_path), base_dir=file_path.resolve().parent, env=env,
                        check_selectors=check_selectors)


def parse_config(text: str, *, file: str = "<config>", base_dir: Path | None = None,
                 env: Mapping[str, str] | None = None, check_selectors: bool = False) -> Config:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', exc)}",
                          line=mark.line + 1 if mark is not None else None,
                          column=mark.column + 1 if mark is not None else None,
                          file=file) from None
    finally:
        loader.dispose()
    positions: dict[tuple[str | int, ...], Position] = {}
    if node is not None:
        _positions(node, (), positions)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the config must be a mapping of keys (site, sources, feeds, ...)",
                          line=1, file=file)
    data = _substitute_env(data, (), os.environ if env is None else env, positions, file)
    try:
        config = Config.model_validate(data, context={CHECK_SELECTORS: check_selectors})
    except ValidationError as exc:
        raise _config_error(exc, data, positions, file) from None
    except _RefError as exc:  # pragma: no cover - pydantic wraps it; kept for safety
        raise _error_at(str(exc), exc.loc, positions, file) from None
    return config.model_copy(update={"base_dir": base_dir or Path(".").resolve()})


class _Loader(yaml.SafeLoader):
    """The safe loader; the config is composed into nodes once, for the data and the
    positions of its keys."""


def _config_error(exc: ValidationError, data: Any, positions: Positions,
                  file: str) -> ConfigError:
    """Every problem pydantic found, each with its key path, line and column."""
    errors: list[ConfigError] = []
    for error in exc.errors():
        loc: tuple[str | int, ...] = tuple(error["loc"])
        ctx_error = (error.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _RefError):
            loc = loc + ctx_error.loc
            message = str(ctx_error)
        elif isinstance(ctx_error, ShownValueError):
            message = str(ctx_error)
        else:
            message = _explain(error)
        errors.append(_error_at(message, _key_path(loc, data), positions, file))
    if len(errors) == 1:
        return errors[0]
    first = errors[0]
    summary = ConfigError(f"{len(errors)} problems:\n  " + "\n  ".join(map(str, errors)),
                          file=file)
    summary.path, summary.line, summary.column = first.path, first.line, first.column
    return summary


def _key_path(loc: tuple[str | int, ...], data: Any) -> tuple[str | int, ...]:
    """pydantic's error location as a path of the file's keys: the names it adds (a tagged
    union's tag, a validator's name) are no keys of the data and are left out; the last
    part stays even then (a missing or unknown key)."""
    path: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        is_key = isinstance(node, dict) and part in node
        is_index = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if is_key or is_index:
            node = node[part]
        elif index < len(loc) - 1 or (isinstance(part, str) and part.startswith("function-")):
            continue
        path.append(part)
    return tuple(path)


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

