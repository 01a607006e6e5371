"""Normalisation: raw `Article` → `Item`. Pure functions, no I/O.

The only user of dateparser (language-aware dates) and nh3 (HTML sanitising).

    canonical_url / item_id        one story = one canonical URL = one stable id
    parse_date / choose_date       strings as found on the page → UTC datetimes
    sanitize_html                  hostile HTML → allow-listed HTML with absolute URLs
    plain_text_summary             a short plain-text excerpt
    normalise_article              Article → Item
    merge_with_stored              fresh Item + stored Item → the Item to write, or None
"""

from __future__ import annotations

import hashlib
import html as html_lib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache, partial
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from syndicator.model import Article, Item

if TYPE_CHECKING:
    from dateparser.date import DateDataParser

# nh3 and dateparser are imported where used: content_hash and item_id serve commands that
# never read a page (a build, the benchmark's seeding), which are spared their memory.


def load_libraries() -> None:
    """Import nh3 and dateparser now (~65 ms), for a process that is about to read pages
    and should not pay for it on its first one (a page worker before it says READY)."""
    import dateparser.date
    import dateparser.languages.loader  # noqa: F401
    import nh3  # noqa: F401


@dataclass(frozen=True)
class ParsedDate:
    """A parsed date: `value` is UTC-aware; `has_time` is False for a bare calendar date
    (then `value` is local midnight of that day in the source time zone, as UTC)."""

    value: datetime
    has_time: bool


@dataclass(frozen=True)
class NormaliseContext:
    """What normalisation needs to know about the source and the run."""

    source_id: str
    language: str | None
    timezone: str                 # IANA name; dates without an offset are in this zone
    date_format: str | None
    now: datetime                 # UTC-aware time of this run


# --- URLs ------------------------------------------------------------------------------------

_TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "yclid", "msclkid", "mc_cid", "mc_eid", "_ga", "_gl",
    "igshid", "_hsenc", "_hsmi", "mkt_tok", "ref_src",
})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters a browser ignores inside URL attributes; removing them first defeats
# obfuscations like "jav\tascript:" before the scheme is checked.
_URL_JUNK = re.compile(r"[\x00-\x20\x7f]+")


def canonical_url(url: str, *, canonical: str | None = None) -> str:
    """The canonical form of an absolute http(s) URL; raises ValueError for anything else.

    `canonical` (from <link rel=canonical> / og:url) replaces `url` only when it is an
    http(s) URL on the same site; a canonical that points a deep URL at the home page is a
    common CMS misconfiguration and is ignored, as it would merge every story into one.
    """
    base = _normalise_url(url)
    if not canonical or not canonical.strip():
        return base
    try:
        alternative = _normalise_url(urljoin(base, canonical.strip()))
    except ValueError:
        return base
    if _site(alternative) != _site(base):
        return base
    if urlsplit(alternative).path == "/" and urlsplit(base).path != "/":
        return base
    return alternative


def item_id(canonical: str) -> str:
    """A stable id derived from the canonical URL only (an edited title stays one item)."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def _normalise_url(url: str) -> str:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError(f"URL without a host: {url!r}")
    port = parts.port                                  # raises ValueError when malformed
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path or "/", _clean_query(parts.query), ""))


def _clean_query(query: str) -> str:
    """Drop tracking parameters; the rest keep their order and original encoding."""
    kept = []
    for segment in query.split("&"):
        if not segment:
            continue
        key = unquote_plus(segment.split("=", 1)[0]).lower()
        if key.startswith("utm_") or key in _TRACKING_PARAMS:
            continue
        kept.append(segment)
    return "&".join(kept)


def _site(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")


def _absolute_http_url(base_url: str, value: str, *, allow_mailto: bool = False) -> str | None:
    """`value` resolved against `base_url` if the result is http(s) (or mailto), else None."""
    cleaned = _URL_JUNK.sub("", value)
    if not cleaned:
        return None
    try:
        joined = urljoin(base_url, cleaned)
        scheme = urlsplit(joined).scheme.lower()
    except ValueError:                                 # e.g. a broken IPv6 literal
        return None
    if scheme in _DEFAULT_PORTS or (allow_mailto and scheme == "mailto"):
        return joined
    return None


# --- dates -----------------------------------------------------------------------------------

_MAX_DATE_TEXT = 200                                   # longer strings are prose, not dates
_ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}")
_RFC822 = re.compile(r"^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}")
_NUMERIC_DATE = r"(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4}|\d{2})"
_NUMERIC_TIME = r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?"
# dd.mm.yyyy is always day-first, whatever the language; a time may follow or precede it.
_NUMERIC = (
    re.compile(rf"^{_NUMERIC_DATE}(?:[\s,|/-]+(?:в\s+|у\s+|at\s+)?{_NUMERIC_TIME})?$", re.I),
    re.compile(rf"^{_NUMERIC_TIME}[\s,|/-]+{_NUMERIC_DATE}$"),
)
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%X", "%c", "%T", "%R")
# dateparser resolves relative words ("вчера", "2 hours ago") against RELATIVE_BASE. The
# cached absolute parser uses this far-past base, so a relative string is recognisable by
# its result and never silently becomes "today" of whatever day the cache was filled;
# such strings go to the relative parser, built per run with the run's `now` as base.
_SENTINEL_BASE = datetime(1901, 6, 15, 12, 0)
_SENTINEL_YEARS = range(1899, 1904)
_USELESS_PERIODS = frozenset({"year", "month", "week"})
# "Опубликовано: 3 июня 2021", "Updated: ...": a label without digits before a colon.
_LABEL = re.compile(r"^[^\W\d][^\d:]{0,40}:\s+(?=\S)")
_BARE_TIME = re.compile(r"^\d{1,2}:\d{2}(?::\d{2})?$")


def parse_date(text: str, *, language: str | None, timezone: str,
               date_format: str | None = None, now: datetime | None = None) -> ParsedDate | None:
    """Parse a date as found on a page; None when unparseable (never "now").

    A date without an offset is in `timezone`. Relative or incomplete dates ("вчера, 14:30",
    "2 hours ago", "3 июня" without a year, a bare "14:30") are resolved against `now`, the
    most recent such moment, and rejected when `now` is not given.
    """
    cleaned = _LABEL.sub("", " ".join(text.split()))
    if not cleaned or len(cleaned) > _MAX_DATE_TEXT:
        return None
    code = _language_code(language)
    parsed = _parse_absolute(cleaned, code, timezone, date_format)
    if parsed is not None or now is None:
        return parsed
    local_now = now.astimezone(ZoneInfo(timezone)).replace(tzinfo=None, microsecond=0)
    return _parse_relative(cleaned, code, timezone, local_now)


def choose_date(candidates: Sequence[str], *, language: str | None, timezone: str,
                date_format: str | None = None,
                now: datetime | None = None) -> ParsedDate | None:
    """The first candidate that parses, unless it is a bare date and a later candidate is a
    full timestamp on the same calendar day (in `timezone`): then that timestamp."""
    parsed = (parse_date(c, language=language, timezone=timezone, date_format=date_format,
                         now=now) for c in candidates)
    found = [p for p in parsed if p is not None]
    if not found:
        return None
    first = found[0]
    if first.has_time:
        return first
    day = _local_day(first.value, timezone)
    for later in found[1:]:
        if later.has_time and _local_day(later.value, timezone) == day:
            return later
    return first


def _language_code(language: str | None) -> str | None:
    """The primary subtag ("ru-RU" → "ru"), the form dateparser knows."""
    if not language or not language.strip():
        return None
    return re.split(r"[-_]", language.strip(), maxsplit=1)[0].lower()


def _local_day(value: datetime, timezone: str) -> date:
    return value.astimezone(ZoneInfo(timezone)).date()


def _local_to_utc(naive: datetime, timezone: str) -> datetime:
    return naive.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def _to_utc(value: datetime, timezone: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        return _local_to_utc(value, timezone)
    return value.astimezone(UTC)


@lru_cache(maxsize=8192)
def _parse_absolute(text: str, language: str | None, timezone: str,
                    date_format: str | None) -> ParsedDate | None:
    """A complete date (day, month and year). Fast paths first; dateparser (slow) last."""
    for fast in (partial(_parse_with_format, date_format=date_format), _parse_iso,
                 _parse_rfc822, _parse_numeric, partial(_parse_month_name, language=language)):
        result = fast(text, timezone)
        if result is not None:
            return result
    parser = _dateparser(language, timezone, None)
    if parser is None:
        return None
    data = parser.get_date_data(text)
    value = data.date_obj
    if value is None or data.period in _USELESS_PERIODS or value.year in _SENTINEL_YEARS:
        return None
    return ParsedDate(_to_utc(value, timezone), data.period == "time")


@lru_cache(maxsize=1024)
def _parse_relative(text: str, language: str | None, timezone: str,
                    local_now: datetime) -> ParsedDate | None:
    parser = _dateparser(language, timezone, local_now)
    if parser is None:
        return None
    data = parser.get_date_data(text)
    if data.date_obj is None or data.period in _USELESS_PERIODS:
        return None
    value = data.date_obj.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
    if data.period == "time":
        if _BARE_TIME.match(text) and value > local_now:
            value -= timedelta(days=1)                # "23:50" seen at 00:10 is yesterday's
        return ParsedDate(_local_to_utc(value, timezone), True)
    # "вчера" comes back at the current time of day: keep only the day.
    return ParsedDate(_local_to_utc(datetime.combine(value.date(), time()), timezone), False)


@lru_cache(maxsize=64)
def _dateparser(language: str | None, timezone: str,
                relative_base: datetime | None) -> DateDataParser | None:
    """A cached parser per (language, timezone[, base]): building one costs ~10 ms."""
    settings: dict[str, object] = {
        "TIMEZONE": timezone,
        "RETURN_AS_TIMEZONE_AWARE": True,
        "RETURN_TIME_AS_PERIOD": True,
        "RELATIVE_BASE": relative_base or _SENTINEL_BASE,
    }
    if relative_base is None:
        settings["REQUIRE_PARTS"] = ["day", "month", "year"]
    else:
        settings["PREFER_DATES_FROM"] = "past"
    from dateparser.date import DateDataParser

    try:
        return DateDataParser(languages=[language] if language else None, settings=settings)
    except ValueError:                # a language dateparser does not know: detect instead
        if language is None:
            return None
        return _dateparser(None, timezone, relative_base)


def _parse_with_format(text: str, timezone: str, *, date_format: str | None) -> ParsedDate | None:
    if not date_format:
        return None
    try:
        value = datetime.strptime(text, date_format)
    except ValueError:
        return None
    return ParsedDate(_to_utc(value, timezone), any(d in date_format for d in _TIME_DIRECTIVES))


def _parse_iso(text: str, timezone: str) -> ParsedDate | None:
    if not _ISO_START.match(text):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return ParsedDate(_to_utc(value, timezone), len(text) > len("2021-06-03"))


def _parse_rfc822(text: str, timezone: str) -> ParsedDate | None:
    if not _RFC822.match(text):
        return None
    try:
        value = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if value.tzinfo is None and text.endswith("-0000"):
        value = value.replace(tzinfo=UTC)             # RFC 5322: UTC, local zone unknown
    return ParsedDate(_to_utc(value, timezone), True)


def _parse_numeric(text: str, timezone: str) -> ParsedDate | None:
    for pattern in _NUMERIC:
        match = pattern.match(text)
        if match:
            break
    else:
        return None
    year = int(match["y"])
    year = year + 2000 if year < 100 else year
    has_time = match["H"] is not None
    try:
        value = datetime(year, int(match["m"]), int(match["d"]),
                         int(match["H"] or 0), int(match["M"] or 0), int(match["S"] or 0))
    except ValueError:
        return None
    return ParsedDate(_local_to_utc(value, timezone), has_time)


# "21 октября 2025", "1 мая 2024 г., 14:30", "October 01, 2024", "May 5th, 2024 at 9:05": the
# commonest visible dates. dateparser reads them too, at 2–10 ms each; these patterns read
# them in microseconds with dateparser's own month names for the source's language, and
# anything they do not match exactly still goes to dateparser.
_CLOCK = r"(?:[\s,|]+(?:в|во|у|at|um|à|o|a las)?\s*(?P<H>\d{1,2}):(?P<M>\d{2}))?"
_MONTH_NAME_DATES = (
    re.compile(r"^(?P<d>\d{1,2})\.?\s+(?P<month>[^\W\d_]{3,})\.?,?\s+(?P<y>\d{4})"
               r"(?:\s*(?:г\.?|года|год|гады|року|р\.))?" + _CLOCK + "$", re.IGNORECASE),
    re.compile(r"^(?P<month>[^\W\d_]{3,})\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})"
               + _CLOCK + "$", re.IGNORECASE),
)


@lru_cache(maxsize=64)
def _month_names(language: str) -> dict[str, int]:
    """Month names (all the forms dateparser knows: nominative, genitive, abbreviations) of a
    language, lower case, to month numbers; empty for a language dateparser does not know."""
    from dateparser.languages.loader import default_loader

    try:
        locale = default_loader.get_locale(language)
    except (ValueError, KeyError):
        return {}
    names: dict[str, int] = {}
    for number, month in enumerate(_MONTHS, start=1):
        for name in locale.info.get(month, ()):
            key = name.lower().rstrip(".")
            # A name that means two months (none known, but locales are data) is dropped.
            if names.setdefault(key, number) != number:
                names[key] = 0
    return {name: number for name, number in names.items() if number}


_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")


def _parse_month_name(text: str, timezone: str, *, language: str | None) -> ParsedDate | None:
    if not language:
        return None
    for pattern in _MONTH_NAME_DATES:
        match = pattern.match(text)
        if match:
            break
    else:
        return None
    month = _month_names(language).get(match["month"].lower())
    if not month:
        return None
    has_time = match["H"] is not None
    try:
        value = datetime(int(match["y"]), month, int(match["d"]),
                         int(match["H"] or 0), int(match["M"] or 0))
    except ValueError:
        return None
    return ParsedDate(_local_to_utc(value, timezone), has_time)


# --- HTML ------------------------------------------------------------------------------------

_ALLOWED_TAGS = frozenset({
    "p", "br", "a", "b", "strong", "i", "em", "u", "s", "blockquote", "q", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "figure", "figcaption", "img", "table", "thead",
    "tbody", "tr", "th", "td", "pre", "code", "hr", "sub", "sup", "span", "div",
})
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "srcset", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
# Dropped with everything inside. Other unknown tags (form, picture, font, ...) are
# unwrapped: their text and allowed children stay (ASP.NET pages wrap all in <form>).
_DROP_WITH_CONTENT = frozenset({
    "script", "style", "iframe", "object", "embed", "svg", "math", "template", "title",
    "textarea", "select", "button", "frame", "frameset", "applet", "head",
})
# Lazy-loading sites put the real <img> in <noscript>, which the parser would keep as escaped
# text: the noscript tags are removed first so that their content is parsed and sanitised.
_NOSCRIPT = re.compile(r"</?noscript\b[^>]*>", re.I)
_IMG_TAG = re.compile(r"""<img\b(?:[^>"']|"[^"]*"|'[^']*')*>""")
_ATTRIBUTE = re.compile(r"""\s([a-zA-Z-]+)="([^"]*)\"""")
# <a> cannot nest (the HTML parser closes the open one), so the next </a> is the match.
_LINK = re.compile(r"""(<a\b(?:[^>"']|"[^"]*"|'[^']*')*>)(.*?)</a>""", re.S)
_H1 = re.compile(r"<(/?)h1>")


def sanitize_html(html: str, *, base_url: str) -> str:
    """Allow-listed HTML with absolute http(s) URLs, no scripts, no tracking pixels."""
    if not html or not html.strip():
        return ""
    import nh3

    cleaned = nh3.clean(
        _NOSCRIPT.sub("", html),
        tags=set(_ALLOWED_TAGS),
        clean_content_tags=set(_DROP_WITH_CONTENT),
        attributes={"*": set()} | {tag: set(a) for tag, a in _ALLOWED_ATTRIBUTES.items()},
        attribute_filter=partial(_filter_attribute, base_url),
        url_schemes={"http", "https", "mailto"},
        strip_comments=True,
        link_rel="noopener noreferrer",
    )
    # nh3's output is canonical (attributes double-quoted; "<", ">" and '"' escaped in text
    # and attribute values), so these regular expressions only ever see real tags.
    cleaned = _IMG_TAG.sub(_keep_image, cleaned)
    cleaned = _LINK.sub(_keep_link, cleaned)
    cleaned = _H1.sub(r"<\1h2>", cleaned)            # the feed item title is the only h1
    return cleaned.strip()


def _filter_attribute(base_url: str, tag: str, attribute: str, value: str) -> str | None:
    """Absolutise URLs (nh3 checks schemes before this runs, so check again after)."""
    if attribute in ("href", "src"):
        return _absolute_http_url(base_url, value, allow_mailto=attribute == "href")
    if attribute == "srcset":
        return _absolute_srcset(base_url, value)
    return value


def _absolute_srcset(base_url: str, value: str) -> str | None:
    candidates = []
    for url, descriptor in _split_srcset(value):
        absolute = _absolute_http_url(base_url, url)
        if absolute is not None:
            candidates.append(f"{absolute} {descriptor}".strip())
    return ", ".join(candidates) or None


def _split_srcset(value: str) -> list[tuple[str, str]]:
    """srcset candidates as (url, descriptor); URLs may contain commas (e.g. "w_100,h_50")."""
    result = []
    for match in re.finditer(r"[\s,]*([^\s,][^\s]*)([^,]*)", value):
        url, descriptor = match.group(1), match.group(2).strip()
        if url.endswith(","):                         # "a.jpg, b.jpg": no descriptor
            url, descriptor = url.rstrip(","), ""
        result.append((url, descriptor))
    return result


def _keep_image(match: re.Match[str]) -> str:
    attrs = dict(_ATTRIBUTE.findall(match.group(0)))
    if not attrs.get("src"):
        return ""
    width, height = _pixels(attrs.get("width")), _pixels(attrs.get("height"))
    if width is not None and height is not None and width <= 1 and height <= 1:
        return ""                                     # a tracking pixel
    if width == 0 or height == 0:
        return ""
    return match.group(0)


def _keep_link(match: re.Match[str]) -> str:
    """Links that lost their href (unsafe scheme) are unwrapped; empty links dropped."""
    opening, inner = match.group(1), match.group(2)
    if not inner.strip():
        return ""
    if "href" not in dict(_ATTRIBUTE.findall(opening)):
        return inner
    return match.group(0)


def _pixels(value: str | None) -> int | None:
    match = re.match(r"\s*(\d+)(?:px)?\s*$", value or "")
    return int(match.group(1)) if match else None


# --- text ------------------------------------------------------------------------------------

_BLOCK_TAG = re.compile(
    r"<(?=/?(?:p|br|div|li|ul|ol|h[1-6]|tr|td|th|table|blockquote|section|article|figure|"
    r"figcaption|pre|hr|header|footer|dd|dt)\b)", re.I)
_TRUNCATED = re.compile(r"\s*(?:\[\s*(?:…|\.{3})\s*\]|…|\.{3,})\s*$")
_TRAILING_JUNK = " \t,;:-–—"
_ELLIPSIS = "…"


_LOOKS_LIKE_HTML = re.compile(
    r"</?(?:a|abbr|b|blockquote|br|cite|code|div|em|figcaption|figure|font|h[1-6]|i|img|li|"
    r"mark|ol|p|q|s|script|small|span|strong|style|sub|sup|time|u|ul|wbr)\b[^>]*>"
    r"|&(?:#\d+|#x[0-9a-f]+|[a-z][a-z0-9]*);",
    re.IGNORECASE,
)


def clean_text(value: str | None) -> str:
    """Tags stripped, entities decoded, whitespace collapsed.

    Text extracted from a page is already plain: a title such as `Statement on <rights>` must
    keep its angle brackets. Only text that contains real HTML tags or entities (feed titles,
    JSON-LD descriptions) goes through the HTML stripper.
    """
    if not value:
        return ""
    if not _LOOKS_LIKE_HTML.search(value):
        return " ".join(value.split())
    import nh3

    stripped = nh3.clean(_BLOCK_TAG.sub(" <", value), tags=set(),
                         clean_content_tags=set(_DROP_WITH_CONTENT | {"noscript"}))
    return " ".join(html_lib.unescape(stripped).split())


def plain_text_summary(summary: str | None, content_html: str | None, *,
                       max_chars: int = 400) -> str:
    """A plain-text excerpt: the given summary, else the start of the content.

    A summary ending in "[…]", "[...]", "…" or "..." was truncated by the site: it ends in a
    single "…". The result is never longer than max_chars + 1 (the "…").
    """
    text = clean_text(summary)
    if text:
        marker = _TRUNCATED.search(text)
        if marker:
            base = text[:marker.start()].rstrip(_TRAILING_JUNK)
            if len(base) > max_chars:
                return _truncate(base, max_chars)
            return f"{base}{_ELLIPSIS}" if base else ""
        return _truncate(text, max_chars)
    return _truncate(clean_text(content_html), max_chars)


def _truncate(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    if not text[max_chars].isspace():
        boundary = cut.rfind(" ")
        if boundary > max_chars // 2:                 # else one huge word: cut inside it
            cut = cut[:boundary]
    return cut.rstrip(_TRAILING_JUNK) + _ELLIPSIS


# --- items -----------------------------------------------------------------------------------

def content_hash(item: Item) -> str:
    """Hash of what a reader sees; `published` counts only when it is a real timestamp."""
    published = item.published.isoformat() if item.published_precision == "time" else None
    fields = [item.title, item.summary, item.content, item.image, item.author,
              list(item.categories), published]
    encoded = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def normalise_article(article: Article, ctx: NormaliseContext) -> Item | None:
    """Article → Item; None when the article has no usable URL or no title."""
    title = clean_text(article.title)
    if not title:
        return None
    try:
        url = canonical_url(article.url, canonical=article.canonical)
    except ValueError:
        return None
    language = _optional_text(article.language) or _optional_text(ctx.language)
    date_language = ctx.language or article.language
    published, precision = _published(article, ctx, date_language)
    content = sanitize_html(article.content or "", base_url=url)
    item = Item(
        id=item_id(url),
        source_id=ctx.source_id,
        url=url,
        title=title,
        published=published,
        updated=_updated(article, ctx, date_language, published),
        summary=plain_text_summary(article.summary, article.content),
        content=content,
        image=_absolute_http_url(url, article.image) if article.image else None,
        author=_optional_text(article.author),
        categories=_categories(article.categories),
        language=language,
        published_precision=precision,
    )
    return replace(item, content_hash=content_hash(item))


def _published(article: Article, ctx: NormaliseContext,
               language: str | None) -> tuple[datetime, str]:
    parsed = choose_date(article.dates, language=language, timezone=ctx.timezone,
                         date_format=ctx.date_format, now=ctx.now)
    if parsed is None:
        return ctx.now, "none"
    if parsed.has_time:
        return parsed.value, "time"
    # A bare date: the first-seen time when that is today (the store keeps it stable),
    # else local midnight, which is stable on its own.
    if _local_day(ctx.now, ctx.timezone) == _local_day(parsed.value, ctx.timezone):
        return ctx.now, "day"
    return parsed.value, "day"


def _updated(article: Article, ctx: NormaliseContext, language: str | None,
             published: datetime) -> datetime:
    if not article.updated:
        return published
    parsed = parse_date(article.updated, language=language, timezone=ctx.timezone,
                        date_format=ctx.date_format, now=ctx.now)
    if parsed is None or parsed.value < published:
        return published
    return parsed.value


def _optional_text(value: str | None) -> str | None:
    return clean_text(value) or None


def _categories(values: Sequence[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    result = []
    for value in values:
        text = clean_text(value)
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            result.append(text)
    return tuple(result)



def merge_with_stored(stored: Item | None, fresh: Item, *, timezone: str,
                      now: datetime | None = None) -> Item | None:
    """The item to write, or None when nothing changed.

    Keeps the stored id, and keeps `published` stable for items whose page gives only a
    day (first-seen time on that day) or no date at all. `updated` rises when the content
    changed: to `now` (the time of this run; default fresh.updated) or a later explicit
    modification date.
    """
    if stored is None:
        return fresh
    published, precision = _merged_published(stored, fresh, timezone)
    merged = replace(fresh, id=stored.id, published=published, published_precision=precision)
    merged = replace(merged, content_hash=content_hash(merged))
    changed = merged.content_hash != stored.content_hash
    if not changed and published == stored.published and precision == stored.published_precision:
        return None
    candidates = [stored.updated, fresh.updated, published]
    if changed:
        candidates.append(now or fresh.updated)
    return replace(merged, updated=max(candidates))


def _merged_published(stored: Item, fresh: Item, timezone: str) -> tuple[datetime, str]:
    if fresh.published_precision == "time":
        return fresh.published, "time"
    if fresh.published_precision == "day":
        same_day = _local_day(stored.published, timezone) == _local_day(fresh.published, timezone)
        if not same_day:
            return fresh.published, "day"
        # The first-seen time on that day (or a timestamp the page once showed) stays.
        return stored.published, "time" if stored.published_precision == "time" else "day"
    # No date on the page now: what we knew before stays.
    return stored.published, stored.published_precision


def merge_card_and_page(card: Article, page: Article | None) -> Article:
    """Combine what the listing showed with what the article page said.

    The article page wins for the body, image, author and canonical URL; the listing's
    title and excerpt are what the editors wrote for the listing and win when present.
    Dates keep every candidate: the page's selected date, the listing date, then the page's
    metadata; normalisation chooses (a full timestamp on the same day beats a bare date).
    """
    if page is None:
        return card
    dates = tuple(dict.fromkeys((*page.dates[:1], *card.dates, *page.dates[1:])))
    return Article(
        url=card.url,
        title=card.title or page.title,
        dates=dates,
        updated=page.updated or card.updated,
        summary=card.summary or page.summary,
        content=page.content or card.content,
        image=page.image or card.image,
        author=page.author or card.author,
        categories=page.categories or card.categories,
        canonical=page.canonical or card.canonical,
        language=page.language or card.language,
    )
