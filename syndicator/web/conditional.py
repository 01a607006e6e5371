"""HTTP content negotiation and conditional requests, as pure functions over header values.

    If-None-Match (RFC 9110 §13.1.2): a list of entity tags or "*", compared weakly (W/ is
    ignored); when present, If-Modified-Since is not looked at.
    If-Modified-Since (§13.1.3): 304 when the file is not newer than the given date.
    Accept-Encoding (§12.5.3): gzip when "gzip" or "*" is acceptable with q > 0.

The values come from clients, up to the server's head limit (64 KiB by default), so nothing
here keeps what a client sent unless it is short: only values of at most MEMO_BYTES are
memoised (real clients repeat a handful of short ones), and a list is read no further than
its first LIST_ITEMS members (a client holds one or two versions of a file, not thousands).
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from functools import lru_cache

MEMO_BYTES = 256        # longer header values are worked out each time, never remembered
LIST_ITEMS = 32         # members of a list header looked at; the rest are ignored
DATE_BYTES = 64         # the longest HTTP-date (rfc850-date) has 33 characters


def _items(header: str) -> list[str]:
    """The first LIST_ITEMS members of a comma-separated header value."""
    return header.split(",", LIST_ITEMS)[:LIST_ITEMS]


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith(("W/", "w/")) else tag


def none_match(header: str, etags: tuple[str, ...]) -> bool:
    """True when If-None-Match `header` matches any of `etags` (the client has it)."""
    wanted = [_opaque(etag) for etag in etags]
    for part in _items(header):
        tag = _opaque(part)
        if tag == "*" or (tag and tag in wanted):
            return True
    return False


def _timestamp(http_date: str) -> float | None:
    # Not an HTTP-date when longer than any (RFC 9110 §5.6.7: then it is ignored).
    return _parsed_date(http_date) if len(http_date) <= DATE_BYTES else None


@lru_cache(maxsize=1024)
def _parsed_date(http_date: str) -> float | None:
    try:
        parsed = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:       # an obsolete date format without zone: GMT by definition
        return None
    return parsed.timestamp()


def not_modified_since(header: str, last_modified: str) -> bool:
    """True when If-Modified-Since `header` is a valid date not older than `last_modified`."""
    since, modified = _timestamp(header), _timestamp(last_modified)
    return since is not None and modified is not None and modified <= since


def is_fresh(if_none_match: str | None, if_modified_since: str | None,
             etags: tuple[str, ...], last_modified: str | None) -> bool:
    """Whether a GET/HEAD with these request headers may be answered 304."""
    if if_none_match is not None:
        return none_match(if_none_match, etags)
    if if_modified_since is not None and last_modified is not None:
        return not_modified_since(if_modified_since, last_modified)
    return False


def accepts_gzip(header: str | None) -> bool:
    """Accept-Encoding allows gzip: listed (or "*") with a non-zero quality, among the
    first LIST_ITEMS codings."""
    if not header:
        return False
    return _gzip_memo(header) if len(header) <= MEMO_BYTES else _gzip_listed(header)


@lru_cache(maxsize=256)
def _gzip_memo(header: str) -> bool:
    return _gzip_listed(header)


def _gzip_listed(header: str) -> bool:
    gzip_q: float | None = None
    star_q: float | None = None
    for part in _items(header):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip().lower()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        coding = name.strip().lower()
        if coding in ("gzip", "x-gzip"):
            gzip_q = quality
        elif coding == "*":
            star_q = quality
    if gzip_q is not None:
        return gzip_q > 0
    return star_q is not None and star_q > 0
