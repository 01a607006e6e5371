"""A feed's entries or a listing's cards → the Articles its items come from, told apart
and none lost without a word. Pure.

    collect         a feed's entries (an Article, or None when no http URL was found) with
                    their guids → FeedRead: the Articles, titled and told apart, and what was
                    skipped, by reason
    told_apart      entries or cards (with their guids, if any) → the Articles with their
                    `identity` set where the URL alone does not tell them apart
    listing_cards   a listing page's cards, told apart; links to the listing page itself
                    only when their #anchor tells them apart
    remembered      a card, with the identity its item was stored under before
    derived_title   a title from an entry's text, for entries that have none

Identity, one rule for every source type (feeds, HTML listings): an item is its canonical
URL, which drops the `#fragment`, unless the fragment or the guid has to tell it apart.
Then it gets an `identity` that normalise.py makes the fragment of its item URL (so of its
id): the entry's own fragment (so the link leads to the post) or its guid.

- A fragment is identity when the entries or cards of one page (one canonical URL) carry
  different fragments: a day's page of a weblog with one anchor per post (the RSS 2.0
  specification's sample), a live blog, a single-page site whose cards link to its own
  `#anchors`. The same article linked with and without a fragment, or with one fragment
  only, stays one item.
- It is also identity when the entry's own guid carries it, or when the guid is no link (a
  urn, a tag), even for an entry alone on its page in this fetch.
- Entries sharing one URL under distinct guids (a digest page) are told apart by their guids;
  entries repeating one guid on one URL are one item (the first in the feed). A guid shared
  by entries with different URLs names nothing: their URLs tell them apart.
- Fragments that mark where a reader came from ("#xtor=RSS-3", "#utm_source=…") or a part of
  every page ("#comments", "#main") are never identity.
- Once stored, an item keeps its identity (`remembered`, used where a run looks its cards
  up): under a fragment or guid when it is later alone on its page (its neighbours left),
  under the plain URL when a post first seen alone is later joined by others.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from syndicator.model import Article
from syndicator.normalise import canonical_url, plain_text_summary

__all__ = ["NO_LINK", "FeedRead", "alternatives", "collect", "derived_title", "listing_cards",
           "remembered", "told_apart"]

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
    articles = tuple(
        replace(article, title=article.title or derived_title(article.summary, article.content))
        for article in told_apart(kept))
    return FeedRead(articles, {NO_LINK: skipped} if skipped else {})


def told_apart(entries: Iterable[tuple[Article, str | None]]) -> list[Article]:
    """The entries of one feed or the cards of one listing page, given as (Article, guid or
    None) in page order, with their `identity` set where their URL alone does not tell them
    apart (the rule in this module's docstring) and their guid kept."""
    return [article for article, _page_url in _told_apart(entries)]


def _told_apart(entries: Iterable[tuple[Article, str | None]]) -> list[tuple[Article, str]]:
    """told_apart, each Article with the page it links to."""
    kept = [(article, guid, _page(article.url)) for article, guid in entries]
    pages: dict[str, _Page] = {}
    for article, guid, page in kept:
        pages.setdefault(page, _Page()).add(article, guid)
    told = []
    for article, guid, page in kept:
        identity = _identity(article, guid, pages[page])
        if guid is not None or identity is not None:
            article = replace(article, identity=identity, guid=guid)
        told.append((article, page))
    return told


def listing_cards(cards: Iterable[Article], *pages: str) -> list[Article]:
    """The cards of a listing page (at the URLs `pages`: asked for, redirected to) told apart
    as a feed's entries are. A card that links to the listing page itself is a story only
    when its `#anchor` tells it apart from others (a single-page site); otherwise it is a
    share button or a "back to top" link, not a story."""
    here = {_page(url) for url in pages}
    return [card for card, page in _told_apart((card, None) for card in cards)
            if card.identity is not None or page not in here]


def alternatives(card: Article) -> list[Article]:
    """The card with each identity its item may have been stored under (see remembered):
    without one now, its fragment or its guid; with its fragment as identity, none (the
    plain URL, from when it was alone on its page)."""
    fragment = _fragment(card.url)
    if card.identity is None:
        return [replace(card, identity=identity)
                for identity in (f"#{fragment}" if fragment else None, card.guid) if identity]
    return [replace(card, identity=None)] if card.identity == f"#{fragment}" else []


def remembered(card: Article, stored: Callable[[Article], bool], *, seen: bool) -> Article:
    """The card with the identity its item was stored under (`stored` says whether an
    item of a card is in the store), so that the item keeps its id:

    - a card without an identity now (alone on its page) whose fragment or guid told it
      apart on an earlier run: that identity;
    - a card told apart by its fragment now that was `seen` before (its URL, fragment and
      all, has a fetch state) when it was alone on its page, so stored under the plain URL:
      no identity.

    Else the card as it is."""
    if card.identity is not None and (not seen or stored(card)):
        return card
    return next((again for again in alternatives(card) if stored(again)), card)


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
    if not url or "#" not in url:
        return ""
    fragment = urlsplit(url).fragment
    return "" if not fragment or _NOT_IDENTITY.search(fragment) else fragment


@dataclass
class _Page:
    """What the entries linking to one page carry: their fragments and guids."""

    fragments: set[str] = field(default_factory=set)
    guids: set[str] = field(default_factory=set)

    def add(self, article: Article, guid: str | None) -> None:
        fragment = _fragment(article.url)
        if fragment:
            self.fragments.add(fragment)
        if guid:
            self.guids.add(guid)


def _identity(article: Article, guid: str | None, page: _Page) -> str | None:
    fragment = _fragment(article.url)
    if fragment:
        if _fragment(guid) == fragment or (guid and not _HTTP.match(guid)):
            # The feed says so in the entry's own guid, or names the entry by a guid that
            # is no link (a urn, a tag: a live blog's posts).
            return f"#{fragment}"
        if len(page.fragments) > 1:
            return f"#{fragment}"          # the entries on this page differ only by it
    if guid and len(page.guids) > 1:
        return guid                        # one URL, entries the feed says are different
    return None
