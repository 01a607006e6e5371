"""Finding the repeated card structure of a listing page, on a site never seen before.

A listing shows its stories as a run of like elements: siblings with the same tag and
classes under one parent (`<article class="post">` in `<main>`, `<tr>` in a table, `<li>`
in a list), or cousins in rows of a grid. Each card holds a link to a story on the same
site, usually with a title of some length, often a date, an image and a text. Menus, tag
clouds and footers repeat too; they lose on the score:

    cards with a story link × how distinct their links are ÷ story links per card
        × (1 + title length, share of cards with a date, an image, a text)
        × less for navigation, sidebars and footers

A story link is a link the source may follow (fetchpolicy.OriginPolicy) to a page that is
not the listing itself, a category, tag, author or page-number URL.
"""

from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from syndicator.discover.tree import MEANINGFUL, Tree, is_heading, stable_classes
from syndicator.extract.html import (
    Node,
    absolute_url,
    ancestors,
    attr,
    element_attr,
    element_image,
    element_text,
    node_key,
    select_all,
    tag_name,
)

__all__ = ["CardGroup", "StoryLinks", "card_groups"]

MIN_CARDS = 3
_NOT_STORY = re.compile(
    r"/(?:tag|tags|category|categories|author|authors|page|search|login|feed|rss|wp-admin|"
    r"wp-login|cart|account|user|users|topics?|rubric|section)(?:/|$)|[?&](?:page|p|paged)=\d",
    re.IGNORECASE)
_BOILERPLATE_TAGS = frozenset({"nav", "header", "footer", "aside", "form"})
_BOILERPLATE_NAMES = re.compile(
    r"menu|nav|footer|header|sidebar|widget|breadcrumb|pagination|pager|related|popular|"
    r"share|social|comment|banner|cookie|lang|tags?-?cloud", re.IGNORECASE)
_DATE_HINT = re.compile(r"\d")
_TITLE_MIN = 12                      # characters: shorter link texts are menus, "more", "2"


@dataclass(frozen=True)
class StoryLinks:
    """The links of one card that may be stories: absolute URL per anchor."""

    anchors: tuple[tuple[Node, str], ...]

    def urls(self) -> set[str]:
        return {url for _anchor, url in self.anchors}

    @functools.cached_property
    def title_link(self) -> tuple[Node, str] | None:
        """The anchor that carries the story's title: in a heading if one is, else the
        one with the longest text (an image link has none)."""
        if not self.anchors:
            return None
        in_heading = [(a, u) for a, u in self.anchors
                      if is_heading(a) or any(is_heading(p) for p in ancestors(a))]
        pool = in_heading or list(self.anchors)
        return max(pool, key=lambda pair: len(_link_text(pair[0])))


@dataclass(frozen=True)
class CardGroup:
    """One candidate card structure: its members (in page order) and why it scored so."""

    members: tuple[Node, ...]
    links: tuple[StoryLinks, ...]          # per member
    score: float
    reason: str

    @property
    def linked(self) -> tuple[Node, ...]:
        return tuple(m for m, links in zip(self.members, self.links, strict=True)
                     if links.title_link is not None)


def _link_text(anchor: Node) -> str:
    return (element_text(anchor) or element_attr(anchor, "title")
            or element_attr(anchor, "aria-label") or "")


def _clusters(members: list[Node]) -> list[list[Node]]:
    """Like elements of one tag split by their classes: those sharing the commonest class,
    then the rest (cards differ in some classes: `has-post-thumbnail`, `sticky`)."""
    rest = members
    found: list[list[Node]] = []
    while rest:
        counts = Counter(name for member in rest for name in set(stable_classes(member)))
        if not counts:
            found.append(rest)
            break
        name, count = max(counts.items(),
                          key=lambda entry: (entry[1], bool(MEANINGFUL.search(entry[0]))))
        if count < MIN_CARDS:
            found.append(rest)
            break
        found.append([m for m in rest if name in stable_classes(m)])
        rest = [m for m in rest if name not in stable_classes(m)]
    return found


def story_links(tree: Tree, base: str, listing_url: str,
                allows: Callable[[str], bool]) -> dict[int, StoryLinks]:
    """Per element (by node key), the story links inside it (itself included)."""
    here = {listing_url.split("#")[0].rstrip("/"), base.split("#")[0].rstrip("/")}
    per_element: dict[int, list[tuple[Node, str]]] = defaultdict(list)
    for anchor in select_all(tree.root, "a[href]"):
        url = absolute_url(base, attr(anchor, "href"))
        if url is None or not allows(url):
            continue
        bare = url.split("#")[0]
        path = urlsplit(bare).path
        if bare.rstrip("/") in here or path in ("", "/") or _NOT_STORY.search(bare):
            continue
        per_element[node_key(anchor)].append((anchor, bare))
        for parent in ancestors(anchor):
            per_element[node_key(parent)].append((anchor, bare))
    return {key: StoryLinks(tuple(pairs)) for key, pairs in per_element.items()}


def card_groups(tree: Tree, links: dict[int, StoryLinks], *, limit: int = 3) -> list[CardGroup]:
    """The likeliest card structures, best first (at most `limit`)."""
    groups: dict[tuple[object, ...], list[Node]] = defaultdict(list)
    for element in tree.elements:
        if tag_name(element) in ("html", "head", "body", "script", "style"):
            continue
        parent = tree.parent(element)
        if parent is None:
            continue
        tag = tag_name(element)
        groups[("siblings", node_key(parent), tag)].append(element)
        grandparent = tree.parent(parent)
        if grandparent is not None:
            groups[("cousins", node_key(grandparent), tag_name(parent), tag)].append(element)
    seen: set[frozenset[int]] = set()
    scored: list[CardGroup] = []
    empty = StoryLinks(())
    for members in (cluster for group in groups.values() if len(group) >= MIN_CARDS
                    for cluster in _clusters(group)):
        if len(members) < MIN_CARDS:
            continue
        keys = frozenset(node_key(m) for m in members)
        if keys in seen:
            continue
        seen.add(keys)
        per_member = tuple(links.get(node_key(m), empty) for m in members)
        group = _score(tuple(members), per_member)
        if group is not None:
            scored.append(group)
    scored.sort(key=lambda g: -g.score)
    return scored[:limit]


def _score(members: tuple[Node, ...], links: tuple[StoryLinks, ...]) -> CardGroup | None:
    titled = [(m, found) for m, found in zip(members, links, strict=True)
              if found.title_link is not None]
    if len(titled) < MIN_CARDS:
        return None
    title_urls = []
    title_lengths = []
    per_card = []
    dated = imaged = texted = 0
    for member, card_links in titled:
        anchor, url = card_links.title_link or (member, "")
        title = _link_text(anchor)
        title_urls.append(url)
        title_lengths.append(min(len(title), 80))
        # Story links with a title-like text: more than one per card means the "card" is a
        # row or a column of several cards.
        per_card.append(max(1, len({u for a, u in card_links.anchors
                                    if len(_link_text(a)) >= _TITLE_MIN})))
        text = element_text(member)
        if select_all(member, "time") or _has_short_dated_text(member, title):
            dated += 1
        if element_image(member):
            imaged += 1
        if len(text) - len(title) >= 40:
            texted += 1
    n = len(titled)
    mean_title = sum(title_lengths) / n
    if mean_title < _TITLE_MIN and not imaged:
        return None
    distinct = len(set(title_urls)) / n
    cards_per_member = sum(per_card) / n
    share = n / len(members)
    richness = 1 + mean_title / 60 + 0.5 * dated / n + 0.3 * imaged / n + 0.3 * texted / n
    boiler = 0.25 if _boilerplate(titled[0][0]) else 1.0
    # Of two structures around the same cards (`div.views-row > article.node`), the one
    # whose name says what it is.
    named = 1.05 if any(MEANINGFUL.search(c) for c in stable_classes(titled[0][0])) else 1.0
    score = n * distinct / cards_per_member * (0.5 + 0.5 * share) * richness * boiler * named
    reason = (f"{n} cards, titles ~{mean_title:.0f} chars, {dated}/{n} dated, "
              f"{imaged}/{n} with image, {texted}/{n} with text"
              + (", in navigation/sidebar/footer" if boiler < 1 else "")
              + (f", {cards_per_member:.1f} stories per card" if cards_per_member > 1.2 else ""))
    return CardGroup(members, links, round(score, 1), reason)


def _has_short_dated_text(member: Node, title: str) -> bool:
    """A short text with digits besides the title: a date, perhaps (checked properly later)."""
    for element in select_all(member, "span, small, p, div, td, time, em, i, li, dd"):
        text = element_text(element)
        if 6 <= len(text) <= 40 and _DATE_HINT.search(text) and text not in title:
            return True
    return False


def _boilerplate(element: Node) -> bool:
    for node in (element, *ancestors(element)):
        if tag_name(node) in ("body", "html"):
            break
        if tag_name(node) in _BOILERPLATE_TAGS:
            return True
        names = f"{attr(node, 'class') or ''} {attr(node, 'id') or ''}"
        if names.strip() and _BOILERPLATE_NAMES.search(names):
            return True
    return False

