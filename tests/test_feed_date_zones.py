"""A feed date written without an offset (`2021-06-03T14:30:00`, as many CMSs write Atom
and RSS dates) is in the source's `timezone`, as every other date without one is: the
feed parser would take it for UTC and date a Minsk story three hours ahead of its time.
Dates with an offset or zone are read as given. Real feeds on loopback, real SQLite.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicator.demo.server import SiteServer
from tests.test_date_paths import _atom, _json_feed, _rss
from tests.test_dates_wild import stored_after_a_run

# (as the feed writes it, the instant it names for a source in Europe/Minsk, UTC+3)
DATES = {
    "ISO without offset": ("2021-06-03T14:30:00", datetime(2021, 6, 3, 11, 30, tzinfo=UTC)),
    "ISO with a space": ("2021-06-03 14:30:00", datetime(2021, 6, 3, 11, 30, tzinfo=UTC)),
    "ISO with seconds' fraction": ("2021-06-03T14:30:00.250",
                                   datetime(2021, 6, 3, 11, 30, tzinfo=UTC)),
    "ISO in UTC": ("2021-06-03T14:30:00Z", datetime(2021, 6, 3, 14, 30, tzinfo=UTC)),
    "ISO with offset": ("2021-06-03T14:30:00+02:00", datetime(2021, 6, 3, 12, 30, tzinfo=UTC)),
    "RFC 822 in GMT": ("Thu, 03 Jun 2021 14:30:00 GMT", datetime(2021, 6, 3, 14, 30, tzinfo=UTC)),
}




@pytest.mark.parametrize("write", [_atom, _rss, _json_feed], ids=["atom", "rss", "json"])
def test_a_feed_date_without_an_offset_is_in_the_sources_time_zone(
        write: Callable[[Path, list[tuple[str, str]]], str], site: SiteServer,
        tmp_path: Path) -> None:
    feed = write(Path(site.root), [(name, text) for name, (text, _when) in DATES.items()])
    source = f"  - id: src\n    {feed}\n    timezone: Europe/Minsk\n"
    stored = stored_after_a_run(site, tmp_path, source)
    for title, (_text, when) in DATES.items():
        published = stored[title].published.replace(microsecond=0)
        assert published == when, (title, stored[title].published)
        assert stored[title].published_precision == "time", title
