"""Dates as found on pages and in feeds → UTC datetimes. Pure functions, no I/O.

The only user of dateparser (language-aware dates), imported where used.

    parse_date        one string → ParsedDate (UTC, and whether a time of day was given)
    choose_date       the best of several candidates
    implausible       why a parsed date cannot be true (before 1990, in the future)
    has_full_year     whether a date string states its year in four digits
    local_day         the calendar day of an instant in a time zone

A date is true or absent: a string that leaves the year or month to be guessed (`03-12-31`,
`-03-12`, `Sun, 16 zzz 2012`, a year in two digits: `03.06.21`, RFC 822's `Sun, 16 Dec 12`,
a day and month without a year: `1 July`, `3 июня, 14:30`, `3 чэрвеня`, a quarter, month
or week without a day: `Q2 2021`, `2021-Q2`, `June 2021`, and `03/06/2021`
where no language settles which number is the day) is no date, and
the caller falls back to the next candidate (an article page's metadata) or the first-seen
time. Only a source's own `date_format` reads a two-digit year (`%y`), as the operator says.
Relative dates (`вчера, 14:30`, `2 hours ago`, a bare `14:30`) name their day by the moment
they are read at, and are read against `now`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache, partial
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from dateparser.date import DateDataParser


@dataclass(frozen=True)
class ParsedDate:
    """A parsed date: `value` is UTC-aware; `has_time` is False for a bare calendar date
    (then `value` is local midnight of that day in the source time zone, as UTC)."""

    value: datetime
    has_time: bool


# --- dates -----------------------------------------------------------------------------------

_MAX_DATE_TEXT = 200                                   # longer strings are prose, not dates
# ISO 8601, extended (2021-06-03) or basic (20210603, 20210603T1430Z): feeds write both;
# and a week date with its day (2021-W22-4, 2021W224), which names one day as surely. A week
# without its day (2021-W22) names none: not matched, so no date.
_ISO_START = re.compile(r"^\d{4}(?:-\d{2}-\d{2}|\d{4}(?:T|$)"
                        r"|-W\d{2}-[1-7](?:T|$)|W\d{2}[1-7](?:T|$))")
# RFC 822 allows a two-digit year ("16 Dec 12"); which century is a guess, so only four.
_RFC822 = re.compile(r"^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{1,2}:\d{2}")
# An RFC 822 date ("Sun, 16 Jun 2012") is English: with a month that is not an English one
# ("Sun, 16 zzz 2012") it is broken, not another language's (dateparser would find
# Tongan, where "Sun" is June).
_RFC822_SHAPE = re.compile(r"^(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,\s*\d{1,2}\s+([a-z]+)\.?\s",
                           re.IGNORECASE)
_EN_MONTHS = frozenset(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                        "nov", "dec"))
_NUMERIC_DATE = r"(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})"
_NUMERIC_TIME = r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?"
# dd.mm.yyyy is always day-first, whatever the language; a time may follow or precede it.
# dd.mm.yy is no date: its century is a guess.
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
# dateparser fills a month or day it cannot read from its base ("Sun, 16 zzz 2012" → June):
# a reading on the base's month or day is kept only when a second base (another month and
# day) gives the same day.
_SECOND_BASE = datetime(1902, 11, 3, 7, 0)
_SENTINEL_YEARS = range(1899, 1904)
# A reading is a date only when dateparser found a day (or a time, or a part of a day, on
# it): one of a week, a month, a quarter ("Q2 2021", "2021-Q2") or a year names no day, and
# dateparser fills the day in from the moment it reads at.
_DAY_PERIODS = frozenset({"day", "time", "part_of_day"})
# "Опубликовано: 3 июня 2021", "Updated: ...": a label without digits before a colon.
_LABEL = re.compile(r"^[^\W\d][^\d:]{0,40}:\s+(?=\S)")
# "14:30 МСК", "(МСК)", "по Москве": Russian sites name Moscow time after the time; the
# date is then in Moscow's zone (UTC+3, UTC+4 in 2011-2014), not the source's.
_MOSCOW_TIME = re.compile(r"[\s,]*(?<![^\W\d_])\(?(?:мск|msk|по москве|по московскому времени)"
                          r"\)?\.?$", re.IGNORECASE)
# "03/06/2021", "03-06-2021 14:30": which number is the day is the language's convention
# (day first in Russian, Belarusian and most others); English is written both ways (US
# month first, UK day first) and detection has no convention, so with both numbers 12 or
# less it is no date (a source's date_format says the order).
_EITHER_ORDER = re.compile(r"^(\d{1,2})[/-](\d{1,2})[/-]\d{4}(?!\d)")
_ORDER_UNKNOWN = frozenset({None, "en"})
_BARE_TIME = re.compile(r"^\d{1,2}:\d{2}(?::\d{2})?$")
# dateparser's reading of a string is kept only when the year it found is written out in
# the string: "03-12-31" (which of the three is the year?) is no date.
_FULL_YEAR = re.compile(r"(?<!\d)\d{4}(?!\d)")
_LETTER = re.compile(r"[^\W\d_]")
# A relative date ("вчера", "3 weeks ago") read one day earlier moves by one day; a day and
# month without a year ("3 июня", "1 July") stays put: it does not say which year, so it is
# no date, however recent the day would be.
_SHIFT = timedelta(days=1)
EARLIEST_YEAR = 1990              # older dates on news are typos and placeholders (0100)
FUTURE_SLACK = timedelta(days=1)  # later than now + this: a wrong date, not a time zone


def parse_date(text: str, *, language: str | None, timezone: str,
               date_format: str | None = None, now: datetime | None = None) -> ParsedDate | None:
    """Parse a date as found on a page; None when unparseable or partial (never "now").

    Read in `language`, else in whichever language it is written in. A date without an
    offset is in `timezone`, unless it names Moscow time ("14:30 МСК"). Relative dates
    ("вчера, 14:30", "2 hours ago", a bare "14:30") are resolved against `now`, the most
    recent such moment, and rejected when `now` is not given. A day and month without a
    year ("3 июня") is None.
    """
    cleaned = _LABEL.sub("", " ".join(text.split()))
    if not cleaned or len(cleaned) > _MAX_DATE_TEXT:
        return None
    moscow = _MOSCOW_TIME.search(cleaned)
    if moscow is not None and moscow.start() > 0:
        cleaned, timezone = cleaned[:moscow.start()], "Europe/Moscow"
    rfc822 = _RFC822_SHAPE.match(cleaned)
    if rfc822 and rfc822[1][:3].lower() not in _EN_MONTHS:
        return None
    code = _language_code(language)
    # The source's language first; then any language (detection): a Russian or Belarusian
    # site writes dates in English too (its metadata), a Belarusian one in Russian.
    codes = (code, None) if code is not None else (None,)
    for each in codes:
        parsed = _parse_absolute(cleaned, each, timezone, date_format)
        if parsed is not None:
            return parsed
    if now is None:
        return None
    local_now = now.astimezone(ZoneInfo(timezone)).replace(tzinfo=None, microsecond=0)
    for each in codes:
        parsed = _parse_relative(cleaned, each, timezone, local_now)
        if parsed is not None:
            return parsed
    return None


def choose_date(candidates: Sequence[str], *, language: str | None, timezone: str,
                date_format: str | None = None, now: datetime | None = None,
                rejected: list[str] | None = None) -> ParsedDate | None:
    """The first candidate that parses, unless it is a bare date and a later candidate is a
    full timestamp on the same calendar day (in `timezone`): then that timestamp.

    Implausible dates (see `implausible`) are skipped; `rejected` receives a line for each.
    """
    found: list[ParsedDate] = []
    for candidate in candidates:
        parsed = parse_date(candidate, language=language, timezone=timezone,
                            date_format=date_format, now=now)
        if parsed is None:
            continue
        problem = implausible(parsed, now)
        if problem is None:
            found.append(parsed)
        elif rejected is not None:
            rejected.append(f"date {candidate!r} {problem}")
    if not found:
        return None
    first = found[0]
    if first.has_time:
        return first
    day = local_day(first.value, timezone)
    for later in found[1:]:
        if later.has_time and local_day(later.value, timezone) == day:
            return later
    return first


def implausible(parsed: ParsedDate, now: datetime | None) -> str | None:
    """Why the date cannot be a news item's, or None: before EARLIEST_YEAR, or later than
    FUTURE_SLACK after `now` (when given)."""
    if parsed.value.year < EARLIEST_YEAR:
        return f"is before {EARLIEST_YEAR}"
    if now is not None and parsed.value > now + FUTURE_SLACK:
        return "is more than a day in the future"
    return None


def has_full_year(text: str) -> bool:
    """Whether the string writes a year in four digits (`2021`, not `21`)."""
    return bool(_FULL_YEAR.search(text))


def _language_code(language: str | None) -> str | None:
    """The primary subtag ("ru-RU" → "ru"), the form dateparser knows."""
    if not language or not language.strip():
        return None
    return re.split(r"[-_]", language.strip(), maxsplit=1)[0].lower()


def local_day(value: datetime, timezone: str) -> date:
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
    either = _EITHER_ORDER.match(text)
    if (either and language in _ORDER_UNKNOWN and either[1] != either[2]
            and max(int(either[1]), int(either[2])) <= 12):
        return None                       # "03/06/2021": 3 June or March 6?
    parser = _dateparser(language, timezone, None)
    if parser is None:
        return None
    data = parser.get_date_data(text)
    value = data.date_obj
    if value is None or data.period not in _DAY_PERIODS or value.year in _SENTINEL_YEARS:
        return None
    if str(value.year) not in _FULL_YEAR.findall(text):
        return None                       # a two-digit or guessed year
    if value.month == _SENTINEL_BASE.month or value.day == _SENTINEL_BASE.day:
        second = _dateparser(language, timezone, None, _SECOND_BASE)
        again = second.get_date_data(text).date_obj if second is not None else None
        if again is None or again.date() != value.date():
            return None                   # a part of it was taken from the base
    return ParsedDate(_to_utc(value, timezone), data.period == "time")


@lru_cache(maxsize=1024)
def _parse_relative(text: str, language: str | None, timezone: str,
                    local_now: datetime) -> ParsedDate | None:
    if not _BARE_TIME.match(text) and not _LETTER.search(text):
        return None                       # digits only ("-03-12"): which part is which?
    read = _relative_value(text, language, timezone, local_now)
    if read is None:
        return None
    value, period = read
    if not _BARE_TIME.match(text):
        earlier = _relative_value(text, language, timezone, local_now - _SHIFT)
        # "вчера", "3 weeks ago" move with the moment they are read at; a day and month
        # without a year ("1 July") stays put: which year is a guess.
        if earlier is None or value - earlier[0] != _SHIFT:
            return None
    if period == "time":
        if _BARE_TIME.match(text) and value > local_now:
            value -= timedelta(days=1)                # "23:50" seen at 00:10 is yesterday's
        return ParsedDate(_local_to_utc(value, timezone), True)
    # "вчера" comes back at the current time of day: keep only the day.
    return ParsedDate(_local_to_utc(datetime.combine(value.date(), time()), timezone), False)


def _relative_value(text: str, language: str | None, timezone: str,
                    local_now: datetime) -> tuple[datetime, str] | None:
    """dateparser's reading of `text` at `local_now` (naive local time) and its period."""
    parser = _dateparser(language, timezone, local_now)
    if parser is None:
        return None
    data = parser.get_date_data(text)
    if data.date_obj is None or data.period not in _DAY_PERIODS:
        return None
    return data.date_obj.astimezone(ZoneInfo(timezone)).replace(tzinfo=None), data.period


# dateparser's modules import each other when first used, and so do its languages' data when
# a parser or locale is first built: two threads doing that at once (article pages read in
# parallel) get a deadlock error or a half-imported module from Python's import system.
# Imports, parsers and locales are made under this lock (each once: they are cached).
_LOADING = threading.RLock()


def load_dateparser() -> None:
    """Import dateparser now, for a process about to read pages (normalise.load_libraries)."""
    with _LOADING:
        import dateparser.date
        import dateparser.languages.loader  # noqa: F401


@lru_cache(maxsize=64)
def _dateparser(language: str | None, timezone: str, relative_base: datetime | None,
                sentinel: datetime = _SENTINEL_BASE) -> DateDataParser | None:
    """A cached parser per (language, timezone[, base]): building one costs ~10 ms."""
    settings: dict[str, object] = {
        "TIMEZONE": timezone,
        "RETURN_AS_TIMEZONE_AWARE": True,
        "RETURN_TIME_AS_PERIOD": True,
        "RELATIVE_BASE": relative_base or sentinel,
    }
    if relative_base is None:
        settings["REQUIRE_PARTS"] = ["day", "month", "year"]
    else:
        settings["PREFER_DATES_FROM"] = "past"
    with _LOADING:
        from dateparser.date import DateDataParser

        try:
            return DateDataParser(languages=[language] if language else None,
                                  settings=settings)
        except ValueError:            # a language dateparser does not know: detect instead
            if language is None:
                return None
            return _dateparser(None, timezone, relative_base, sentinel)


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
    has_time = match["H"] is not None
    try:
        value = datetime(int(match["y"]), int(match["m"]), int(match["d"]),
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
    with _LOADING:
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
