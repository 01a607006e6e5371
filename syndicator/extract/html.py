"""The HTML adapter: the one module that imports selectolax (lexbor's HTML5 parser and CSS
engine). Other extract modules get `Node`s from here and walk them only through these functions.

Why not BeautifulSoup: a 140 KB page costs 30–40 ms to turn into a bs4 tree, and soupsieve's
pure-Python matching as much again; lexbor parses it in well under 1 ms and matches a class
selector in tens of microseconds (bench/README.md has the numbers, lxml's too). The selector
API stays CSS.

Selectors in the config are plain CSS with an optional final `@attr`:

    "h2.title"          the text of the first match (whitespace collapsed)
    "a.more@href"       the `href` attribute of the first match that has one
    "@href"             the attribute of the node itself (useful when `item` is an <a>)
    'a[href*="@"]'      no split: the `@` is inside brackets

Nodes are proxies: two proxies of one element are different Python objects, so identity is
compared with `same()`/`node_key()`, never `is`. A node lives as long as its document.
"""

from __future__ import annotations

import functools
import html as html_lib
import re
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from syndicator.errors import ExtractError, InvalidSelector
from syndicator.extract.nesting import bounded_nesting
from syndicator.model import Page
from syndicator.sanitise import hidden_by_style, resolve_url, tiny_length

__all__ = [
    "Node",
    "Selector",
    "absolute_url",
    "ancestors",
    "attr",
    "base_url",
    "collapse",
    "compile_selector",
    "drop_tracking_pixels",
    "element_attr",
    "element_image",
    "element_text",
    "find_all",
    "inner_html",
    "is_inside",
    "node_key",
    "outer_html",
    "parse_html",
    "raw_text",
    "remove",
    "remove_selectors",
    "remove_where",
    "same",
    "select_all",
    "select_one",
    "select_value",
    "select_values",
    "set_attr",
    "split_selector",
    "tag_name",
]

Node = LexborNode

_XML_DECL = re.compile(r"^\ufeff?\s*<\?xml[^>]*\?>", re.IGNORECASE)
_UTF8_BOM = b"\xef\xbb\xbf"
_XML_DECL_BYTES = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*\?>", re.IGNORECASE)
_WS = re.compile(r"\s+")
_ATTR_NAME = re.compile(r"^[A-Za-z_:][-\w:.]*$")

# Tags whose text is not content, and tags that separate words when their text is joined.
_INVISIBLE = frozenset({"script", "style", "noscript", "template", "head", "title"})
_BLOCK = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
})
# Attributes lazy-loading scripts put the real image URL in, in order of trust.
_LAZY_SRC = ("data-src", "data-lazy-src", "data-original", "data-lazy", "data-url")
_SRCSET = ("srcset", "data-srcset", "data-lazy-srcset")
_PLACEHOLDER = re.compile(r"(?:^data:|blank|spacer|placeholder|pixel|transparent|lazy[-_.]?load)",
                          re.IGNORECASE)
_BACKGROUND = re.compile(r"background(?:-image)?\s*:[^;]*url\(\s*['\"]?([^'\")]+)", re.IGNORECASE)


# --- parsing ---------------------------------------------------------------------------------

def page_markup(page: Page) -> str | bytes:
    """What to parse of a page: its bytes when they were decoded as UTF-8 (lexbor reads
    UTF-8 bytes as they are: ~0.35 ms for a 120 KB Cyrillic page, against ~0.7 ms from a str
    that it must encode to UTF-8 again), else its decoded text."""
    if not page.raw or page.encoding != "utf-8":
        return page.text
    # A BOM was dropped from the text; lexbor would keep it as a character.
    return page.raw[3:] if page.raw.startswith(_UTF8_BOM) else page.raw


def parse_html(text: str | bytes) -> Node:
    """Parse an HTML document (or fragment) into its root <html> element; never raises.

    `text` was decoded once by the fetcher, or is UTF-8 bytes (page_markup); lexbor reads
    both as UTF-8, so a `<meta charset>` in the page cannot make it decode the bytes a second
    time (invalid bytes become U+FFFD, as in the decoded text). Parsing is HTML5 (what a
    browser builds), with elements nested at most `nesting.MAX_NESTING` deep (a deeper page
    is cut there: parsing time grows with the square of the depth).
    """
    if isinstance(text, bytes):
        data = _XML_DECL_BYTES.sub(b"", text, count=1)
        if b"<" in data:
            return _root(data)
        text = data.decode("utf-8", errors="replace")
    text = _XML_DECL.sub("", text, count=1)
    if "<" not in text:
        text = f"<p>{html_lib.escape(text, quote=False)}</p>" if text.strip() else ""
    return _root(text)


def _root(markup: str | bytes) -> Node:
    root = LexborHTMLParser(bounded_nesting(markup)).root
    if root is None:  # not seen in practice: lexbor always builds <html>
        root = LexborHTMLParser("<html></html>").root
        assert root is not None
    return root


# --- selectors -------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1024)
def split_selector(selector: str) -> tuple[str, str | None]:
    """`"css@attr"` → `("css", "attr")`; a `@` inside brackets, quotes or parens is CSS.

    Cached: the same few configured selectors are split for every card of every page
    (~100 times a listing page, ~7 µs each)."""
    at = _top_level(selector, "@")
    if not at:
        return selector.strip(), None
    attr = selector[at[-1] + 1:].strip()
    if not _ATTR_NAME.match(attr):
        return selector.strip(), None
    return selector[:at[-1]].strip(), attr


def _top_level(selector: str, wanted: str) -> list[int]:
    """Where `wanted` occurs in `selector` outside brackets, parentheses and quotes."""
    depth = 0
    quote: str | None = None
    found: list[int] = []
    escaped = False
    for index, char in enumerate(selector):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth = max(0, depth - 1)
        elif char == wanted and depth == 0:
            found.append(index)
    return found


class Selector(NamedTuple):
    """A configured selector taken apart: the CSS to match and the attribute to read (None:
    the element's text, or an image's URL)."""

    css: str
    attr: str | None


@functools.lru_cache(maxsize=1024)
def compile_selector(selector: str) -> Selector:
    """A configured selector (`css` or `css@attr`), checked by the CSS engine that runs it.

    The one home of selector checking: the extractor reads every configured selector through
    it, and `syndicator validate` (config loading with `check_selectors`) calls it on every
    one. Raises InvalidSelector naming the selector exactly as written. Cached: the same few
    selectors are read for every card of every page."""
    css, attribute = split_selector(selector)
    if attribute is not None and _top_level(css, "@"):
        raise InvalidSelector(selector, "more than one `@`; write `css@attribute`, "
                                        "e.g. `a.more@href`")
    if css:
        try:
            LexborHTMLParser("<p></p>").css(css)
        except SelectolaxError as exc:
            raise InvalidSelector(selector, _css_reason(css, exc)) from None
    return Selector(css, attribute)


# Mistakes lexbor refuses without saying where ("Can't parse CSS selector."), and the hint.
_CSS_HINTS = (
    (re.compile(r"\[\s*\["), "`[[`: an attribute test is `[name]` or `[name=value]`"),
    (re.compile(r">\s*>"), "`>>` is no combinator: `>` is a child, a space a descendant"),
    (re.compile(r"(?:^|[^\\])\.\s*\."), "`..`: a class is `.name`, one dot"),
    (re.compile(r"[{}]"), "`{` and `}` belong to style sheets, not to selectors"),
)


def _css_reason(css: str, exc: SelectolaxError) -> str:
    """Why lexbor refused the CSS part of a selector, with a hint where one is known."""
    hints = [hint for pattern, hint in _CSS_HINTS if pattern.search(css)]
    for opening, closing in ("[]", "()"):
        if css.count(opening) > css.count(closing):
            hints.append(f"`{opening}` without its `{closing}`")
    if css.count('"') % 2 or css.count("'") % 2:
        hints.append("a quote without its pair")
    if _top_level(css, "@"):
        hints.append("`@` is followed by the name of the attribute to read, e.g. `a@href`")
    return "not CSS that the extractor's engine (lexbor) can parse" + (
        f" ({exc})" if not hints else ": " + "; ".join(hints))


def select_all(node: Node, css: str) -> list[Node]:
    """All elements matching `css` under `node`, in document order; empty `css`: the node.

    Like bs4's `select`, the node itself is not among its own matches."""
    if not css:
        return [node]
    try:
        found = node.css(css)
    except SelectolaxError as exc:
        raise ExtractError(f"invalid CSS selector {css!r}: {exc}") from None
    if found and found[0].mem_id == node.mem_id:
        found = found[1:]
    return found


def select_one(node: Node, css: str) -> Node | None:
    found = select_all(node, css)
    return found[0] if found else None


def select_value(node: Node, selector: str) -> str | None:
    """The first non-empty value the selector yields under `node` (see the module doc)."""
    values = _values(node, selector, first_only=True)
    return values[0] if values else None


def select_values(node: Node, selector: str) -> list[str]:
    """Every non-empty value the selector yields under `node`, in document order."""
    return _values(node, selector, first_only=False)


def _values(node: Node, selector: str, *, first_only: bool) -> list[str]:
    css, attr = compile_selector(selector)
    values: list[str] = []
    for element in select_all(node, css):
        value = element_attr(element, attr) if attr else element_value(element)
        if value:
            values.append(value)
            if first_only:
                break
    return values


def find_all(node: Node, *tags: str) -> list[Node]:
    """Descendant elements with one of the tag names (all elements when none is given)."""
    return select_all(node, ", ".join(tags) if tags else "*")


# --- elements --------------------------------------------------------------------------------

def tag_name(element: Node) -> str:
    """The lower-case tag name; "" for text, comments and the document node."""
    return (element.tag or "") if element.is_element_node else ""


def attr(element: Node, name: str) -> str | None:
    """The attribute's value as written ("" for a bare attribute), None when absent."""
    attrs = element.attrs
    if name not in attrs:
        return None
    return attrs.get(name) or ""


def element_attr(element: Node, name: str) -> str | None:
    raw = element.attrs.get(name)
    if not raw:
        return None
    return collapse(raw) or None


def raw_text(element: Node) -> str:
    """All text inside the element, as it is (scripts' and styles' too): for <script> bodies."""
    return element.text(deep=True)


def set_attr(element: Node, name: str, value: str) -> None:
    element.attrs[name] = value


def node_key(element: Node) -> int:
    """An identity for the element, stable across proxies (for sets and dicts)."""
    return element.mem_id


def same(a: Node | None, b: Node | None) -> bool:
    return a is not None and b is not None and a.mem_id == b.mem_id


def ancestors(element: Node) -> Iterator[Node]:
    """Parent, grandparent, ... up to the <html> element (not the document node)."""
    parent = element.parent
    while parent is not None and parent.is_element_node:
        yield parent
        parent = parent.parent


def is_inside(element: Node, container: Node) -> bool:
    """Whether `container` is a proper ancestor of `element`."""
    key = container.mem_id
    return any(parent.mem_id == key for parent in ancestors(element))


def element_value(element: Node) -> str | None:
    """An element's text, except for images where the useful value is the image URL."""
    if tag_name(element) == "img":
        return element_image(element)
    return element_text(element) or None


# --- text and images -------------------------------------------------------------------------

def collapse(text: str) -> str:
    return _WS.sub(" ", text).strip()


def element_text(node: Node) -> str:
    """Visible text with whitespace collapsed; block elements and <br> separate words."""
    parts: list[str] = []
    # An explicit stack, not recursion: hostile markup can nest thousands of levels deep.
    # Items are nodes to open, or strings (a closing block separator) to emit.
    stack: list[Node | str] = [node]
    key = node.mem_id
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
        elif item.is_text_node:
            parts.append(item.text_content or "")
        elif item.is_element_node:
            name = item.tag or ""
            if name in _INVISIBLE and item.mem_id != key:
                continue
            children: list[Node | str] = list(item.iter(include_text=True))
            if name in _BLOCK:
                parts.append(" ")
                children.append(" ")
            stack.extend(reversed(children))
        # comments, doctype: no text
    return collapse("".join(parts))


def element_image(element: Node) -> str | None:
    """The image URL of an element: an <img> (lazy-loading aware), <picture>/<source>, an
    element holding an <img>, or an inline `background-image`. Relative as found."""
    name = tag_name(element)
    img = element if name == "img" else select_one(element, "img")
    if img is not None and not _is_pixel(img):
        url = _img_url(img)
        if url:
            return url
    source = element if name == "source" else select_one(element, "source")
    if source is not None:
        url = _first_srcset(source)
        if url:
            return url
    for candidate in (element, *select_all(element, "[style]")):
        match = _BACKGROUND.search(candidate.attrs.get("style") or "")
        if match:
            return match.group(1).strip()
    return None


def _img_url(img: Node) -> str | None:
    src = collapse(img.attrs.get("src") or "")
    if src and not _PLACEHOLDER.search(src):
        return src
    for name in _LAZY_SRC:
        value = collapse(img.attrs.get(name) or "")
        if value and not value.startswith("data:"):
            return value
    return _first_srcset(img) or (src if src and not src.startswith("data:") else None)


def _first_srcset(element: Node) -> str | None:
    for name in _SRCSET:
        value = (element.attrs.get(name) or "").strip()
        if value:
            first = value.split(",")[0].strip().split()
            if first and not first[0].startswith("data:"):
                return first[0]
    return None


# --- URLs ------------------------------------------------------------------------------------

def base_url(root: Node, page_url: str) -> str:
    """The URL relative links resolve against: `<base href>` (itself resolved) or the page."""
    for base in select_all(root, "base[href]"):
        href = collapse(base.attrs.get("href") or "")
        if href:
            try:
                resolved = resolve_url(page_url, href)
            except ValueError:
                break
            if urlsplit(resolved).scheme in ("http", "https"):
                return resolved
        break
    return page_url


def absolute_url(base: str, url: str | None, *, anchors: bool = False) -> str | None:
    """An absolute http(s) URL, or None for empty, `javascript:`, `mailto:`, `#` links;
    resolved as a browser does (sanitise.resolve_url: a backslash is a slash). With
    `anchors` (an item's link), `#name` is that anchor of the base page: a story on the
    page itself (a single-page site, a weblog's day page); a bare `#` is still None."""
    if not url:
        return None
    url = url.strip()
    if not url or url == "#" or (url.startswith("#") and not anchors):
        return None
    try:
        joined = resolve_url(base, url)
        scheme = urlsplit(joined).scheme
    except ValueError:  # e.g. an invalid IPv6 literal in a hostile href
        return None
    return joined if scheme in ("http", "https") else None


# --- cleaning and serialising ----------------------------------------------------------------

def remove(element: Node) -> None:
    """Take the element (and everything in it) out of the tree; the text after it stays.

    The subtree is only detached (its memory goes with the document), so proxies of nodes
    inside it stay valid: they are simply no longer inside the document."""
    if element.parent is not None:
        element.decompose(recursive=False)


def remove_selectors(node: Node, selectors: Iterable[str]) -> int:
    """Remove every element matching any of the CSS selectors; returns how many went."""
    removed = 0
    for selector in selectors:
        css, _attr = compile_selector(selector)
        if not css:
            continue
        for element in select_all(node, css):
            # A match nested in an already removed match is gone with its ancestor.
            if not is_inside(element, node):
                continue
            remove(element)
            removed += 1
    return removed


def remove_where(node: Node, matches: Callable[[Node], bool], *tags: str) -> int:
    """Remove the descendants (of the given tags) for which `matches` is true."""
    doomed = [element for element in find_all(node, *tags) if matches(element)]
    for element in doomed:
        remove(element)
    return len(doomed)


def drop_tracking_pixels(node: Node) -> int:
    """Remove 1×1 (or 0-sized) images: analytics beacons, not content. Returns how many."""
    return remove_where(node, _is_pixel, "img")


def _is_pixel(img: Node) -> bool:
    """A tracking pixel or a hidden image, as sanitise.py judges one in content."""
    attrs = img.attrs
    return ("hidden" in attrs or tiny_length(attrs.get("width"))
            or tiny_length(attrs.get("height")) or hidden_by_style(attrs.get("style") or ""))


def outer_html(element: Node) -> str:
    """The element's markup."""
    return element.html or ""


def inner_html(node: Node) -> str:
    return (node.inner_html or "").strip()
