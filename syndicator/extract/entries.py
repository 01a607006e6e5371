"""A feed's entries → the Articles its items come from, none lost without a word. Pure.

    collect         entries (an Article, or None when no http URL was found) with their
                    guids → FeedRead: the Articles, titled and told apart, and what was
                    skipped, by reason
    derived_title   a title from an entry's text, for entries that have none

Identity: an item is its canonical URL, which drops the `#fragment`. When a feed's entries
differ only by the fragment (a day's page of a weblog with one anchor per post, as in the
RSS 2.0 specification's sample; a live blog), or share one URL under distinct guids (a
digest page), each entry gets an `identity` that normalise.py makes the fragment of its
item URL (so of its id): the entry's own fragment (so the link leads to the post) or its
guid. A fragment the entry's own guid carries, or of an entry whose guid is no link (a urn,
a tag), is identity even when the entry is alone on its page in this fetch, so the item
keeps its id when its neighbours leave the feed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from syndicator.model import Article
from syndicator.normalise import canonical_url, plain_text_summary

__all__ = ["NO_LINK", "FeedRead", "collect", "derived_title"]

NO_LINK = "no link"
TITLE_CHARS = 80                  # a derived title is at most this long (plus "…")
# Fragments that mark where a reader came from, not what they read ("#xtor=RSS-3",
# "#ref=rss", "#utm_source=..."), or a part of every page ("#comments").
_NOT_IDENTITY = re.compile(r"=|^(?:comments?|respond|more|top|content|main)$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_HTTP = re.compile(r"^https?://", re.IGNORECASE)


@dataclass(frozen=True)
class FeedRead:
    """A feed's usable entries, and how many were skipped, by reason ("no link")."""

    articles: tuple[Article, ...]
    skipped: Mapping[str, int]


def collect(entries: Iterable[tuple[Article | None, str | None]]) -> FeedRead:
    """The Articles of a feed's entries, given as (Article or None, guid) in feed order."""
    found = list(entries)
    kept = [(article, guid) for article, guid in found if article is not None]
    skipped = len(found) - len(kept)
    pages: dict[str, list[tuple[Article, str | None]]] = {}
    for article, guid in kept:
        pages.setdefault(_page(article.url), []).append((article, guid))
    articles = []
    for article, guid in kept:
        identity = _identity(article, guid, pages[_page(article.url)])
        title = article.title or derived_title(article.summary, article.content)
        articles.append(replace(article, title=title, identity=identity))
    return FeedRead(tuple(articles), {NO_LINK: skipped} if skipped else {})


def derived_title(summary: str | None, content: str | None) -> str | None:
    """The first sentence of the entry's text (HTML or plain), at most TITLE_CHARS
    characters, cut on a word boundary with "…"; None when there is no text."""
    text = plain_text_summary(summary, content, max_chars=10 * TITLE_CHARS)
    if not text:
        return None
    sentence = _SENTENCE_END.split(text, maxsplit=1)[0]
    title = plain_text_summary(sentence, None, max_chars=TITLE_CHARS)
    # A sentence's full stop is not part of a title; "?", "!" and "…" are.
    return title[:-1] if title.endswith(".") and not title.endswith("..") else title


def _page(url: str) -> str:
    """The page an entry links to: its canonical URL, without the fragment."""
    try:
        return canonical_url(url)
    except ValueError:
        return url.split("#", 1)[0]


def _fragment(url: str | None) -> str:
    fragment = urlsplit(url or "").fragment
    return "" if not fragment or _NOT_IDENTITY.search(fragment) else fragment


def _identity(article: Article, guid: str | None,
              page: list[tuple[Article, str | None]]) -> str | None:
    fragment = _fragment(article.url)
    if fragment:
        if _fragment(guid) == fragment or (guid and not _HTTP.match(guid)):
            # The feed says so in the entry's own guid, or names the entry by a guid that
            # is no link (a urn, a tag: a live blog's posts).
            return f"#{fragment}"
        if len({_fragment(other.url) for other, _ in page} - {""}) > 1:
            return f"#{fragment}"          # the entries on this page differ only by it
    guids = {other_guid for _, other_guid in page if other_guid}
    if guid and len(guids) > 1:
        return guid                        # one URL, entries the feed says are different
    return None
