"""The HTML adapter: the one module that imports BeautifulSoup (lxml parser, soupsieve CSS).
Other extract modules take `BeautifulSoup` / `Tag` from here and walk the trees it makes.

Selectors in the config are plain CSS with an optional final `@attr`:

    "h2.title"          the text of the first match (whitespace collapsed)
    "a.more@href"       the `href` attribute of the first match that has one
    "@href"             the attribute of the node itself (useful when `item` is an <a>)
    'a[href*="@"]'      no split: the `@` is inside brackets
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit

import soupsieve
from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString, PageElement

from syndicator.errors import ExtractError

__all__ = [
    "BeautifulSoup",
    "Tag",
    "absolute_url",
    "base_url",
    "collapse",
    "drop_tracking_pixels",
    "element_attr",
    "element_image",
    "element_text",
    "inner_html",
    "parse_html",
    "remove_selectors",
    "select_all",
    "select_one",
    "select_value",
    "select_values",
    "selector_error",
    "split_selector",
]

_XML_DECL = re.compile(r"^\ufeff?\s*<\?xml[^>]*\?>", re.IGNORECASE)
_WS = re.compile(r"\s+")
_ATTR_NAME = re.compile(r"^[A-Za-z_:][-\w:.]*$")
_PX = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:px)?\s*$", re.IGNORECASE)

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


def parse_html(text: str) -> BeautifulSoup:
    """Parse an HTML document (or fragment) with lxml; never raises on malformed markup."""
    # An XML declaration in front of XHTML makes bs4 warn (and lxml ignores it anyway); text
    # without any tag makes bs4 warn that it "looks like a filename". Avoid both warnings.
    text = _XML_DECL.sub("", text, count=1)
    if "<" not in text:
        text = f"<p>{html_lib.escape(text, quote=False)}</p>" if text.strip() else "<html></html>"
    return BeautifulSoup(text, "lxml")


# --- selectors -------------------------------------------------------------------------------

def split_selector(selector: str) -> tuple[str, str | None]:
    """`"css@attr"` → `("css", "attr")`; a `@` inside brackets, quotes or parens is CSS."""
    depth = 0
    quote: str | None = None
    split_at = -1
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
        elif char == "@" and depth == 0:
            split_at = index
    if split_at < 0:
        return selector.strip(), None
    attr = selector[split_at + 1:].strip()
    if not _ATTR_NAME.match(attr):
        return selector.strip(), None
    return selector[:split_at].strip(), attr


def selector_error(selector: str) -> str | None:
    """Why a configured selector is unusable, or None when it compiles (for config checks)."""
    css, _attr = split_selector(selector)
    if not css:
        return None
    try:
        soupsieve.compile(css)
    except soupsieve.SelectorSyntaxError as exc:
        return str(exc).splitlines()[0]
    return None


def select_all(node: Tag, css: str) -> list[Tag]:
    """All elements matching `css` under `node`; an empty `css` means the node itself."""
    if not css:
        return [node]
    try:
        return list(node.select(css))
    except soupsieve.SelectorSyntaxError as exc:
        raise ExtractError(f"invalid CSS selector {css!r}: {str(exc).splitlines()[0]}") from None


def select_one(node: Tag, css: str) -> Tag | None:
    found = select_all(node, css)
    return found[0] if found else None


def select_value(node: Tag, selector: str) -> str | None:
    """The first non-empty value the selector yields under `node` (see the module doc)."""
    values = _values(node, selector, first_only=True)
    return values[0] if values else None


def select_values(node: Tag, selector: str) -> list[str]:
    """Every non-empty value the selector yields under `node`, in document order."""
    return _values(node, selector, first_only=False)


def _values(node: Tag, selector: str, *, first_only: bool) -> list[str]:
    css, attr = split_selector(selector)
    values: list[str] = []
    for element in select_all(node, css):
        value = element_attr(element, attr) if attr else element_value(element)
        if value:
            values.append(value)
            if first_only:
                break
    return values


def element_attr(element: Tag, name: str) -> str | None:
    raw = element.get(name)
    if raw is None:
        return None
    text = " ".join(raw) if isinstance(raw, list) else str(raw)
    return collapse(text) or None


def element_value(element: Tag) -> str | None:
    """An element's text, except for images where the useful value is the image URL."""
    if element.name == "img":
        return element_image(element)
    return element_text(element) or None


# --- text and images -------------------------------------------------------------------------

def collapse(text: str) -> str:
    return _WS.sub(" ", text).strip()


def element_text(node: Tag) -> str:
    """Visible text with whitespace collapsed; block elements and <br> separate words."""
    parts: list[str] = []
    # An explicit stack, not recursion: hostile markup can nest thousands of levels deep.
    stack: list[PageElement | str] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and not isinstance(item, NavigableString):
            parts.append(item)
        elif isinstance(item, Tag):
            if item is not node and item.name in _INVISIBLE:
                continue
            block = item.name in _BLOCK
            children: list[PageElement | str] = list(item.contents)
            if block:
                children = [" ", *children, " "]
            stack.extend(reversed(children))
        elif type(item) is NavigableString:
            # Comment, CData, Doctype, ... subclass NavigableString; keep plain text only.
            parts.append(str(item))
    return collapse("".join(parts))


def element_image(element: Tag) -> str | None:
    """The image URL of an element: an <img> (lazy-loading aware), <picture>/<source>, an
    element holding an <img>, or an inline `background-image`. Relative as found."""
    img = element if element.name == "img" else element.find("img")
    if isinstance(img, Tag):
        url = _img_url(img)
        if url:
            return url
    source = element if element.name == "source" else element.find("source")
    if isinstance(source, Tag):
        url = _first_srcset(source)
        if url:
            return url
    for candidate in (element, *element.find_all(style=True)):
        if isinstance(candidate, Tag):
            match = re.search(r"background(?:-image)?\s*:[^;]*url\(\s*['\"]?([^'\")]+)",
                              str(candidate.get("style") or ""), re.IGNORECASE)
            if match:
                return match.group(1).strip()
    return None


def _img_url(img: Tag) -> str | None:
    src = collapse(str(img.get("src") or ""))
    if src and not _PLACEHOLDER.search(src):
        return src
    for name in _LAZY_SRC:
        value = collapse(str(img.get(name) or ""))
        if value and not value.startswith("data:"):
            return value
    return _first_srcset(img) or (src if src and not src.startswith("data:") else None)


def _first_srcset(element: Tag) -> str | None:
    for name in _SRCSET:
        value = str(element.get(name) or "").strip()
        if value:
            first = value.split(",")[0].strip().split()
            if first and not first[0].startswith("data:"):
                return first[0]
    return None


# --- URLs ------------------------------------------------------------------------------------

def base_url(soup: BeautifulSoup, page_url: str) -> str:
    """The URL relative links resolve against: `<base href>` (itself resolved) or the page."""
    base = soup.find("base", href=True)
    if isinstance(base, Tag):
        href = collapse(str(base.get("href") or ""))
        if href:
            resolved = urljoin(page_url, href)
            if urlsplit(resolved).scheme in ("http", "https"):
                return resolved
    return page_url


def absolute_url(base: str, url: str | None) -> str | None:
    """An absolute http(s) URL, or None for empty, `javascript:`, `mailto:`, `#` links."""
    if not url:
        return None
    url = url.strip()
    if not url or url.startswith("#"):
        return None
    try:
        joined = urljoin(base, url)
        scheme = urlsplit(joined).scheme
    except ValueError:  # e.g. an invalid IPv6 literal in a hostile href
        return None
    return joined if scheme in ("http", "https") else None


# --- cleaning --------------------------------------------------------------------------------

def remove_selectors(node: Tag, selectors: Iterable[str]) -> int:
    """Remove every element matching any of the CSS selectors; returns how many went."""
    removed = 0
    for selector in selectors:
        css, _attr = split_selector(selector)
        if not css:
            continue
        for element in select_all(node, css):
            # A match nested in an already removed match is gone with its ancestor.
            if element.decomposed or element is node:
                continue
            element.decompose()
            removed += 1
    return removed


def drop_tracking_pixels(node: Tag) -> int:
    """Remove 1×1 (or 0-sized) images: analytics beacons, not content. Returns how many."""
    pixels = [img for img in node.find_all("img") if isinstance(img, Tag) and _is_pixel(img)]
    for img in pixels:
        img.decompose()
    return len(pixels)


def _is_pixel(img: Tag) -> bool:
    sizes = [str(img.get("width") or ""), str(img.get("height") or "")]
    style = str(img.get("style") or "")
    for name in ("width", "height"):
        match = re.search(rf"(?:^|;|\s){name}\s*:\s*([^;]+)", style, re.IGNORECASE)
        if match:
            sizes.append(match.group(1))
    for size in sizes:
        match = _PX.match(size)
        if match and float(match.group(1)) <= 1:
            return True
    return False


def inner_html(node: Tag) -> str:
    return "".join(str(child) for child in node.contents).strip()
