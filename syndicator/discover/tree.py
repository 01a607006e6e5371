"""A parsed listing page seen as a tree, and the selectors discover writes for its elements.

Selectors are in the config's syntax (plain CSS, `@attr` for an attribute; see
extract/html.py) and as short and stable as the page allows: a tag with a class that looks
meant for people (`article.post`, `.entry-title`), then a tag, then the path of tags below
the nearest ancestor with such a class or an id (`#main > div > div`). Classes that look
generated (`css-1x2y3z`, `post-123`), utility classes (`mt-4`, `md:flex`, `col-6`) and
positions (`:nth-child`) are never used: they change with the next deploy or the next story.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from syndicator.errors import ExtractError
from syndicator.extract.html import (
    Node,
    ancestors,
    attr,
    find_all,
    node_key,
    same,
    select_all,
    tag_name,
)

__all__ = ["MEANINGFUL", "Tree", "descriptor", "descriptors", "stable_classes", "stable_id"]

_IDENT = re.compile(r"^-?[_a-zA-Z][-_a-zA-Z0-9]*$")
# Utility and state classes (Bootstrap, Tailwind, WordPress block/state classes): they say
# how an element looks or what state it is in, not what it is.
_UTILITY = re.compile(
    r"^(?:[a-z]{1,2}|[mp][trblxyse]?-.+|(?:xs|sm|md|lg|xl|xxl)-.+|col|col-.+|row|d-.+|"
    r"flex.*|grid.*|w-.+|h-.+|text-.+|bg-.+|font-.+|border.*|rounded.*|shadow.*|"
    r"container.*|clearfix|float-.+|align.*|justify-.+|items-.+|gap-.+|space-.+|order-.+|"
    r"hidden|visible|block|inline.*|relative|absolute|overflow.*|is-.+|has-.+|js-.+|"
    r"active|current|first|last|odd|even|clear|left|right|center|sticky|status-.+|"
    r"format-.+|type-.+|category-.+|tag-.+|hentry|default-max-width|alignwide|alignfull)$",
    re.IGNORECASE)
# Generated or per-item names: any digit (`post-123`, `post-6beecf`, `css-1x2y3z`), a
# hash-like mix of cases (`sc-bdfBwQ`) or a CSS-in-JS prefix.
_GENERATED = re.compile(r"\d|^(?:css|sc|jsx|emotion|styled)-|[a-z][A-Z][a-z]*[A-Z]")
# Words that name what an element is, at the start of a part of a class name (`entry-date`,
# `news-card__title`, `post-thumbnail`; not `updated`): such classes are tried first.
MEANINGFUL = re.compile(
    r"(?:^|[-_])(?:post|article|entry|news|card|item|story|teaser|title|headline|heading|"
    r"date|time|summary|excerpt|lead|desc|intro|image|img|thumb|photo|picture|link|list|"
    r"feed|blog|pagination|pager|next|older)", re.IGNORECASE)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


def stable_classes(element: Node) -> list[str]:
    """The element's classes usable in a selector, meaningful ones first."""
    found = []
    for name in (attr(element, "class") or "").split():
        if (_IDENT.match(name) and not _UTILITY.match(name) and not _GENERATED.search(name)
                and name not in found):
            found.append(name)
    return sorted(found, key=lambda name: (not MEANINGFUL.search(name), len(name)))


def stable_id(element: Node) -> str | None:
    ident = (attr(element, "id") or "").strip()
    if ident and _IDENT.match(ident) and not _GENERATED.search(ident):
        return ident
    return None


def descriptors(element: Node) -> list[str]:
    """The ways to name one element by itself, best first: `tag.class`, `.class`, `tag`."""
    tag = tag_name(element)
    named = []
    for name in stable_classes(element)[:3]:
        named += [f"{tag}.{name}", f".{name}"]
    return [*named, tag]


def descriptor(element: Node) -> str:
    """The one best name of an element in a path: `#id`, `tag.class` or `tag`."""
    ident = stable_id(element)
    if ident:
        return f"#{ident}"
    classes = stable_classes(element)
    return f"{tag_name(element)}.{classes[0]}" if classes else tag_name(element)


def is_heading(element: Node) -> bool:
    return tag_name(element) in _HEADINGS


class Tree:
    """A page's root element and its elements' parents, found once."""

    def __init__(self, root: Node) -> None:
        self.root = root
        self.elements = find_all(root)
        self._parent: dict[int, Node] = {}
        self._children: dict[int, list[Node]] = {}
        for element in self.elements:
            parent = next(ancestors(element), None)
            if parent is not None:
                self._parent[node_key(element)] = parent
                self._children.setdefault(node_key(parent), []).append(element)

    def parent(self, element: Node) -> Node | None:
        return self._parent.get(node_key(element))

    def path_between(self, top: Node, element: Node) -> list[Node]:
        """The elements from just below `top` down to `element` (inclusive)."""
        path = [element]
        key = node_key(top)
        for parent in ancestors(element):
            if node_key(parent) == key:
                return list(reversed(path))
            path.append(parent)
        return list(reversed(path))

    def selects_exactly(self, css: str, wanted: Iterable[Node],
                        allowed: Iterable[Node] = ()) -> bool:
        """Whether `css` matches every wanted element and nothing else but `allowed` ones."""
        wanted_keys = {node_key(e) for e in wanted}
        ok_keys = wanted_keys | {node_key(e) for e in allowed}
        try:
            found = {node_key(e) for e in select_all(self.root, css)}
        except ExtractError:          # a candidate lexbor cannot compile is no candidate
            return False
        return wanted_keys <= found and found <= ok_keys

    def children(self, element: Node) -> list[Node]:
        return self._children.get(node_key(element), [])

    def previous_sibling(self, element: Node) -> Node | None:
        parent = self.parent(element)
        siblings = self.children(parent) if parent is not None else []
        index = next((i for i, s in enumerate(siblings) if same(s, element)), 0)
        return siblings[index - 1] if index > 0 else None

    def item_selectors(self, members: Sequence[Node], allowed: Sequence[Node],
                       anchor: Node | None = None) -> list[str]:
        """Selectors that match exactly `members` (and perhaps some of `allowed`, elements
        the extractor skips anyway: rows without a link), shortest-stable first. `anchor`,
        the first member's title link, gives the card's shape when names are not enough
        (`tr:has(> td + td > a)`: rows whose second cell holds the link)."""
        first = members[0]
        tag = tag_name(first)
        common = set(stable_classes(first))
        for member in members[1:]:
            common &= set(stable_classes(member))
        ordered = [c for c in stable_classes(first) if c in common]
        own = [f"{tag}.{name}" for name in ordered] + [f".{name}" for name in ordered] + [tag]
        found = [css for css in own if self.selects_exactly(css, members, allowed)]
        if not found:
            found = self._below_ancestors(own[0], first, members, allowed)
        if not found and anchor is not None:
            for shape in self._shapes(first, anchor):
                css = f"{tag}{shape}"
                if self.selects_exactly(css, members, allowed):
                    return [css]
                found = self._below_ancestors(css, first, members, allowed)
                if found:
                    break
        return found

    def _below_ancestors(self, own: str, first: Node, members: Sequence[Node],
                         allowed: Sequence[Node]) -> list[str]:
        """`own` below a distinctive ancestor: `#main article`, `ul.news > li`."""
        found: list[str] = []
        parent = self.parent(first)
        chain: list[str] = [own]
        steps = 0
        while parent is not None and steps < 8 and len(found) < 2:
            steps += 1
            name = descriptor(parent)
            distinctive = name != tag_name(parent)
            for css in (f"{name} {own}" if distinctive or len(chain) == 1 else "",
                        f"{name} > {' > '.join(chain)}"):
                if css and css not in found and self.selects_exactly(css, members, allowed):
                    found.append(css)
            chain.insert(0, name)
            if name.startswith("#") or tag_name(parent) in ("body", "html"):
                break
            parent = self.parent(parent)
        return found

    def _shapes(self, card: Node, anchor: Node) -> list[str]:
        """`:has()` conditions that describe where the card holds its link."""
        path = self.path_between(card, anchor)
        if not path or not same(path[-1], anchor) or same(anchor, card):
            return []
        tags = [tag_name(e) for e in path]
        rest = "".join(f" > {t}" for t in tags[1:])
        siblings = self.children(card)
        index = next((i for i, s in enumerate(siblings) if same(s, path[0])), 0)
        before = [tag_name(s) for s in siblings[:index]]
        shapes = [f":has(> {tags[0]}{rest})"]
        if before:
            shapes.append(f":has(> {' + '.join([*before, tags[0]])}{rest})")
        return shapes
