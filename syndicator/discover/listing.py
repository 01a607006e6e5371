"""A listing page → the `list:` selectors of a proposed html source (cards, fields, next).

The card structure comes from cards.py, the fields from fields.py; this module puts them
together, best candidate first: when no exact selector can be written for the best card
structure, the next one is tried.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from syndicator.discover.cards import CardGroup, card_groups, story_links
from syndicator.discover.fields import (
    DATE_LANGUAGES,
    FieldChoice,
    best_selector,
    date_selector,
    date_targets,
    image_targets,
    next_link,
    summary_targets,
    text_value,
    title_targets,
)
from syndicator.discover.tree import Tree
from syndicator.errors import DiscoveryError
from syndicator.extract.html import (
    Node,
    absolute_url,
    element_image,
    element_text,
    node_key,
    select_all,
    tag_name,
)

__all__ = ["Alternative", "ListProposal", "article_date", "propose_list"]


@dataclass(frozen=True)
class Alternative:
    """A card structure that was considered: its selector, score and why."""

    selector: str
    score: float
    reason: str


@dataclass
class ListProposal:
    """The proposed `list:` keys (in config order) and how well each did on the cards."""

    selectors: dict[str, str]
    cards: int
    hits: dict[str, tuple[int, int]] = field(default_factory=dict)
    date_language: str | None = None
    alternatives: list[Alternative] = field(default_factory=list)
    reason: str = ""


def propose_list(root: Node, base: str, page_url: str, allows: Callable[[str], bool], *,
                 page_language: str | None, timezone: str, now: datetime,
                 rendered: bool = False) -> ListProposal:
    """Selectors for the page's cards; DiscoveryError when there is no repeated structure."""
    tree = Tree(root)
    links = story_links(tree, base, page_url, allows)
    groups = card_groups(tree, links, limit=3)
    if not groups:
        raise DiscoveryError(
            f"no repeated structure found on {page_url}: no run of three or more like elements "
            "each linking to a page on the same site" + (
                "" if rendered else " (if the list is built by JavaScript, try --render)"))
    alternatives: list[Alternative] = []
    chosen: tuple[CardGroup, str] | None = None
    for group in groups:
        first_link = next(found for found in (links.title_link for links in group.links)
                          if found is not None)
        item_selectors = tree.item_selectors(group.linked, group.members, first_link[0])
        if not item_selectors:
            continue
        alternatives.append(Alternative(item_selectors[0], group.score, group.reason))
        if chosen is None:
            chosen = (group, item_selectors[0])
    if chosen is None:
        raise DiscoveryError(f"no stable selector matches the repeated structure found on "
                             f"{page_url} (and nothing else)")
    group, item = chosen
    proposal = _fields(tree, group, item, base,
                       languages=[page_language or "en", *DATE_LANGUAGES],
                       timezone=timezone, now=now)
    proposal.alternatives = alternatives
    proposal.reason = group.reason
    next_selector = next_link(tree, base, page_url, allows)
    if next_selector:
        proposal.selectors["next"] = next_selector
    return proposal


def article_date(root: Node, title: str, *, page_language: str | None, timezone: str,
                 now: datetime) -> str | None:
    """A selector for the date of an article page that shows it only as text (no JSON-LD,
    OpenGraph or `<time datetime>`): its first `<time>` or short text the date parser
    reads."""
    tree = Tree(root)
    _language, found = date_targets([root], [title], [page_language or "en", *DATE_LANGUAGES],
                                    timezone=timezone, now=now)
    choice = date_selector(tree, [root], found)
    return choice.selector if choice is not None else None


def _fields(tree: Tree, group: CardGroup, item: str, base: str, *, languages: Sequence[str],
            timezone: str, now: datetime) -> ListProposal:
    linked = {node_key(m) for m in group.linked}
    cards = [c for c in select_all(tree.root, item) if node_key(c) in linked]
    by_key = dict(zip((node_key(m) for m in group.members), group.links, strict=True))
    title_links = [by_key[node_key(c)].title_link for c in cards]
    selectors: dict[str, str] = {"item": item}
    hits: dict[str, tuple[int, int]] = {}

    def keep(name: str, choice: FieldChoice | None, *, required: bool = False) -> None:
        if choice is None:
            return
        if required or choice.hits >= max(2, 0.5 * len(cards)):
            selectors[name] = choice.selector
            hits[name] = (choice.hits, len(cards))

    def link_value(card: Node, selector: str) -> str | None:
        url = absolute_url(base, text_value(card, selector))
        return url.split("#")[0] if url else None

    anchors = [link[0] if link else None for link in title_links]
    urls = [link[1] if link else None for link in title_links]
    if all(tag_name(c) == "a" for c in cards):
        selectors["link"] = "@href"
        hits["link"] = (sum(1 for i, c in enumerate(cards) if link_value(c, "@href") == urls[i]),
                        len(cards))
    else:
        keep("link", best_selector(tree, cards, anchors, urls, by_text=False,
                                   value=link_value, suffix="@href"), required=True)
    titles = title_targets(cards, title_links)
    title_texts = [element_text(t) if t is not None else "" for t in titles]
    keep("title", best_selector(tree, cards, titles, title_texts), required=True)

    language, dates = date_targets(cards, title_texts, languages, timezone=timezone, now=now)
    keep("date", date_selector(tree, cards, dates))
    if "date" not in selectors:
        language = None
    summaries = summary_targets(cards, titles, dates)
    keep("summary", best_selector(tree, cards, summaries, _texts(summaries)))
    images = image_targets(cards)
    keep("image", best_selector(tree, cards, images,
                                [element_image(i) if i is not None else None for i in images],
                                by_text=False))
    return ListProposal(selectors=selectors, cards=len(cards), hits=hits,
                        date_language=language)


def _texts(elements: Sequence[Node | None]) -> list[str | None]:
    return [element_text(e) if e is not None else None for e in elements]
