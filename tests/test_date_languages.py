"""A source's language says how its pages write dates, not that no other writing is one.

A Russian or Belarusian site dates its pages in English as often as in its own language
(an `article:published_time` written `Thu, 3 June 2021 14:30:00 +0300`, a JSON-LD
`June 3, 2021`), and a Belarusian site in Russian (`3 июня 2021`): a full date in another
language is still the date. A JSON-LD date given as a number is a Unix time (seconds, or
milliseconds when it has 13 digits). Real sources on loopback, real SQLite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicator.dates import parse_date
from syndicator.demo.server import SiteServer
from tests.test_dates_wild import NOW, stored_after_a_run

# (the date as the page writes it, the instant, whether it gives a time of day)
OTHER_LANGUAGE = {
    "English month": ("June 3, 2021", datetime(2021, 6, 2, 21, tzinfo=UTC), False),
    "English RFC 822, full month": ("Thu, 3 June 2021 14:30:00 +0300",
                                    datetime(2021, 6, 3, 11, 30, tzinfo=UTC), True),
    "asctime": ("Thu Jun  3 14:30:00 2021", datetime(2021, 6, 3, 11, 30, tzinfo=UTC), True),
    "Russian genitive": ("3 июня 2021, 14:30", datetime(2021, 6, 3, 11, 30, tzinfo=UTC), True),
    "Belarusian genitive": ("3 чэрвеня 2021", datetime(2021, 6, 2, 21, tzinfo=UTC), False),
}
# Still no date, whatever the language: a part of it would be a guess.
GUESSES = {"two-digit year": "Thu, 03-Jun-21 14:30:00 GMT", "no year": "3 June",
           "unknown month": "Sun, 16 zzz 2012 10:00:00 GMT"}


def _pages(root: Path, dates: dict[str, object]) -> None:
    cards = []
    for n, (name, value) in enumerate(dates.items()):
        cards.append(f'<div class="card"><a href="/a/{n}.html">{name}</a></div>')
        data = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": name,
                "datePublished": value}
        (root / "a").mkdir(exist_ok=True)
        (root / "a" / f"{n}.html").write_text(
            f"<!doctype html><html><head><title>{name}</title>"
            f'<script type="application/ld+json">{json.dumps(data, ensure_ascii=False)}'
            f"</script></head><body><article><h1>{name}</h1><p>The river rose in the night "
            "and the bridge was closed by morning.</p></article></body></html>",
            encoding="utf-8")
    (root / "index.html").write_text(
        f"<!doctype html><html><body>{''.join(cards)}</body></html>", encoding="utf-8")




@pytest.mark.parametrize("language", ["ru", "be"])
def test_a_full_date_in_another_language_than_the_sources_is_read(
        language: str, site: SiteServer, tmp_path: Path) -> None:
    dates = {name: text for name, (text, _when, _time) in OTHER_LANGUAGE.items()}
    _pages(Path(site.root), {**dates, **GUESSES})
    source = (f"  - id: src\n    url: ${{SITE}}index.html\n    language: {language}\n"
              "    timezone: Europe/Minsk\n    list: {item: div.card, link: a}\n")
    stored = stored_after_a_run(site, tmp_path, source)
    for name, (_text, when, has_time) in OTHER_LANGUAGE.items():
        assert stored[name].published == when, (language, name, stored[name].published)
        assert stored[name].published_precision == ("time" if has_time else "day"), name
    for name in GUESSES:
        assert stored[name].published_precision == "none", (language, name)
        assert NOW - timedelta(minutes=1) <= stored[name].published <= NOW, name


def test_a_json_ld_date_given_as_a_number_is_a_unix_time(
        site: SiteServer, tmp_path: Path) -> None:
    instant = datetime(2021, 6, 3, 11, 30, tzinfo=UTC)
    seconds = int(instant.timestamp())
    _pages(Path(site.root), {"seconds": seconds, "milliseconds": seconds * 1000,
                             "a number that is no time": 20210603, "a bool": True})
    source = "  - id: src\n    url: ${SITE}index.html\n    list: {item: div.card, link: a}\n"
    stored = stored_after_a_run(site, tmp_path, source)
    for name in ("seconds", "milliseconds"):
        assert stored[name].published == instant, (name, stored[name].published)
        assert stored[name].published_precision == "time", name
    for name in ("a number that is no time", "a bool"):
        assert stored[name].published_precision == "none", name


# Eight threads reading dates at once in a fresh process, as a run's article pages are read
# in parallel: the first use of dateparser (its modules, a language's locale) is made by
# several threads at the same moment. Each prints the date it read.
_AT_ONCE = """
import sys, threading
from syndicator.dates import parse_date
cases = [("ru", "3 июня 2021"), ("en", "Thursday, June 3, 2021"), ("be", "3 чэрвеня 2021"),
         ("ru", "четверг, 3 июня 2021")] * 2
start = threading.Barrier(len(cases))
read = {}
def parse(n, language, text):
    start.wait()
    try:
        read[n] = parse_date(text, language=language, timezone="UTC").value.date().isoformat()
    except BaseException as exc:
        read[n] = repr(exc)
threads = [threading.Thread(target=parse, args=(n, *case)) for n, case in enumerate(cases)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print("\\n".join(read[n] for n in range(len(cases))))
"""


@pytest.mark.parametrize("attempt", range(5))
def test_threads_reading_dates_at_once_in_a_fresh_process_each_read_theirs(
        attempt: int) -> None:
    done = subprocess.run([sys.executable, "-c", _AT_ONCE], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2021-06-03"] * 8, (attempt, done.stdout)


# Moscow time named after the time, as Russian sites write it: the instant in Moscow's
# zone (UTC+3 since 2014; UTC+4 in 2011-2014), whatever the source's own time zone.
@pytest.mark.parametrize(("text", "instant"), [
    ("03 июня 2021, 14:30 МСК", datetime(2021, 6, 3, 11, 30, tzinfo=UTC)),
    ("3 июня 2021 14:30 (МСК)", datetime(2021, 6, 3, 11, 30, tzinfo=UTC)),
    ("03.06.2021 14:30 мск", datetime(2021, 6, 3, 11, 30, tzinfo=UTC)),
    ("3 июня 2021 г., 14:30 по Москве", datetime(2021, 6, 3, 11, 30, tzinfo=UTC)),
    ("3 июня 2012, 14:30 МСК", datetime(2012, 6, 3, 10, 30, tzinfo=UTC)),
    ("вчера, 14:30 МСК", datetime(2026, 12, 5, 11, 30, tzinfo=UTC)),
])
def test_moscow_time_named_after_the_time_is_read_in_moscows_zone(
        text: str, instant: datetime) -> None:
    parsed = parse_date(text, language="ru", timezone="Europe/Minsk", now=NOW)
    assert parsed is not None, text
    assert (parsed.value, parsed.has_time) == (instant, True), text


# A date in digits whose day and month could be either (both 12 or less): the order is the
# language's (day first in Russian and Belarusian), else the source's date_format; without
# either it is a guess, so no date. A day over 12 says which is which.
NUMERIC = {"ambiguous": "03/06/2021", "ambiguous, dashes": "03-06-2021 14:30",
           "day over 12": "13/06/2021"}


@pytest.mark.parametrize(("settings", "expected"), [
    ("", {"ambiguous": None, "ambiguous, dashes": None,
          "day over 12": datetime(2021, 6, 13, tzinfo=UTC)}),
    ("    language: en\n", {"ambiguous": None, "ambiguous, dashes": None,
                            "day over 12": datetime(2021, 6, 13, tzinfo=UTC)}),
    ("    language: ru\n", {"ambiguous": datetime(2021, 6, 3, tzinfo=UTC),
                            "ambiguous, dashes": datetime(2021, 6, 3, 14, 30, tzinfo=UTC),
                            "day over 12": datetime(2021, 6, 13, tzinfo=UTC)}),
    ("    language: en\n    date_format: '%m/%d/%Y'\n",
     {"ambiguous": datetime(2021, 3, 6, tzinfo=UTC), "ambiguous, dashes": None,
      "day over 12": datetime(2021, 6, 13, tzinfo=UTC)}),
], ids=["no language", "en", "ru", "en with date_format"])
def test_a_date_in_digits_that_could_be_either_order_is_no_guess(
        settings: str, expected: dict[str, datetime | None], site: SiteServer,
        tmp_path: Path) -> None:
    cards = "".join(f'<div class="card"><a href="/story/{n}">{name}</a>'
                    f'<span class="when">{text}</span></div>'
                    for n, (name, text) in enumerate(NUMERIC.items()))
    (Path(site.root) / "index.html").write_text(
        f"<!doctype html><html><body>{cards}</body></html>", encoding="utf-8")
    stored = stored_after_a_run(site, tmp_path, (
        "  - id: src\n    url: ${SITE}index.html\n    fetch_articles: false\n"
        f"{settings}    list: {{item: div.card, link: a, date: span.when}}\n"))
    for name, when in expected.items():
        item = stored[name]
        if when is None:
            assert item.published_precision == "none", (name, item.published)
        else:
            assert item.published == when, (name, item.published)
