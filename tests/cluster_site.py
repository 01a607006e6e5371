"""A fixture news site of many small sources, served on loopback, that counts what it serves.

Source `sN` is the listing `/sN/` (cards in the demo site's markup, so the demo config's
selectors apply) with its articles at `/sN/a/<slug>.html`. `publish` puts a new article on
top of a listing while the service polls it; `slow` makes the first fetch of a page hang
(a slow origin), so that a test can kill the process that is waiting for it;
`fetches(path)` counts the GETs of a path across every client.
"""

from __future__ import annotations

import html
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from syndicator.demo.server import SiteServer
from tests.demo_support import selectors_yaml

# The demo config's selectors; the cards have no image and the listings one page.
SELECTORS = selectors_yaml(leave_out=("image", "next"), max_pages=1)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><main>
{body}
</main></body></html>
"""


def _card(source: str, slug: str, title: str, date: str) -> str:
    return (f'<article class="news-card"><a class="news-card__link" '
            f'href="/{source}/a/{slug}.html"><h2 class="news-card__title">{html.escape(title)}'
            f'</h2></a><div class="news-card__excerpt">What {html.escape(title)} is about.'
            f'</div><span class="news-card__date">{date}</span></article>')


def _article(title: str, date: str) -> str:
    body = (f'<h1 class="single-news__title">{html.escape(title)}</h1>\n'
            f'<div class="single-news__date">{date}</div>\n'
            f'<div class="single-news__content"><p>The full story of {html.escape(title)}, '
            f"as the office published it.</p><p>A second paragraph.</p></div>")
    return _PAGE.format(title=html.escape(title), body=body)


@dataclass
class Slow:
    """The first GET of `path` waits `seconds` before it is answered; `asked` is set then,
    with the User-Agent of the client that asked."""

    path: str
    seconds: float
    asked: threading.Event = field(default_factory=threading.Event)
    user_agent: str | None = None


@dataclass
class ClusterSite:
    root: Path
    server: SiteServer
    sources: list[str]
    _slow: dict[str, Slow] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return self.server.url

    def sources_yaml(self, schedule: str) -> str:
        """The `sources:` entries for this site, every one polled `every: schedule`."""
        return "".join(f'  - id: {source}\n    url: "{self.url}{source}/"\n    language: en\n'
                       f"    schedule: {{every: {schedule}}}\n{SELECTORS}"
                       for source in self.sources)

    def publish(self, source: str, slug: str, title: str,
                date: str = "December 01, 2025") -> str:
        """A new article on top of `source`'s listing; returns the article's path."""
        path = f"/{source}/a/{slug}.html"
        (self.root / path.lstrip("/")).write_text(_article(title, date), encoding="utf-8")
        listing = self.root / source / "index.html"
        text = listing.read_text(encoding="utf-8")
        first = text.index("<article")
        listing.write_text(text[:first] + _card(source, slug, title, date) + "\n" + text[first:],
                           encoding="utf-8")
        return path

    def slow(self, path: str, seconds: float) -> Slow:
        with self._lock:
            self._slow[path] = slow = Slow(path, seconds)
        return slow

    def fetches(self, path: str) -> int:
        return self.counts()[path]

    def counts(self) -> Counter[str]:
        """GETs per path, across every client, since the site started."""
        return Counter(target.split("?")[0] for method, target, _ in list(self.server.requests)
                       if method == "GET")

    def _hook(self, handler: BaseHTTPRequestHandler, path: str) -> bool:
        with self._lock:
            slow = self._slow.pop(path, None)
        if slow is not None:
            slow.user_agent = handler.headers.get("User-Agent")
            slow.asked.set()
            time.sleep(slow.seconds)
        return False                      # then served as any other page


@contextmanager
def cluster_site(root: Path, *, sources: int = 30, articles: int = 2) -> Iterator[ClusterSite]:
    """`sources` listings of `articles` articles each, written under `root` and served."""
    names = [f"s{n}" for n in range(sources)]
    for source in names:
        cards = []
        for n in range(articles):
            slug, title = f"{source}-old-{n}", f"Story {n + 1} of source {source}"
            date = f"November {10 + n:02d}, 2025"
            (root / source / "a").mkdir(parents=True, exist_ok=True)
            (root / source / "a" / f"{slug}.html").write_text(_article(title, date),
                                                             encoding="utf-8")
            cards.insert(0, _card(source, slug, title, date))
        (root / source / "index.html").write_text(
            _PAGE.format(title=f"News of {source}", body="\n".join(cards)), encoding="utf-8")
    server = SiteServer(root)
    site = ClusterSite(root, server, names)
    server.hook = site._hook
    with server:
        yield site
