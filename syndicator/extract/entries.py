"""A feed's entries or a listing's cards → the Articles its items come from, told apart
and none lost without a word. Pure.

    collect         a feed's entries (an Article, or None when no http URL was found) with
                    their guids → FeedRead: the Articles, titled and told apart, and what was
                    skipped, by reason
    told_apart      entries or cards (with their guids, if any) → the Articles with their
                    `identity` set where the URL alone does not tell them apart
    listing_cards   a listing page's cards, told apart; links to the listing page itself
                    only when their #anchor tells them apart
    settled         whether a card's identity is decided, whatever later listing pages hold
    remembered      cards, each with the identity its item is stored under
    kept_apart      the items of a run's entries, those whose guids differ never merged by
                    the canonical URL their pages name
    derived_title   a title from an entry's text, for entries that have none

Identity, one rule for every source type (feeds, HTML listings): an item is its canonical
URL, which drops the `#fragment`, unless the fragment or the guid has to tell it apart.
Then it gets an `identity` that normalise.py makes the fragment of its item URL (so of its
id): the entry's own fragment (so the link leads to the post) or its guid.

- A fragment is identity when the entries or cards of one page (one canonical URL) carry
  different fragments: a day's page of a weblog with one anchor per post (the RSS 2.0
  specification's sample), a live blog, a single-page site whose cards link to its own
  `#anchors`. The same article linked with and without a fragment, or with one fragment
  only, stays one item. A listing walked over several pages is one listing: the cards of
  all its pages are counted before a card alone on its page so far is decided.
- It is also identity when the entry's own guid carries it, or when the guid is no link (a
  urn, a tag), even for an entry alone on its page in this fetch.
- Entries sharing one URL under distinct guids (a digest page) are told apart by their guids;
  entries repeating one guid on one URL are one item (the first in the feed). A guid shared
  by entries with different URLs names nothing: their URLs tell them apart.
- Fragments that mark where a reader came from ("#xtor=RSS-3", "#utm_source=…") or a part of
  every page ("#comments", "#main") are never identity.
- Once stored, an item keeps its identity (`remembered`, used where a run looks its cards
  up). An item stored under a fragment or guid keeps it when it is later alone on its page.
  An item stored under the page's plain URL (its entry was alone there) stays the item of
  that entry, which the item's `entry_key` names (its guid, else its "#fragment"): when
  others join it, that entry keeps the plain URL and the others get their own identities,
  and an entry of another name found alone on that page later gets its own identity too.
  Whichever order entries arrive in, each keeps one item. An entry alone on its page under
  another name but the stored item's title, or its published time to the second, is that
  entry renamed (a feed whose guids changed, or hash the title it corrected); an item
  stored before names were recorded goes to the first entry on its page with its title,
  or, for an entry alone there, to that entry.
- Canonical URLs never merge entries whose guids differ, nor listing cards of different
  stories (`kept_apart`): an entry whose article page names as canonical a URL that another
  entry of the run (of another guid, or without guids another text) has too, or that is
  the stored item of another entry, is kept under its own link; so is one whose item is
  stored under its own link already. (A site whose templates name one page, the section
  or a fixed one, as every article's canonical URL would otherwise make one item of all.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlsplit

from syndicator.model import Article, Item
from syndicator.normalise import anchor, canonical_url, entry_key, own_link, plain_text_summary
from syndicator.sanitise import clean_text

__all__ = ["NO_LINK", "FeedRead", "alternatives", "collect", "derived_title", "kept_apart",
           "listing_cards", "remembered", "settled", "told_apart"]

NO_LINK = "no link"
TITLE_CHARS = 80                  # a derived title is at most this long (plus "…")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_HTTP = re.compile(r"^https?://", re.IGNORECASE)
_ISO_INSTANT = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$")


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


def settled(card: Article) -> bool:
    """Whether the card's identity stays as it is whatever other cards of its page a later
    listing page of the run brings: it has one, or no fragment that could become one."""
    return card.identity is not None or not anchor(card.url)


def alternatives(card: Article) -> list[Article]:
    """The card with each other identity its item may be stored under (see remembered):
    with an identity now, none (the page's plain URL); without one, its fragment or its
    guid."""
    if card.identity is not None:
        return [replace(card, identity=None)]
    fragment = anchor(card.url)
    return [replace(card, identity=identity)
            for identity in (f"#{fragment}" if fragment else None, card.guid) if identity]


def remembered(cards: Sequence[Article], stored: Callable[[Article], Item | None],
               source: str) -> list[Article]:
    """The cards of source `source` (of one listing page, or a feed's entries), each with
    the identity its item is stored under, so that every item keeps its id (the rule in
    this module's docstring). `stored(card)` is the stored item of a card as it stands, if
    any; it is asked about the cards and their `alternatives`. An item another source
    wrote first names its entries by that source's names: only found, never claimed."""
    claimed: set[str] = set()          # pages whose plain URL a card of these claims
    kept = []
    for card in cards:
        card = _remembered(card, stored, source, claimed)
        if card.identity is None:
            claimed.add(_page(card.url))
        kept.append(card)
    return kept


def _remembered(card: Article, stored: Callable[[Article], Item | None], source: str,
                claimed: set[str]) -> Article:
    if card.identity is not None and stored(card) is not None:
        return card
    plain = replace(card, identity=None)
    owner = stored(plain)
    if owner is not None and owner.source_id != source:
        owner = None
    name = entry_key(card)
    if owner is not None and owner.entry_key is not None and name is not None:
        if name == owner.entry_key or (card.identity is None and _renamed(
                owner, clean_text(card.title), _instant(card.dates))):
            return plain                   # the entry the item is of (renamed)
        if card.identity is not None:
            return card
        mine = alternatives(card)          # alone on the page of another entry's item
        return next((again for again in mine if stored(again)), mine[0])
    if card.identity is None:
        return next((again for again in alternatives(card) if stored(again)), card)
    if (owner is not None and _page(card.url) not in claimed
            and clean_text(card.title) == owner.title):
        return plain                       # stored before names were: by its title
    return card


def kept_apart(made: Sequence[tuple[Article, Item]],
               stored: Callable[[list[str]], Mapping[str, Item]]
               ) -> tuple[list[Item], dict[str, list[str]]]:
    """The items of a run's entries (each with the card it was made from, in run order),
    those that canonicalisation would merge although they are different entries kept under
    their own links. An entry whose item is the canonical URL its page named, not its own
    link, keeps its own link when that is stored already, when another entry of the run
    with another guid (without guids: another text) has that canonical URL too, or when
    the item stored there is of this source and another entry's (`_another_entry`).
    `stored(urls)` gives the stored items of those URLs.
    Also returns, by canonical URL, the links of the entries kept apart from it."""
    own = [own_link(item, card) for card, item in made]
    moved = [n for n, (_card, item) in enumerate(made) if own[n].url != item.url]
    kept = [item for _card, item in made]
    if not moved:
        return kept, {}
    names: dict[str, set[tuple[str, str | None]]] = {}
    for card, item in made:
        names.setdefault(item.url, set()).add(("guid", card.guid) if card.guid
                                              else ("page", _page_text(item)))
    known = stored([url for n in moved for url in (kept[n].url, own[n].url)])
    notes: dict[str, list[str]] = {}
    for n in moved:
        card, item = made[n]
        owner = known.get(item.url)
        if (own[n].url in known or len(names[item.url]) > 1
                or (owner is not None and owner.source_id == item.source_id
                    and _another_entry(owner, card, own[n], item))):
            kept[n] = own[n]
            notes.setdefault(item.url, []).append(own[n].url)
    return kept, notes


def _another_entry(owner: Item, card: Article, own: Item, item: Item) -> bool:
    """Whether the stored item `owner` at the canonical URL `item`'s page names is another
    entry's than `card`'s: it has another guid (for a card with one) or, for a card without
    one whose link is another page than that canonical URL (not the same page with a
    query of its own), another text; in both cases another title and time (_renamed)."""
    if card.guid:
        other = owner.entry_key not in (None, card.guid)
    else:
        other = (urlsplit(own.url).path != urlsplit(item.url).path
                 and _page_text(owner) != _page_text(item))
    return other and not _renamed(owner, item.title, item.published
                                  if item.published_precision == "time" else None)


def _page_text(item: Item) -> str | None:
    """What tells a listing card's story from another's on one canonical URL: its page's
    text (two links to one page, under the titles of two blocks of a front page, have the
    same), else its title."""
    return item.content or item.summary or item.title


def _renamed(owner: Item, title: str | None, published: datetime | None) -> bool:
    """Whether an entry alone on the page of `owner`'s item under another name (guid) is
    that item's entry renamed: it has the item's title, or its published time to the
    second (a generator whose guids hash the title renames the entry with each corrected
    headline, and the time stays; another entry on that page comes with its own time)."""
    return title == owner.title or (
        published is not None and owner.published_precision == "time"
        and published == owner.published)


def _instant(dates: Sequence[str]) -> datetime | None:
    """The entry's first date when it is an ISO 8601 instant (a feed's dates, as the feed
    parser read them: `2024-05-06T07:00:00Z`); None for anything less certain."""
    if not dates or not _ISO_INSTANT.match(dates[0]):
        return None
    try:
        return datetime.fromisoformat(dates[0])
    except ValueError:
        return None


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


@dataclass
class _Page:
    """What the entries linking to one page carry: their fragments and guids."""

    fragments: set[str] = field(default_factory=set)
    guids: set[str] = field(default_factory=set)

    def add(self, article: Article, guid: str | None) -> None:
        fragment = anchor(article.url)
        if fragment:
            self.fragments.add(fragment)
        if guid:
            self.guids.add(guid)


def _identity(article: Article, guid: str | None, page: _Page) -> str | None:
    fragment = anchor(article.url)
    if fragment:
        if anchor(guid) == fragment or (guid and not _HTTP.match(guid)):
            # The feed says so in the entry's own guid, or names the entry by a guid that
            # is no link (a urn, a tag: a live blog's posts).
            return f"#{fragment}"
        if len(page.fragments) > 1:
            return f"#{fragment}"          # the entries on this page differ only by it
    if guid and len(page.guids) > 1:
        return guid                        # one URL, entries the feed says are different
    return None
