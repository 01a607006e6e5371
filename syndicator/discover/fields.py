"""The fields of the cards: which selector, relative to a card, yields each card's title,
link, date, text and image, and which link leads to the next listing page.

For each card discover first decides what the right value is (the title link; the first
`<time>` or short text the project's date parser reads; the longest text block that is not
the title; the first image), then tries the selectors that could name that element and keeps
the one that yields the right value on the most cards, read as the extractor reads them
(`select_value`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from syndicator.dates import parse_date
from syndicator.discover.tree import MEANINGFUL, Tree, descriptor, descriptors, is_heading
from syndicator.errors import ExtractError
from syndicator.extract.html import (
    Node,
    absolute_url,
    attr,
    element_attr,
    element_image,
    element_text,
    is_inside,
    node_key,
    same,
    select_all,
    select_value,
    tag_name,
)

__all__ = ["DATE_LANGUAGES", "FieldChoice", "best_selector", "date_selector", "date_targets",
           "image_targets",
           "next_link", "summary_targets", "title_targets"]

# Languages tried for dates after the page's own, in this order.
DATE_LANGUAGES = ("en", "ru", "be", "uk", "pl", "de", "fr", "es", "it", "pt", "nl", "lt",
                  "lv", "et", "cs", "ka", "kk")
_MIN_SUMMARY = 40
_MAX_DATE_TEXT = 60
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")
_NEXT_TEXT = re.compile(
    r"^(?:next(?: page)?|older(?: posts| entries| news)?|more news|weiter|suivant|siguiente|"
    r"далее|дальше|следующая(?: страница)?|вперёд|вперед|наступная(?: старонка)?|далей|"
    r"наступна|older articles)$", re.IGNORECASE)
_ARROWS = re.compile(r"[»›→>]+")

Value = Callable[[Node, str], str | None]


@dataclass(frozen=True)
class FieldChoice:
    """A field's selector and on how many of the cards that show the field it is right."""

    selector: str
    hits: int
    wanted: int


def text_value(card: Node, selector: str) -> str | None:
    try:
        return select_value(card, selector)
    except ExtractError:
        return None


def _candidates(tree: Tree, card: Node, target: Node, *, by_text: bool) -> dict[str, int]:
    """Selectors relative to `card` that could name `target`, each with how far out the
    element it names is (0: the target itself): its own names, its names below a
    distinctive ancestor within the card, the path of tags from the card, the tag after its
    previous sibling; for a text, also those of enclosing elements with the same text."""
    path = tree.path_between(card, target)
    if not path or not same(path[-1], target) or same(target, card):
        return {}
    ends = [target]
    if by_text:
        text = element_text(target)
        ends += [e for e in reversed(path[:-1]) if element_text(e) == text]
    found: dict[str, int] = {}
    for distance, end in enumerate(ends):
        own = descriptors(end)
        names = list(own)
        above = path[:path.index(end)]
        for ancestor in reversed(above):
            name = descriptor(ancestor)
            if name != tag_name(ancestor) or is_heading(ancestor):
                names += [f"{name} {css}" for css in own[:3]]
                break
        names.append(" > ".join(tag_name(e) for e in path[:path.index(end) + 1]))
        before = tree.previous_sibling(end)
        if before is not None and not same(before, card):
            # "the paragraph after the date": `p + p`, for cards without names
            names.append(f"{descriptor(before)} + {own[-1]}")
        for css in names:
            found.setdefault(css, distance)
    return found


def best_selector(tree: Tree, cards: Sequence[Node], targets: Sequence[Node | None],
                  expected: Sequence[str | None], *, by_text: bool = True,
                  value: Value = text_value, suffix: str = "") -> FieldChoice | None:
    """The selector (relative to a card) that yields `expected[i]` on the most cards `i`;
    among equals one with a telling class, naming the element itself, the shortest."""
    wanted = [i for i, t in enumerate(targets) if t is not None and expected[i]]
    if not wanted:
        return None
    pool: dict[str, int] = {}
    for i in wanted[:12]:
        target = targets[i]
        assert target is not None
        for css, distance in _candidates(tree, cards[i], target, by_text=by_text).items():
            pool[css] = min(distance, pool.get(css, distance))
    best: tuple[tuple[int, int, int, int], str, int] | None = None
    for css, distance in pool.items():
        selector = css + suffix
        hits = sum(1 for i in wanted if value(cards[i], selector) == expected[i])
        key = (-hits, _naming_rank(css), distance, len(selector))
        if hits and (best is None or key < best[0]):
            best = (key, selector, hits)
    if best is None:
        return None
    return FieldChoice(best[1], best[2], len(wanted))


def _naming_rank(css: str) -> int:
    """0: a class or id that says what the element is; 1: another class or id; 2: tags.
    What stands before a `+` names a sibling, not the element."""
    names = re.findall(r"[.#]([-\w]+)", css.rsplit("+", 1)[-1])
    if any(MEANINGFUL.search(name) for name in names):
        return 0
    return 1 if names else 2


# --- which element is each field, card by card ------------------------------------------------

def title_targets(cards: Sequence[Node],
                  links: Sequence[tuple[Node, str] | None]) -> list[Node | None]:
    """The element holding the title: the heading around (or inside) the title link when it
    says no more than the link, else the link itself; for a link without text (a card
    covered by an empty link), the card's first heading with text."""
    found: list[Node | None] = []
    for card, link in zip(cards, links, strict=True):
        if link is None:
            found.append(None)
            continue
        anchor = link[0]
        text = element_text(anchor)
        headings = select_all(card, "h1, h2, h3, h4, h5, h6")
        if not text:
            found.append(next((h for h in headings if element_text(h)), None))
            continue
        heading = next((h for h in headings
                        if (is_inside(anchor, h) or is_inside(h, anchor))
                        and element_text(h) == text), None)
        found.append(heading or anchor)
    return found


def _date_texts(element: Node) -> list[str]:
    texts = [element_text(element)]
    if tag_name(element) == "time":
        texts.insert(0, element_attr(element, "datetime") or "")
    return [t for t in texts if t]


def _date_elements(card: Node, title: str) -> list[Node]:
    """Elements of the card that may hold its date: <time> first, then short texts with digits
    (the innermost element of each text), not the title."""
    times = select_all(card, "time")
    short: list[Node] = []
    for element in select_all(card, "*"):
        if tag_name(element) in ("time", "script", "style", "img"):
            continue
        text = element_text(element)
        if not 6 <= len(text) <= _MAX_DATE_TEXT or not _DIGIT.search(text) or \
                (title and (text in title or title in text)):
            continue
        short = [e for e in short if not (is_inside(element, e) and element_text(e) == text)]
        short.append(element)
    return [*times, *short]


def date_targets(cards: Sequence[Node], titles: Sequence[str], languages: Sequence[str],
                 *, timezone: str, now: datetime) -> tuple[str | None, list[Node | None]]:
    """The date language (the first of `languages` that reads the most cards' dates) and
    each card's date element read in it."""
    elements = [_date_elements(card, title) for card, title in zip(cards, titles, strict=True)]
    sample = range(min(len(cards), 10))
    best_language: str | None = None
    best_count = 0
    for language in dict.fromkeys(languages):
        count = sum(1 for i in sample if _first_dated(elements[i], language, timezone, now))
        if count > best_count:
            best_language, best_count = language, count
        if count >= 0.8 * len(sample):
            break
    if best_language is None:
        return None, [None] * len(cards)
    targets = [_first_dated(found, best_language, timezone, now) for found in elements]
    # Dates written in digits only (03.06.2021, ISO) say nothing about the language.
    worded = any(_LETTER.search(text) for target in targets if target is not None
                 for text in _date_texts(target)[-1:])
    return (best_language if worded else None), targets


def _first_dated(elements: Sequence[Node], language: str, timezone: str,
                 now: datetime) -> Node | None:
    for element in elements:
        for text in _date_texts(element):
            if parse_date(text, language=language, timezone=timezone, now=now) is not None:
                return element
    return None


def date_selector(tree: Tree, cards: Sequence[Node],
                  dates: Sequence[Node | None]) -> FieldChoice | None:
    """The selector whose first match in each card is that card's date element."""
    return best_selector(tree, cards, dates, [_identity(d) for d in dates], by_text=False,
                         value=_identity_value)


def _identity(element: Node | None) -> str | None:
    return None if element is None else str(node_key(element))


def _identity_value(card: Node, selector: str) -> str | None:
    try:
        found = select_all(card, selector)
    except ExtractError:
        return None
    return str(node_key(found[0])) if found else None


def summary_targets(cards: Sequence[Node], titles: Sequence[Node | None],
                    dates: Sequence[Node | None]) -> list[Node | None]:
    """The longest text block of each card that is neither the title nor holds it."""
    found: list[Node | None] = []
    for card, title, date in zip(cards, titles, dates, strict=True):
        best: Node | None = None
        best_length = _MIN_SUMMARY - 1
        title_text = element_text(title) if title is not None else ""
        for element in select_all(card, "p, div, span, td, dd, section, blockquote"):
            if title is not None and (same(element, title) or is_inside(title, element)
                                      or is_inside(element, title)):
                continue
            if date is not None and (same(element, date) or is_inside(date, element)):
                continue
            text = element_text(element)
            if len(text) > best_length and text != title_text:
                best, best_length = element, len(text)
            elif best is not None and len(text) == best_length and is_inside(element, best):
                best = element          # the innermost element of the same text
        found.append(best)
    return found


def image_targets(cards: Sequence[Node]) -> list[Node | None]:
    found: list[Node | None] = []
    for card in cards:
        found.append(next((img for img in select_all(card, "img") if element_image(img)),
                          None))
    return found


# --- the next page ---------------------------------------------------------------------------

def next_link(tree: Tree, base: str, page_url: str,
              allows: Callable[[str], bool]) -> str | None:
    """A selector (`css@href`) for the link to the next listing page, or None."""
    here = {page_url.split("#")[0], base.split("#")[0]}
    for anchor in _next_anchors(tree.root):
        url = absolute_url(base, attr(anchor, "href"))
        if url is None or url.split("#")[0] in here or not allows(url):
            continue
        for css in _next_selectors(tree, anchor):
            selector = f"{css}@href"
            if absolute_url(base, text_value(tree.root, selector)) == url:
                return selector
    for link in select_all(tree.root, "link[rel=next][href]"):
        url = absolute_url(base, attr(link, "href"))
        if url and url.split("#")[0] not in here and allows(url):
            return "link[rel=next]@href"
    return None


def _next_anchors(root: Node) -> list[Node]:
    anchors = select_all(root, "a[href]")
    ranked: list[tuple[int, int, Node]] = []
    for position, anchor in enumerate(anchors):
        rel = (attr(anchor, "rel") or "").lower().split()
        own = (attr(anchor, "class") or "").lower()
        text = _ARROWS.sub(" ", element_text(anchor)).strip().lower()
        arrow_only = not text and bool(_ARROWS.search(element_text(anchor)))
        if "next" in rel:
            ranked.append((0, position, anchor))
        elif "next" in own or "older" in own:
            ranked.append((1, position, anchor))
        elif _NEXT_TEXT.match(text) or arrow_only:
            ranked.append((2, position, anchor))
    return [anchor for _rank, _position, anchor in sorted(ranked, key=lambda r: r[:2])]


def _next_selectors(tree: Tree, anchor: Node) -> list[str]:
    """Names for a next-page link, best first: below the nearest distinctive ancestor (by
    the link's own name, or by the path of tags), then by its own name alone."""
    own = [css for css in descriptors(anchor) if css != "a"]
    rel = (attr(anchor, "rel") or "").strip().lower()
    if rel == "next":
        own.append("a[rel=next]")
    found: list[str] = []
    chain = ["a"]
    parent = tree.parent(anchor)
    steps = 0
    while parent is not None and steps < 4 and tag_name(parent) not in ("body", "html"):
        name = descriptor(parent)
        if name != tag_name(parent):
            found += [f"{name} {css}" for css in own]
            found += [f"{name} > {' > '.join(chain)}", f"{name} a"]
            break
        chain.insert(0, tag_name(parent))
        parent = tree.parent(parent)
        steps += 1
    return list(dict.fromkeys([*found, *own]))
