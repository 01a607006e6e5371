"""Text from bytes: the one place a fetched body is decoded (and the only user of
charset-normalizer).

Order: BOM, then the Content-Type charset (ISO-8859-1 on HTML counts as a weak hint only:
servers add it by default), then `<meta charset>` in the first 4 KB, then UTF-8 if the bytes
are valid UTF-8, then detection with charset-normalizer. Feeds (XML/JSON) keep their bytes
in `Page.raw` for the feed parser, which honours the XML declaration.

Kept apart from fetch.py (requests, urllib3) so that a page worker process can decode the
bodies the fetching process hands it without importing the HTTP stack: decoding ~120 KB
costs ~0.2 ms, a tenth of what the fetching process spends on a page.
"""

from __future__ import annotations

import codecs
import re

from syndicator.model import Body, Page

SNIFF_BYTES = 4096

_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig", "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16", "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16", "utf-16"))
# WHATWG encoding rules: browsers read these labels as windows-1252 (a superset), and a
# document cannot really be UTF-16 when its charset was read from ASCII-compatible bytes.
_SUPERSEDED = {"iso8859-1": "cp1252", "ascii": "cp1252", "utf-16": "utf-8",
               "utf-16-le": "utf-8", "utf-16-be": "utf-8"}


def decode_page(body: Body) -> Page:
    """The Page of a fetched body: its text decoded once (the bytes stay in `raw`)."""
    text, encoding, media = decode_body(body.raw, body.content_type)
    return Page(url=body.url, final_url=body.final_url, status=body.status, text=text,
                encoding=encoding, content_type=media, validators=body.validators,
                raw=body.raw)


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
    codec, name, media = _choose(raw, content_type)
    return raw.decode(codec, errors="replace"), name, media


def markup(body: Body) -> str | bytes:
    """What to parse of an HTML body: its bytes when they are UTF-8 (lexbor reads UTF-8
    bytes as they are, so a page worker skips decoding ~120 KB it would only encode
    again), else the text decode_page would give. Same tree either way
    (extract.html.parse_html; tests/test_extract_bytes.py)."""
    codec, name, _media = _choose(body.raw, body.content_type)
    if name == "utf-8":
        return body.raw[len(codecs.BOM_UTF8):] if codec == "utf-8-sig" else body.raw
    return body.raw.decode(codec, errors="replace")


def _choose(raw: bytes, content_type: str | None) -> tuple[str, str, str]:
    """(the codec to decode `raw` with, the encoding's name, the media type)."""
    media, declared = parse_content_type(content_type)
    media = media or _sniff_media(raw)
    for bom, codec, name in _BOMS:
        if raw.startswith(bom):
            return codec, name, media
    header_codec = _codec(declared)
    if _is_feed(media):
        feed_codec = header_codec or _codec(_first(_XML_ENCODING, raw)) or "utf-8"
        return feed_codec, feed_codec, media
    chosen = _document_codec(raw, media, declared, header_codec)
    return chosen, chosen, media


def _document_codec(raw: bytes, media: str, declared: str | None,
                    header_codec: str | None) -> str:
    """Header charset, then (HTML) <meta> charset, then UTF-8 validity or detection."""
    is_html = media in ("text/html", "application/xhtml+xml")
    # Many servers add ISO-8859-1 to every HTML page by default: only a weak hint there.
    weak = is_html and declared is not None and _lookup(declared) == "iso8859-1"
    if header_codec is not None and not weak:
        return header_codec
    meta = _codec(_first(_META_CHARSET, raw[:SNIFF_BYTES])) if is_html else None
    if meta is not None:
        return meta
    hint = "cp1252" if weak else None
    return _guess(raw, hint=hint) or hint or "utf-8"


def _is_feed(media: str) -> bool:
    return media.endswith(("/xml", "+xml", "/json", "+json")) and media != "application/xhtml+xml"


def _codec(label: str | bytes | None) -> str | None:
    """A Python codec name for a charset label, or None if unknown."""
    if not label:
        return None
    name = label.decode("ascii", errors="ignore") if isinstance(label, bytes) else label
    codec = _lookup(name)
    return _SUPERSEDED.get(codec, codec) if codec else None


def _lookup(label: str) -> str | None:
    try:
        return codecs.lookup(label.strip()).name
    except LookupError:
        return None


def _first(pattern: re.Pattern[bytes], data: bytes) -> bytes | None:
    match = pattern.search(data)
    return match.group(1) if match else None


def _guess(raw: bytes, *, hint: str | None = None) -> str | None:
    """UTF-8 when the bytes are valid UTF-8 (a strong signal), else charset-normalizer.

    A weak `hint` wins when detection finds it plausible: short Western texts are often
    equally plausible in several single-byte charsets and detection picks any of them.
    """
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        # Imported here: most pages are UTF-8, and a page worker need not load it.
        import charset_normalizer

        matches = charset_normalizer.from_bytes(raw)
        if hint is not None and any(hint in m.could_be_from_charset for m in matches):
            return hint
        best = matches.best()
        return _codec(best.encoding) if best is not None else None
    return "utf-8"


def _sniff_media(raw: bytes) -> str:
    """A media type for an answer without Content-Type, from its first bytes."""
    head = raw[:512].lstrip().lower()
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:].lstrip()
    if head.startswith((b"<!doctype html", b"<html")):
        return "text/html"
    if head.startswith((b"<?xml", b"<rss", b"<feed", b"<rdf")):
        return "application/xml"
    if head.startswith((b"{", b"[")):
        return "application/json"
    return "application/octet-stream"
