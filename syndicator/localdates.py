"""Dates written the way a reader of the feed's language writes them, e.g.
en "June 3, 2021", ru "3 июня 2021", be "3 чэрвеня 2021", uk "3 червня 2021".

A small table instead of the system locale (`strftime("%B")` depends on installed locales
and is process-global) — Slavic dates need the genitive month name anyway.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

_MONTHS: dict[str, tuple[str, ...]] = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
    "ru": ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
           "сентября", "октября", "ноября", "декабря"),
    "be": ("студзеня", "лютага", "сакавіка", "красавіка", "мая", "чэрвеня", "ліпеня",
           "жніўня", "верасня", "кастрычніка", "лістапада", "снежня"),
    "uk": ("січня", "лютого", "березня", "квітня", "травня", "червня", "липня", "серпня",
           "вересня", "жовтня", "листопада", "грудня"),
}


def _base_language(language: str | None) -> str:
    return (language or "en").split("-")[0].split("_")[0].lower()


def local(value: datetime, timezone: str) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(timezone))


def format_date(value: datetime, language: str | None, timezone: str = "UTC") -> str:
    """The day of `value` in `timezone`, written for `language` (ISO 8601 when unknown)."""
    day = local(value, timezone)
    base = _base_language(language)
    months = _MONTHS.get(base)
    if months is None:
        return day.strftime("%Y-%m-%d")
    month = months[day.month - 1]
    if base == "en":
        return f"{month} {day.day}, {day.year}"
    return f"{day.day} {month} {day.year}"


def format_time(value: datetime, timezone: str = "UTC") -> str:
    """24-hour local time, "14:05" — the same in all our languages."""
    return local(value, timezone).strftime("%H:%M")
