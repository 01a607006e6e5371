"""Small helpers shared by the feed writers: URLs, dates, text hygiene, media types.

No third-party imports here, so every format module can use them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from syndicator import __version__
from syndicator.config import FeedConfig, SiteConfig

GENERATOR = "Syndicator"
GENERATOR_VERSION = __version__
GENERATOR_URI = "https://github.com/syndicator/syndicator"

# File extension → media type of every format we publish (also used for autodiscovery).
FORMATS: dict[str, str] = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}
FORMAT_NAMES: dict[str, str] = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}

# A fixed table rather than `mimetypes`, whose answers depend on the host's mime.types files
# and would make the same items render differently on two machines.
_IMAGE_TYPES = {
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "jpe": "image/jpeg", "png": "image/png",
    "gif": "image/gif", "webp": "image/webp", "avif": "image/avif", "svg": "image/svg+xml",
    "bmp": "image/bmp", "ico": "image/x-icon", "tif": "image/tiff", "tiff": "image/tiff",
    "heic": "image/heic",
}
# Most news images without an extension (CDN resizers, `?id=`) are JPEGs; readers only need
# an `image/*` type to show the enclosure as a picture.
_DEFAULT_IMAGE_TYPE = "image/jpeg"

# Characters XML 1.0 cannot carry at all (XML parsers refuse them); stripped from every text field
# so that one stray control character in a scraped title cannot break a whole feed.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# The same check on UTF-8 bytes, which C does ~10x faster than the regex scans a long text:
# control bytes, and U+FFFE/U+FFFF (lone surrogates cannot be encoded at all).
_CONTROL_BYTES = bytes(c for c in range(32) if c not in (0x09, 0x0A, 0x0D))
# Below this length the regex is the faster check (titles, names, URLs): encoding costs more.
_SHORT_TEXT = 256
# What makes image_type hand a URL to urlsplit (which strips or rejects these).
_URL_UNUSUAL = re.compile(r"[\\ \t\r\n]")


def feed_url(site: SiteConfig, feed: FeedConfig, ext: str) -> str:
    """The public (self) URL of one format of a feed: `<base_url><feed id>.<ext>`."""
    return f"{site.base_url}{feed.id}.{ext}"


def home_url(feed: FeedConfig, site: SiteConfig) -> str:
    """The web page the feed is about: the configured link, else the site's base URL."""
    return feed.link or site.base_url


def description(feed: FeedConfig) -> str:
    return clean(feed.description or feed.title)


def clean(text: str) -> str:
    if len(text) < _SHORT_TEXT:
        return text if _XML_INVALID.search(text) is None else _XML_INVALID.sub("", text)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        return _XML_INVALID.sub("", text)
    if (len(data.translate(None, _CONTROL_BYTES)) == len(data)
            and b"\xef\xbf\xbe" not in data and b"\xef\xbf\xbf" not in data):
        return text
    return _XML_INVALID.sub("", text)


def utc(value: datetime) -> datetime:
    """UTC, whole seconds. A naive value is taken as UTC (SQLite hands datetimes back naive)."""
    if value.tzinfo is UTC and not value.microsecond:
        return value        # what the store hands a build (datetimes are immutable)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


def rfc3339(value: datetime) -> str:
    return utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def image_type(url: str) -> str:
    # The plain http(s) URL is read directly (urlsplit costs more than the rest of an
    # archive entry); anything else goes through urlsplit.
    head, sep, rest = url.partition("://")
    if sep and head in ("http", "https") and _URL_UNUSUAL.search(rest) is None:
        path = rest.split("#", 1)[0].split("?", 1)[0]
        slash = path.find("/")
        path = path[slash:] if slash != -1 else ""
    else:
        path = urlsplit(url).path
    ext = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return _IMAGE_TYPES.get(ext, _DEFAULT_IMAGE_TYPE)


def unique(values: Sequence[str]) -> list[str]:
    """Non-empty cleaned values, duplicates dropped, order kept."""
    seen: dict[str, None] = {}
    for value in values:
        text = clean(value).strip()
        if text:
            seen.setdefault(text, None)
    return list(seen)
