"""The feed-level links a document carries beyond its alternate link: self, WebSub hub and the
RFC 5005 archive chain. Data only; feeds.py and jsonfeed.py write them in their own syntax.

    current feed   self, hub, prev-archive ──▶ newest archive page
    archive page   self, current, prev-archive ──▶ next older page, fh:archive

Archive pages carry no `next-archive`: pages are immutable once written, and a forward link
would have to be added to page n when page n+1 appears. Readers move forward via `current`.
"""

from __future__ import annotations

from dataclasses import dataclass

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
