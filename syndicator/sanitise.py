"""Sanitising: hostile HTML → allow-listed HTML; markup → plain text. Pure, no I/O.

The only user of nh3.

    sanitize_html / sanitize_content   allow-listed HTML with absolute URLs, no pixels
    clean_text                         tags stripped, entities decoded, whitespace collapsed
    absolute_http_url                  a URL resolved against a page if it is http(s)
    tiny_length / tiny_file            sizes that mark an image as a tracking pixel

A tracking pixel is an image that is not meant to be seen: one whose width or height, in
any unit, as an attribute (read as a browser reads it: "1x" is 1) or in its inline style,
is at most `PIXEL_MAX` CSS pixels; one with the `hidden` attribute, `display:none`,
`visibility:hidden`, `opacity:0`, `zoom:0`, a transform that scales it away or a clip that
cuts it away, or inside an element hidden so (which goes with all it holds); or (for
enclosures) a file too small to be a picture. Pixels are dropped, and so is an item image
that the content's own markup shows to be one.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from urllib.parse import urljoin, urlsplit

from syndicator.uris import uri

# What a browser drops from a URL attribute (WHATWG URL parsing): tabs and newlines anywhere,
# controls and spaces at either end. Dropping them first defeats obfuscations like
# "jav\tascript:" before the scheme is checked; a space inside ("/a b.jpg") is part of the
# URL (published percent-encoded, normalise.uri), and cannot be inside a scheme.
URL_JUNK = re.compile(r"[\t\n\r]+|^[\x00-\x20\x7f]+|[\x00-\x20\x7f]+$")
_HTTP_SCHEMES = frozenset({"http", "https"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


def resolve_url(base_url: str, value: str) -> str:
    """`value` (a link from content) resolved against `base_url` as a browser does for http(s)
    (WHATWG URL parsing, where urljoin differs): tabs and newlines dropped anywhere, controls
    and spaces at either end, and a backslash before the query read as a slash. So
    `http://a:1\\@b:2/` is host `a` port 1, as browsers and urllib3 read it, not `b` as
    urlsplit would: what a link names is where the fetcher connects (fetchpolicy.py).
    May raise ValueError (a broken IPv6 literal)."""
    cleaned = URL_JUNK.sub("", value)
    scheme = _SCHEME.match(cleaned)
    special = (scheme.group(1) if scheme else urlsplit(base_url).scheme).lower()
    if special in _HTTP_SCHEMES and "\\" in cleaned:
        end = min((i for i in (cleaned.find("?"), cleaned.find("#")) if i >= 0),
                  default=len(cleaned))
        cleaned = cleaned[:end].replace("\\", "/") + cleaned[end:]
    return urljoin(base_url, cleaned) if cleaned else ""


def absolute_http_url(base_url: str, value: str, *, allow_mailto: bool = False) -> str | None:
    """`value` resolved against `base_url` (`resolve_url`) if the result is http(s) (or
    mailto), else None; written as a URI (uris.uri)."""
    if not URL_JUNK.sub("", value):
        return None
    try:
        joined = resolve_url(base_url, value)
        scheme = urlsplit(joined).scheme.lower()
    except ValueError:                                 # e.g. a broken IPv6 literal
        return None
    if scheme in _HTTP_SCHEMES or (allow_mailto and scheme == "mailto"):
        return uri(joined)
    return None


# --- sizes -----------------------------------------------------------------------------------

PIXEL_MAX = 2.0          # CSS px: an image this narrow or this low shows nothing
# A 1×1 GIF is 35-43 bytes, a 1×1 PNG about 70: no real picture is this small. Feeds write
# length 0 or 1 when they do not know it, so those say nothing.
_PIXEL_FILE_MAX = 200
# CSS px per unit; font-relative units at the 16 px default. % and viewport units depend on
# the container, so they say nothing about the image.
_UNITS = {"": 1.0, "px": 1.0, "pt": 4 / 3, "pc": 16.0, "in": 96.0, "cm": 96 / 2.54,
          "mm": 96 / 25.4, "q": 96 / 101.6, "em": 16.0, "rem": 16.0, "ex": 8.0, "ch": 8.0}
_LENGTH = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*([a-z]*)\s*"
                     r"(?:!\s*important\s*)?$", re.IGNORECASE)
# HTML's rules for parsing dimension values: leading digits (and a fraction), the rest
# ignored, so a browser draws width="1x", "1e0", "1,0" or "1 0" one pixel wide.
_DIMENSION = re.compile(r"\s*(\d+(?:\.\d+)?)(.?)")
_CSS_FUNCTION = re.compile(r"\s*calc\(\s*(.*?)\s*\)\s*$", re.IGNORECASE)


def length_px(value: object) -> float | None:
    """A width or height (an HTML attribute, a CSS length, a JSON number) in CSS px, or None
    when it is missing or relative. A CSS `calc()` of one length is that length; text after
    a number that is not a unit is read as a browser reads a dimension attribute."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str) or len(value) > 40:
        return None
    value = value.strip()                               # any Unicode space, NBSP included
    function = _CSS_FUNCTION.match(value)
    if function:
        value = function.group(1)
    match = _LENGTH.match(value)
    factor = _UNITS.get(match.group(2).lower()) if match else None
    if match is not None and factor is not None:
        return float(match.group(1)) * factor
    dimension = _DIMENSION.match(value)
    if dimension is None or dimension.group(2) in ("%", "v", "V"):
        return None                                     # relative to the container or view
    return float(dimension.group(1))


def tiny_length(value: object) -> bool:
    """Whether a declared width or height marks a tracking pixel."""
    size = length_px(value)
    return size is not None and size <= PIXEL_MAX


def tiny_file(length: object) -> bool:
    """Whether an enclosure's declared length (bytes) is too small for a real picture."""
    size = length_px(length) if isinstance(length, str | int) else None
    return size is not None and 1 < size <= _PIXEL_FILE_MAX


_SCALE = re.compile(r"scale[xyz3d]*\(([^)]*)\)")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_CLIP_AWAY = re.compile(r"inset\(\s*(?:[5-9]\d|\d{3,})(?:\.\d+)?%|(?:circle|ellipse)\(\s*0")


def hidden_by_style(style: str) -> bool:
    """Whether an inline style hides an element or shrinks it to a pixel."""
    for declaration in style.split(";"):
        name, _, value = declaration.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name in ("width", "height", "max-width", "max-height") and tiny_length(value):
            return True
        value = value.removesuffix("!important").strip()
        opacity = length_px(value) if name in ("opacity", "zoom") else None
        if ((name == "display" and value == "none")
                or (name == "visibility" and value in ("hidden", "collapse"))
                or (opacity is not None and opacity <= 0.01)
                or (name == "zoom" and value.startswith("0%"))
                or (name == "transform" and _scaled_away(value))
                or (name == "scale" and _scaled_away(f"scale({value})"))
                or (name in ("clip-path", "clip") and (_CLIP_AWAY.search(value)
                                                       or value.startswith("rect(0")))):
            return True
    return False


def _scaled_away(transform: str) -> bool:
    """Whether a CSS transform scales to (almost) nothing in some direction."""
    return any(abs(float(factor)) <= 0.01 for arguments in _SCALE.findall(transform)
               for factor in _NUMBER.findall(arguments))


# --- HTML ------------------------------------------------------------------------------------

_ALLOWED_TAGS = frozenset({
    "p", "br", "a", "b", "strong", "i", "em", "u", "s", "blockquote", "q", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "figure", "figcaption", "img", "table", "thead",
    "tbody", "tr", "th", "td", "pre", "code", "hr", "sub", "sup", "span", "div",
})
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "srcset", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
# Read to find hidden elements, never written out: `style` survives the filter only as the
# marker below, and an element with either attribute is dropped with what it holds (an
# image among them: a pixel).
_VISIBILITY = {"style", "hidden"}
_HIDDEN_MARK = "hidden"
_HIDDEN_OPEN = re.compile(r'<([a-z][a-z0-9]*)\b[^>]*?\s(?:hidden="[^"]*"|style="hidden")[^>]*>')
_VOID_TAGS = frozenset({"br", "hr", "img"})
# Not published, but kept through nh3 so that a hidden one is seen (and dropped with its
# content); the rest are unwrapped afterwards, as nh3 unwraps any other tag it does not allow.
_UNWRAPPED_TAGS = frozenset({
    "section", "article", "aside", "header", "footer", "nav", "main", "center", "font",
    "form", "label", "fieldset", "legend", "details", "summary", "dl", "dt", "dd", "small",
    "big", "abbr", "cite", "time", "mark", "address", "caption", "ins", "del", "kbd", "samp",
    "var", "dfn", "bdi", "bdo", "data", "picture",
})
_UNWRAPPED_TAG = re.compile(rf"</?(?:{'|'.join(sorted(_UNWRAPPED_TAGS))})\b[^>]*>")
# Dropped with everything inside. Other unknown tags (form, picture, font, ...) are
# unwrapped: their text and allowed children stay (ASP.NET pages wrap all in <form>).
_DROP_WITH_CONTENT = frozenset({
    "script", "style", "iframe", "object", "embed", "svg", "math", "template", "title",
    "textarea", "select", "button", "frame", "frameset", "applet", "head",
})
# Lazy-loading sites put the real <img> in <noscript>, which the parser would keep as escaped
# text: the noscript tags are removed first so that their content is parsed and sanitised.
_NOSCRIPT = re.compile(r"</?noscript\b[^>]*>", re.I)
_IMG_TAG = re.compile(r"""<img\b(?:[^>"']|"[^"]*"|'[^']*')*>""")
_ATTRIBUTE = re.compile(r"""\s([a-zA-Z-]+)="([^"]*)\"""")
# <a> cannot nest (the HTML parser closes the open one), so the next </a> is the match.
_LINK = re.compile(r"""(<a\b(?:[^>"']|"[^"]*"|'[^']*')*>)(.*?)</a>""", re.S)
_H1 = re.compile(r"<(/?)h1>")


@dataclass(frozen=True)
class Sanitised:
    """Sanitised HTML and the (absolute) addresses of the tracking pixels taken out of it."""

    html: str
    pixels: frozenset[str] = frozenset()


def sanitize_html(html: str, *, base_url: str) -> str:
    """Allow-listed HTML with absolute http(s) URLs, no scripts, no tracking pixels."""
    return sanitize_content(html, base_url=base_url).html


def sanitize_content(html: str, *, base_url: str) -> Sanitised:
    """sanitize_html, also naming the pixels it removed (so the item image can skip them)."""
    if not html or not html.strip():
        return Sanitised("")
    import nh3

    attributes: dict[str, set[str]] = {"*": set(_VISIBILITY)}
    attributes.update((tag, set(names) | _VISIBILITY)
                      for tag, names in _ALLOWED_ATTRIBUTES.items())
    cleaned = nh3.clean(
        _NOSCRIPT.sub("", html),
        tags=set(_ALLOWED_TAGS | _UNWRAPPED_TAGS),
        clean_content_tags=set(_DROP_WITH_CONTENT),
        attributes=attributes,
        attribute_filter=partial(_filter_attribute, base_url),
        url_schemes={"http", "https", "mailto"},
        strip_comments=True,
        link_rel="noopener noreferrer",
    )
    # nh3's output is canonical (attributes double-quoted; "<", ">" and '"' escaped in text
    # and attribute values), so these regular expressions only ever see real tags.
    pixels: set[str] = set()
    if _HIDDEN_OPEN.search(cleaned):
        cleaned = _drop_hidden_elements(cleaned, pixels.add)
    cleaned = _UNWRAPPED_TAG.sub("", cleaned)
    cleaned = _IMG_TAG.sub(partial(_keep_image, pixels.add), cleaned)
    cleaned = _LINK.sub(_keep_link, cleaned)
    cleaned = _H1.sub(r"<\1h2>", cleaned)            # the feed item title is the only h1
    return Sanitised(cleaned.strip(), frozenset(pixels))


def _drop_hidden_elements(html: str, pixel: Callable[[str], None]) -> str:
    """Elements the page hides (`hidden`, `display:none`, ...) go with all they hold; the
    images among them are pixels. nh3's output is well nested, so counting the hidden tag's
    own name finds its end."""
    kept: list[str] = []
    position = 0
    while (opening := _HIDDEN_OPEN.search(html, position)) is not None:
        tag = opening.group(1)
        if tag == "img":                              # _keep_image drops it and notes it
            kept.append(html[position:opening.end()])
            position = opening.end()
            continue
        kept.append(html[position:opening.start()])
        end = opening.end()
        if tag not in _VOID_TAGS:
            depth = 1
            for found in re.finditer(rf"<(/?){tag}\b[^>]*>", html[end:]):
                depth += -1 if found.group(1) else 1
                if depth == 0:
                    end += found.end()
                    break
            else:
                end = len(html)
        for image in _IMG_TAG.finditer(html, opening.end(), end):
            src = dict(_ATTRIBUTE.findall(image.group(0))).get("src")
            if src:
                pixel(html_lib.unescape(src))
        position = end
    kept.append(html[position:])
    return "".join(kept)


def _filter_attribute(base_url: str, tag: str, attribute: str, value: str) -> str | None:
    """Absolutise URLs (nh3 checks schemes before this runs, so check again after); reduce
    an image's style to a mark of whether it hides the image."""
    if attribute in ("href", "src"):
        return absolute_http_url(base_url, value, allow_mailto=attribute == "href")
    if attribute == "srcset":
        return _absolute_srcset(base_url, value)
    if attribute == "style":
        return _HIDDEN_MARK if hidden_by_style(value) else None
    return value


def _absolute_srcset(base_url: str, value: str) -> str | None:
    candidates = []
    for url, descriptor in _split_srcset(value):
        absolute = absolute_http_url(base_url, url)
        if absolute is not None:
            candidates.append(f"{absolute} {descriptor}".strip())
    return ", ".join(candidates) or None


def _split_srcset(value: str) -> list[tuple[str, str]]:
    """srcset candidates as (url, descriptor); URLs may contain commas (e.g. "w_100,h_50")."""
    result = []
    for match in re.finditer(r"[\s,]*([^\s,][^\s]*)([^,]*)", value):
        url, descriptor = match.group(1), match.group(2).strip()
        if url.endswith(","):                         # "a.jpg, b.jpg": no descriptor
            url, descriptor = url.rstrip(","), ""
        result.append((url, descriptor))
    return result


def _keep_image(pixel: Callable[[str], None], match: re.Match[str]) -> str:
    attrs = dict(_ATTRIBUTE.findall(match.group(0)))
    src = attrs.get("src")
    if not src:
        return ""
    width, height = (html_lib.unescape(attrs.get(name, "")) for name in ("width", "height"))
    if "hidden" in attrs or "style" in attrs or tiny_length(width) or tiny_length(height):
        pixel(html_lib.unescape(src))                 # a tracking pixel, or not meant to show
        return ""
    return match.group(0)


def _keep_link(match: re.Match[str]) -> str:
    """Links that lost their href (unsafe scheme) are unwrapped; empty links dropped."""
    opening, inner = match.group(1), match.group(2)
    if not inner.strip():
        return ""
    if "href" not in dict(_ATTRIBUTE.findall(opening)):
        return inner
    return match.group(0)


# --- text ------------------------------------------------------------------------------------

_BLOCK_TAG = re.compile(
    r"<(?=/?(?:p|br|div|li|ul|ol|h[1-6]|tr|td|th|table|blockquote|section|article|figure|"
    r"figcaption|pre|hr|header|footer|dd|dt)\b)", re.I)
# Tags of HTML elements (current and obsolete): markup in a title or a JSON source's text,
# unlike `<rights>` in "Statement on <rights>".
_LOOKS_LIKE_HTML = re.compile(
    r"</?(?:a|abbr|acronym|address|article|aside|audio|b|bdi|bdo|big|blink|blockquote|body|br|"
    r"button|canvas|caption|center|cite|code|col|colgroup|data|dd|del|details|dfn|dir|div|dl|"
    r"dt|em|embed|fieldset|figcaption|figure|font|footer|form|h[1-6]|head|header|hgroup|hr|"
    r"html|i|iframe|img|input|ins|kbd|label|legend|li|link|main|mark|marquee|math|menu|meta|"
    r"nav|nobr|noscript|object|ol|p|picture|pre|q|rp|rt|ruby|s|samp|script|section|small|"
    r"source|span|strike|strong|style|sub|summary|sup|svg|table|tbody|td|template|tfoot|th|"
    r"thead|time|title|tr|tt|u|ul|var|video|wbr)\b[^>]*>"
    r"|&(?:#\d+|#x[0-9a-f]+|[a-z][a-z0-9]*);",
    re.IGNORECASE,
)


def clean_text(value: str | None) -> str:
    """Tags stripped, entities decoded, whitespace collapsed.

    Text extracted from a page is already plain: a title such as `Statement on <rights>` must
    keep its angle brackets. Only text that contains real HTML tags or entities (feed titles,
    JSON-LD descriptions) goes through the HTML stripper.
    """
    if not value:
        return ""
    if not _LOOKS_LIKE_HTML.search(value):
        return " ".join(value.split())
    import nh3

    stripped = nh3.clean(_BLOCK_TAG.sub(" <", value), tags=set(),
                         clean_content_tags=set(_DROP_WITH_CONTENT | {"noscript"}))
    return " ".join(html_lib.unescape(stripped).split())
