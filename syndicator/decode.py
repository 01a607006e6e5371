"""Text from bytes: the one place a fetched body is decoded (and the only user of
charset-normalizer). Pages, feeds and sitemaps all come through here, and the parsers get
the decoded text: none of them reads an encoding declaration again.

HTML (WHATWG encoding sniffing): byte-order mark, then the Content-Type charset
(ISO-8859-1 counts as a weak hint only: servers add it by default), then `<meta charset>` /
`http-equiv` in the first 1024 bytes, then UTF-8 if the bytes are UTF-8, then detection.

XML and JSON (RFC 7303, XML 1.0 Appendix F): byte-order mark, then the Content-Type charset,
then the XML declaration (read in the UTF-16/32 form the first bytes show, if they do), then
UTF-8, then detection. A declared encoding the bytes are not valid in gives way to the next
candidate, as feedparser does (a server's default charset on a file that says otherwise);
`Decoded.problem` names what was tried when no candidate decodes the bytes cleanly.

Kept apart from fetch.py (requests, urllib3) so that a page worker process can decode the
bodies the fetching process hands it without importing the HTTP stack: decoding ~120 KB
costs ~0.2 ms, a tenth of what the fetching process spends on a page.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from syndicator.model import Body, Page

SNIFF_BYTES = 1024            # the WHATWG prescan window for <meta charset>

_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_XML_ENCODING = re.compile(r"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_XML_DECL_ENCODING = re.compile(
    r"""^(\s*<\?xml\b[^>]*?\sencoding\s*=\s*)(["'])[^"'>]*\2""", re.IGNORECASE)
# 4-byte marks first: the UTF-32LE mark FF FE 00 00 starts with the UTF-16LE one.
_BOMS = ((codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
# Where the zero bytes of an ASCII character fall in each UTF-16/32 byte order.
_ZERO_PATTERNS = {(True, True, True, False): "utf-32-be", (False, True, True, True): "utf-32-le",
                  (True, False, True, False): "utf-16-be", (False, True, False, True): "utf-16-le"}
_WIDE = frozenset({"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"})
# WHATWG encoding rules: browsers read these labels as windows-1252 (a superset).
_SUPERSEDED = {"iso8859-1": "cp1252", "ascii": "cp1252"}
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_FEED_ROOTS = ("<rss", "<feed", "<rdf:rdf", "<urlset", "<sitemapindex")


@dataclass(frozen=True)
class Decoded:
    """A body decoded once: its text, the codec used and where that choice came from."""

    text: str
    encoding: str                 # a Python codec name: "utf-8", "cp1251", "utf-16-le"…
    media: str                    # the media type without parameters
    source: str                   # "byte-order mark", "HTTP charset", "XML declaration"…
    problem: str = ""             # set when no encoding tried decoded the bytes cleanly


def decode_page(body: Body) -> Page:
    """The Page of a fetched body: its text decoded once (the bytes stay in `raw`)."""
    decoded = decode(body.raw, body.content_type)
    return Page(url=body.url, final_url=body.final_url, status=body.status, text=decoded.text,
                encoding=decoded.encoding, content_type=decoded.media,
                validators=body.validators, raw=body.raw, decode_problem=decoded.problem)


def parse_content_type(value: str | None) -> tuple[str, str | None]:
    """`Text/HTML; Charset="UTF-8"` → (`text/html`, `UTF-8`)."""
    if not value:
        return "", None
    media, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip("\"'") or None
    return media.strip().lower(), charset


def decode_body(raw: bytes, content_type: str | None) -> tuple[str, str, str]:
    """Decode a body once: (text, encoding used, media type without parameters)."""
    decoded = decode(raw, content_type)
    return decoded.text, decoded.encoding, decoded.media


def decode(raw: bytes, content_type: str | None) -> Decoded:
    """Decode a body by the rules for its kind (module docstring)."""
    media, declared = parse_content_type(content_type)
    bom, wide = _bom(raw), _wide_family(raw)
    head = _head(raw, bom, wide)
    media = media or _sniff_media(head)
    if bom is not None:
        try:
            return Decoded(raw[len(_bom_bytes(bom)):].decode(bom), bom, media, "byte-order mark")
        except UnicodeDecodeError:
            return Decoded(raw[len(_bom_bytes(bom)):].decode(bom, errors="replace"), bom, media,
                           "byte-order mark", f"the bytes are not valid {bom}, which their "
                           "byte-order mark names; read with the bad bytes replaced")
    if _xml_rules(media, head):
        return _decode_xml(raw, media, declared, head, wide)
    codec, source = _html_codec(raw, media, declared, wide)
    return Decoded(raw.decode(codec, errors="replace"), codec, media, source)


def markup(body: Body) -> str | bytes:
    """What to parse of an HTML body: its bytes when they are UTF-8 (lexbor reads UTF-8
    bytes as they are, so a page worker skips decoding ~120 KB it would only encode
    again), else the text decode_page would give. Same tree either way
    (extract.html.parse_html; tests/test_extract_bytes.py)."""
    media, declared = parse_content_type(body.content_type)
    raw = body.raw
    bom, wide = _bom(raw), _wide_family(raw)
    head = _head(raw, bom, wide)
    media = media or _sniff_media(head)
    if bom is None and not _xml_rules(media, head):
        codec, _source = _html_codec(raw, media, declared, wide)
        return raw if codec == "utf-8" else raw.decode(codec, errors="replace")
    if bom == "utf-8":
        return raw[len(codecs.BOM_UTF8):]
    return decode(raw, body.content_type).text


def xml_utf8(text: str) -> bytes:
    """Decoded XML as UTF-8 bytes whose declaration says so, for a parser that reads bytes:
    it cannot decode the text a second time by a declaration that no longer holds."""
    return _XML_DECL_ENCODING.sub(r"\1\2utf-8\2", text.lstrip("\ufeff"), count=1).encode(
        "utf-8", errors="surrogatepass")


# --- HTML ------------------------------------------------------------------------------------

def _html_codec(raw: bytes, media: str, declared: str | None,
                wide: str | None) -> tuple[str, str]:
    """Header charset, then (HTML) <meta> charset, then UTF-8 validity or detection."""
    is_html = media in _HTML_TYPES
    # Many servers add ISO-8859-1 to every HTML page by default: only a weak hint there.
    weak = is_html and declared is not None and _lookup(declared) == "iso8859-1"
    header = _codec(declared, wide)
    if header is not None and not weak:
        return header, "HTTP charset"
    match = _META_CHARSET.search(raw[:SNIFF_BYTES]) if is_html else None
    meta = _codec(match.group(1).decode("ascii", "ignore"), wide) if match else None
    if meta is not None:
        return meta, "<meta charset>"
    guessed = _guess(raw)
    if guessed is not None:
        return guessed, "detected"
    return "cp1252" if weak else "utf-8", "default"


# --- XML and JSON ----------------------------------------------------------------------------

def _xml_rules(media: str, head: str) -> bool:
    """XML and JSON media types, and feeds served as HTML, text or nothing in particular."""
    if media.endswith(("/xml", "+xml", "/json", "+json")) and media != "application/xhtml+xml":
        return True
    start = head.lstrip()
    if not start.startswith("<"):
        return False
    start = start[:512].lower()
    if _root(start).startswith(_FEED_ROOTS):
        return True
    return (media not in _HTML_TYPES and start.startswith("<?xml")
            and "<html" not in start and "<!doctype html" not in start)


def _root(start: str) -> str:
    """`start` from its root element on: the declaration, processing instructions and
    comments before it skipped."""
    for opening, closing in (("<?", "?>"), ("<!--", "-->")) * 4:
        if start.startswith(opening):
            end = start.find(closing)
            if end == -1:
                return start
            start = start[end + len(closing):].lstrip()
    return start


def _decode_xml(raw: bytes, media: str, declared: str | None, head: str,
                wide: str | None) -> Decoded:
    candidates: list[tuple[str, str]] = []
    header = _codec(declared, wide)
    if header is not None:
        candidates.append((header, "HTTP charset"))
    match = _XML_ENCODING.match(head)
    declaration = _codec(match.group(1), wide) if match else None
    if declaration is not None:
        candidates.append((declaration, "XML declaration"))
    if wide is not None:
        candidates.append((wide, "first bytes"))
    tried: list[str] = []
    for codec, source in candidates:
        if any(used.startswith(f"{codec} (") for used in tried):
            continue
        try:
            return Decoded(raw.decode(codec), codec, media, source)
        except UnicodeDecodeError:
            tried.append(f"{codec} ({source})")
    # UTF-8 (a stray bad byte allowed), then detection; UTF-16/32 bytes are what they show.
    guessed = _guess(raw) if wide is None else None
    if guessed is not None:
        return Decoded(raw.decode(guessed, errors="replace"), guessed, media, "detected")
    codec, source = candidates[0] if candidates else ("utf-8", "default")
    if wide is None:
        tried.append("UTF-8 and charset detection")
    problem = (f"the bytes are not valid in any encoding tried ({', '.join(tried)}); "
               f"read as {codec} with the bad bytes replaced")
    return Decoded(raw.decode(codec, errors="replace"), codec, media, source, problem)


# --- shared ----------------------------------------------------------------------------------

def _bom(raw: bytes) -> str | None:
    for mark, codec in _BOMS:
        if raw.startswith(mark):
            return codec
    return None


def _bom_bytes(codec: str) -> bytes:
    return next(mark for mark, name in _BOMS if name == codec)


def _wide_family(raw: bytes) -> str | None:
    """UTF-16/32 without a byte-order mark, told by where the zero bytes of the first (ASCII)
    characters fall (XML 1.0 Appendix F); None for ASCII-compatible bytes."""
    first = raw[:4]
    if len(first) < 4:
        return None
    if 0 not in first:
        return None
    return _ZERO_PATTERNS.get((first[0] == 0, first[1] == 0, first[2] == 0, first[3] == 0))


def _head(raw: bytes, bom: str | None, wide: str | None) -> str:
    """The start of the document as text, enough to read a declaration or the root."""
    codec = bom or wide
    if codec is None:
        return raw[:SNIFF_BYTES].decode("latin-1")
    start = len(_bom_bytes(codec)) if bom else 0
    return raw[start:start + 4 * SNIFF_BYTES].decode(codec, errors="ignore")[:SNIFF_BYTES]


def _codec(label: str | None, wide: str | None) -> str | None:
    """A Python codec name for a charset label, or None if unknown. A UTF-16/32 label takes
    its byte order from the bytes; for ASCII-compatible bytes it cannot be right and reads
    as UTF-8 (WHATWG), and an ASCII-compatible label cannot be right for UTF-16/32 bytes."""
    if not label:
        return None
    codec = _lookup(label)
    if codec is None:
        return None
    if wide is not None:
        return wide if codec in _WIDE and codec[:6] == wide[:6] else None
    if codec in _WIDE:
        return "utf-8"
    return _SUPERSEDED.get(codec, codec)


def _lookup(label: str) -> str | None:
    try:
        return codecs.lookup(label.strip()).name
    except LookupError:
        return None


def _guess(raw: bytes, *, hint: str = "cp1252") -> str | None:
    """UTF-8 when the bytes are UTF-8 (a strong signal; a stray invalid byte among many
    valid sequences still counts), else charset-normalizer.

    `hint` wins when detection finds it plausible at all: Western texts with a few accented
    letters are about as plausible in a dozen Latin charsets and detection picks any of
    them; windows-1252 is what browsers assume for undeclared documents in most locales.
    """
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        if _nearly_utf8(raw):
            return "utf-8"
        # Imported here: most pages are UTF-8, and a page worker need not load it.
        import charset_normalizer

        # Declarations were read above, by the rules for the kind of document.
        matches = charset_normalizer.from_bytes(raw, preemptive_behaviour=False)
        if any(hint in m.could_be_from_charset for m in matches):
            return hint
        best = matches.best()
        return _codec(best.encoding, None) if best is not None else None
    return "utf-8"


def _nearly_utf8(raw: bytes) -> bool:
    """UTF-8 with a few broken sequences (a truncated excerpt): under 5% of the non-ASCII
    bytes invalid. A legacy 8-bit text has nearly all of its non-ASCII bytes invalid."""
    high = len(raw) - len(raw.translate(None, bytes(range(128))))
    bad = raw.decode("utf-8", errors="replace").count("\ufffd") - raw.count(b"\xef\xbf\xbd")
    return bad * 20 < high


def _sniff_media(head: str) -> str:
    """A media type for an answer without Content-Type, from its first characters."""
    start = head[:512].lstrip().lower()
    if start.startswith(("<!doctype html", "<html")):
        return "text/html"
    if start.startswith(("<?xml", *_FEED_ROOTS)):
        return "application/xml"
    if start.startswith(("{", "[")):
        return "application/json"
    return "application/octet-stream"
