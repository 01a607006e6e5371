"""URLs as they are published: an IRI written as a URI (RFC 3987 §3.1), and URLs as they
are shown: without user:password@. Pure, no I/O.

The only user of idna. Every URL Syndicator publishes goes through `uri`: an item's URL and
image (normalise.py), every href, src and srcset kept in sanitised content (sanitise.py) and
every http(s) URL of the config (config_base.check_http_url), so RSS, Atom, JSON Feed, the
HTML pages and push messages carry the same encoded form; `uri_key` is the form all
spellings of one URL share, by which items are told apart. Every URL shown goes through
`redact`: fetch errors, `check`'s output and every log line (logsetup.py), without
user:password@ and without the secrets the config put into URLs from the environment.
"""

from __future__ import annotations

import re
import string
from urllib.parse import quote, urlsplit, urlunsplit

# What a URI may contain unencoded (RFC 3986): a URL of only these, with every "%" starting
# an escape, is published as it is.
_URI_SAFE = re.compile(r"(?:[A-Za-z0-9\-._~:/?#@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*")
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_PORT = re.compile(r":\d*$")
_PATH = "/:@!$&'()*+,;=-._~%"
_QUERY = _PATH + "?"
_USERINFO = ":!$&'()*+,;=-._~%"
# A URL's scheme and user info: up to the last "@" before the authority ends (a password
# may hold "@"; a path such as /@name has a "/" before its "@" and is left alone).
# User info whose password is already `***` (the store's database URLs, store.safe_url)
# keeps its user name: it tells the operator which account failed.
# A quote, an angle bracket, a brace, "|", "^" or "`" ends the URL (no URL holds one
# unencoded): an address after `"https://news.example.org","author":"ann@…"` is no user info.
_CREDENTIALS = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)([^/?#\s\"<>{}|^`]*)@")
_HIDDEN = re.compile(r"[^:@]*:\*\*\*")


def uri(url: str) -> str:
    """An IRI as the URI that is published (RFC 3987 §3.1): spaces, quotes, angle brackets,
    other characters URIs do not allow and non-ASCII are percent-encoded (UTF-8), the host
    is written in IDNA; `%xx` already there is kept as it is, a lone `%` becomes `%25`.

    An item is published under the spelling its link was first found in; what tells items
    apart is `uri_key`.
    """
    if _URI_SAFE.fullmatch(url):
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if not netloc.isascii():
        userinfo, at, hostport = netloc.rpartition("@")
        host, colon, port = hostport.rpartition(":") if _PORT.search(hostport) else (
            hostport, "", "")
        netloc = (_quote(userinfo, _USERINFO) + at if at else "") + _idna(host) + colon + port
    return urlunsplit((parts.scheme, netloc, _quote(parts.path, _PATH),
                       _quote(parts.query, _QUERY), _quote(parts.fragment, _QUERY)))


def uri_key(url: str) -> str:
    """The URI every spelling of `url` shares, as RFC 3986 §6.2.2 compares URIs: `uri(url)`
    with the hex of each `%xx` in upper case and an escaped unreserved character (a letter,
    digit, `-`, `.`, `_`, `~`) as itself. `/café`, `/caf%C3%A9`, `/caf%c3%a9` and
    `/%63af%C3%A9` have one key: items are told apart by it (normalise.identity_key)."""
    published = uri(url)
    return _ESCAPE.sub(_normal_escape, published) if "%" in published else published


def _normal_escape(match: re.Match[str]) -> str:
    char = chr(int(match[1], 16))
    return char if char in _UNRESERVED else match[0].upper()


def _quote(value: str, safe: str) -> str:
    return quote(_LONE_PERCENT.sub("%25", value), safe=safe)


def _idna(host: str) -> str:
    """A host name in IDNA (UTS #46, non-transitional: what browsers send), as given when
    it cannot be written so."""
    import idna

    try:
        return idna.encode(host, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return quote(host, safe=_PATH)


# What the environment put into a URL of the config after its host (an API key in a query
# string, a webhook's token path): secrets, shown as HIDDEN (config.py registers them when
# the config loads, in the URI form the URL is kept in too).
_CONCEALED: set[str] = set()
HIDDEN = "***"
SHORTEST_SECRET = 6               # shorter text from the environment ("/news") is a path


def conceal(secret: str) -> None:
    """Have `redact` show `secret` (and its percent-encoded form) as `***` from now on, in
    this process."""
    if len(secret) >= SHORTEST_SECRET:
        _CONCEALED.update({secret, _quote(secret, _QUERY)})


def redact(text: str) -> str:
    """`text` (a URL, or a message or log line holding URLs) with every URL's
    user:password@ removed and every concealed secret shown as `***`: what a URL may show
    in messages, output and logs."""
    for secret in _CONCEALED:
        if secret in text:
            text = text.replace(secret, HIDDEN)
    if "@" not in text:
        return text
    return _CREDENTIALS.sub(_shown, text)


def _shown(match: re.Match[str]) -> str:
    scheme, userinfo = match.group(1), match.group(2)
    return match.group(0) if _HIDDEN.fullmatch(userinfo) else scheme
