"""The site-wide files: `index.html`, `feeds.opml` and `.state/summaries.json`, rendered from
every feed's summary (the one home for rendering them).

`.state/summaries.json` records per feed id the feed's summary: its item count, its newest
item's time, the key of the configuration it was read with (a feed configured otherwise is
read again) and the build mark (store/builds.py) it was read from. A build with `only`
reads the other feeds' summaries from it instead of the store.

    Entry                     one feed's summary
    entry(feed, items, mark)  a feed's summary from the items of its window
    read_entries(config)      the folder's summaries of the configured feeds
    site_files(config, entries, now)
                              the three files (relative path → bytes) from the summaries
    SharedSite(config, own, now, prune=)
                              the renderer a share calls under the store's site lock
                              (store/outputs.py): the cluster's shared summaries merged with
                              this build's, so that builds of different feeds on different
                              instances never drop each other's line

Merging keeps, per feed, the shared summary when this build's says the same, else the
summary read from the newest mark (on a tie, one this build read itself over one it found
recorded); a summary of this configuration's feed read with
another configuration is replaced by this build's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from syndicator.config import Config, FeedConfig
from syndicator.model import Item
from syndicator.publish import common
from syndicator.publish.archivestate import STATE_DIR
from syndicator.publish.pages import FeedSummary, render_index, render_opml
from syndicator.publish.shared import INDEX_FILE, OPML_FILE, SUMMARIES_FILE

log = logging.getLogger(__name__)

SUMMARIES_PATH = f"{STATE_DIR}/{SUMMARIES_FILE}"
SITE_PATHS = (INDEX_FILE, OPML_FILE, SUMMARIES_PATH)


@dataclass(frozen=True)
class Entry:
    """One feed's summary as summaries.json records it; `fresh`: read by this build (not
    recorded: a summary read back from a file is not)."""

    key: str
    items: int
    newest: datetime | None
    mark: int = 0
    fresh: bool = False


def summary_key(feed: FeedConfig) -> str:
    """What a recorded summary depends on besides the store: a changed feed is read again."""
    grouped = ([feed.translations, list(feed.preferred_languages)]
               if feed.translations == "group" else [])
    return json.dumps([sorted(feed.sources), feed.limit, list(feed.include),
                       list(feed.exclude), *grouped])


def entry(feed: FeedConfig, items: Sequence[Item], mark: int) -> Entry:
    """The summary of a feed whose window is `items`, read from `mark`."""
    newest = max((common.utc(item.published) for item in items), default=None)
    return Entry(summary_key(feed), len(items), newest, mark, fresh=True)


def read_entries(config: Config) -> dict[str, Entry]:
    """The summaries in the output folder of the configured feeds, as configured now."""
    path = config.output_path / SUMMARIES_PATH
    try:
        recorded = _parse(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("%s unreadable (%s); reading every feed for the index", path, exc)
        return {}
    keys = {feed.id: summary_key(feed) for feed in config.feeds}
    return {fid: found for fid, found in recorded.items() if found.key == keys.get(fid)}


def site_files(config: Config, entries: Mapping[str, Entry], now: datetime) -> dict[str, bytes]:
    """The site-wide files (path relative to the output folder → bytes): the index and OPML
    of the configured feeds (`entries` holds each one's summary), and every entry's line."""
    data = {fid: {"key": found.key, "items": found.items, "mark": found.mark,
                  "newest": found.newest.isoformat() if found.newest else None}
            for fid, found in entries.items()}
    return {INDEX_FILE: render_index(config, summaries(config, entries, now)),
            OPML_FILE: render_opml(config),
            SUMMARIES_PATH: (json.dumps(data, indent=1, sort_keys=True) + "\n").encode("utf-8")}


def summaries(config: Config, entries: Mapping[str, Entry],
              now: datetime) -> list[FeedSummary]:
    """The configured feeds' summaries, as the pages show them."""
    return [FeedSummary(feed=feed, items=entries[feed.id].items, newest=entries[feed.id].newest,
                        built=now) for feed in config.feeds]


class SharedSite:
    """What a share calls under the store's site lock (store/outputs.py SiteRender): the site
    files from the shared summaries merged with this build's `own` (one per configured
    feed), and the newest mark among them. `files` keeps what it rendered last, for the
    build's own folder. `prune`: summaries of feeds not configured are dropped."""

    def __init__(self, config: Config, own: Mapping[str, Entry], now: datetime, *,
                 prune: bool) -> None:
        self.config = config
        self.own = dict(own)
        self.now = now
        self.prune = prune
        self.files: dict[str, bytes] = {}

    def __call__(self, read: Callable[[str], bytes | None]) -> tuple[dict[str, bytes], int]:
        stored = self._stored(read(SUMMARIES_PATH))
        if self.prune:
            stored = {fid: found for fid, found in stored.items() if fid in self.own}
        merged = {**stored, **{fid: found for fid, found in self.own.items()
                               if not _newer(stored.get(fid), found)}}
        self.files = site_files(self.config, merged, self.now)
        return self.files, max((found.mark for found in merged.values()), default=0)

    @staticmethod
    def _stored(data: bytes | None) -> dict[str, Entry]:
        if data is None:
            return {}
        try:
            return _parse(data)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("the shared %s is unreadable (%s); written anew", SUMMARIES_PATH, exc)
            return {}


def _newer(stored: Entry | None, own: Entry) -> bool:
    """Whether the shared summary is to be kept over this build's: read with the same
    configuration and saying the same (its mark is kept, so that the file's bytes do not
    change when the feed did not), or from a newer mark, or from the same mark when this
    build did not read the feed itself (its summary is one it found recorded). Marks are
    equal when a long transaction held the horizon back; a summary read now is then the
    newer."""
    if stored is None or stored.key != own.key:
        return False
    if (stored.items, stored.newest) == (own.items, own.newest):
        return True
    return stored.mark > own.mark or (stored.mark == own.mark and not own.fresh)


def _parse(data: bytes) -> dict[str, Entry]:
    recorded = json.loads(data.decode("utf-8"))
    return {str(fid): Entry(key=str(found["key"]), items=int(found["items"]),
                            newest=(datetime.fromisoformat(found["newest"])
                                    if found["newest"] else None),
                            mark=int(found.get("mark", 0)))
            for fid, found in recorded.items() if isinstance(found, dict)}
