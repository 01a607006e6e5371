"""What a feed document carries besides its entries' own fields, as data: the frame around the
entries (title, date, language, home page) and the links of the document and of each entry.
xmlfeed.py and jsonfeed.py write them in their own syntax.

Document links:

    current feed   self, hub, prev-archive ──▶ newest archive page
    archive page   self, current, prev-archive ──▶ next older page, fh:archive

Archive pages carry no `next-archive`: pages are immutable once written, and a forward link
would have to be added to page n when page n+1 appears. Readers move forward via `current`.

Entry links (`EntryLink`) are an entry's links besides its own URL and its image enclosure,
e.g. other-language versions of the story: Atom writes each as a `<link>` of the entry, RSS as
an `<atom:link>` in the item, JSON Feed in the item's `_syndicator` extension object.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syndicator.config import FeedConfig, SiteConfig

# RFC 5005 feed history namespace (fh:archive, fh:complete).
HISTORY_NS = "http://purl.org/syndication/history/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"


@dataclass(frozen=True)
class FeedLinks:
    """Links of one document in one format. `self_url` None means the feed's own URL."""

    self_url: str | None = None
    hub: str | None = None
    current: str | None = None          # archive pages: the subscription document
    prev_archive: str | None = None     # the next older archive page
    archive: bool = False               # this document is an archive page (fh:archive)

    def extra(self) -> list[tuple[str, str]]:
        """(rel, href) of the links besides self and alternate, in document order."""
        rels = (("hub", self.hub), ("current", self.current),
                ("prev-archive", self.prev_archive))
        return [(rel, href) for rel, href in rels if href]


@dataclass(frozen=True)
class EntryLink:
    """One more link of an entry: `href` (a URI), its relation, and optionally the language
    (`hreflang`) and media type of what it points at."""

    href: str
    rel: str = "alternate"
    hreflang: str | None = None
    media_type: str | None = None
    title: str | None = None            # what it points at is called (a version's title)


@dataclass(frozen=True)
class Frame:
    """What a document says besides its entries."""

    feed: FeedConfig
    site: SiteConfig
    updated: datetime            # the feed-level date: the newest entry's, else the clock's
    language: str | None         # the feed's, else the one language all entries share
    links: FeedLinks | None = None
