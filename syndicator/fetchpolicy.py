"""Where the fetcher may go: public addresses only, and a source's own origins.

Two rules keep a hostile page from turning the scraper against the machine it runs on or its
network (server-side request forgery whose result would be published in a feed):

* **Addresses.** A host name is resolved once, every address is checked, and the socket is
  connected to a checked address (`connect`), so a DNS answer that changes between the check
  and the connection cannot slip a private address in. Loopback, private (RFC 1918, unique
  local), link-local (cloud metadata at 169.254.169.254 and fd00:ec2::254 among them), shared
  CGNAT space, multicast, unspecified and reserved addresses are refused, also when written
  inside an IPv6 address (IPv4-mapped, NAT64, 6to4). The check runs for every connection,
  so for every redirect hop too. `fetch.allow_private: true` turns it off (the tests' and the
  demo's sites are on loopback).
* **Origins.** Links found in content (article links, next pages, sitemap entries) and the
  redirects met while following them stay on the source's own origin (scheme, host, port),
  unless the source lists more in `follow_hosts` (`OriginPolicy`). A link whose authority
  holds user info, a backslash, a space or a control is followed nowhere: parsers read its
  host differently. The Fetcher also refuses any URL whose origin urlsplit (this module)
  and urllib3 (the connection) read differently, so the origin checked here is the one
  connected to.

Only the standard library: fetch.py plugs `connect` into its HTTP connections.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from syndicator.errors import AddressRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# One getaddrinfo answer: family, type, protocol, canonical name, socket address.
_AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_METADATA = frozenset({ipaddress.ip_address("169.254.169.254"),
                       ipaddress.ip_address("fd00:ec2::254")})
ALLOW_HINT = "set fetch.allow_private: true to fetch it"


def refusal(address: IPAddress) -> str | None:
    """Why `address` is not a public unicast address (None: it is one)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # the IPv4 address itself, in IPv6 notation
            return refusal(address.ipv4_mapped)
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = refusal(embedded)
            if reason is not None:
                return reason
    if address in _METADATA:
        return "cloud metadata"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "shared CGNAT space"
    if address.is_private:
        return "private"
    if address.is_reserved or not address.is_global:
        return "reserved"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (NAT64, 6to4), if any."""
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def parse_address(text: str) -> IPAddress | None:
    """An IP literal (a zone index such as `%eth0` dropped), or None for a host name."""
    try:
        return ipaddress.ip_address(text.split("%", 1)[0].strip("[]"))
    except ValueError:
        return None


def check_host(host: str, port: int) -> None:
    """Resolve `host` and raise AddressRefused if any of its addresses is not public.

    For requests whose connection goes elsewhere (an HTTP proxy, a session given to the
    Fetcher): the address is checked here but resolved again by whoever connects."""
    for info in _resolve(host, port):
        reason = refusal(_address_of(info))
        if reason is not None:
            raise _refused(host, info, reason)


def connect(host: str, port: int, timeout: float | None, *, allow_private: bool,
            source_address: tuple[str, int] | None = None,
            socket_options: Iterable[tuple[int, int, int | bytes]] = ()) -> socket.socket:
    """A TCP socket connected to the first reachable address of `host` that the policy allows.

    The name is resolved once and the socket connected to a checked address. Raises
    AddressRefused when every address is refused, else the last OSError of the attempts
    (socket.gaierror when the name does not resolve)."""
    infos = _resolve(host, port)
    refused: AddressRefused | None = None
    error: OSError | None = None
    for info in infos:
        family, kind, proto, _name, sockaddr = info
        if not allow_private:
            reason = refusal(_address_of(info))
            if reason is not None:
                refused = refused or _refused(host, info, reason)
                continue
        sock = socket.socket(family, kind, proto)
        try:
            for option in socket_options:
                sock.setsockopt(*option)
            sock.settimeout(timeout)
            if source_address is not None:
                sock.bind(source_address)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return sock
    if error is not None:
        raise error
    if refused is not None:
        raise refused
    raise OSError(f"{host} resolved to no address")


def _resolve(host: str, port: int) -> list[_AddrInfo]:
    return [(family, kind, proto, name, tuple(sockaddr)) for family, kind, proto, name, sockaddr
            in socket.getaddrinfo(host.strip("[]"), port, 0, socket.SOCK_STREAM)]


def _address_of(info: _AddrInfo) -> IPAddress:
    address = parse_address(str(info[4][0]))
    if address is None:  # getaddrinfo gives numeric addresses; be safe if it does not
        raise AddressRefused(f"unreadable address {info[4][0]!r}", url="")
    return address


def _refused(host: str, info: _AddrInfo,
             reason: str) -> AddressRefused:
    shown = info[4][0]
    what = f"{host} is" if str(shown) == host.strip("[]") else f"{host} resolves to {shown},"
    return AddressRefused(f"{what} a {reason} address: refused ({ALLOW_HINT})", url="")


# --- origins --------------------------------------------------------------------------------

def origin(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower case, the default port left out."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    try:
        port = parts.port or default
    except ValueError:  # a port that is not a number
        port = default
    netloc = host if port == default else f"{host}:{port}"
    return f"{parts.scheme.lower()}://{netloc}"


class Source(Protocol):
    """What the policy reads of a source (config.SourceConfig)."""

    @property
    def url(self) -> str: ...

    @property
    def follow_hosts(self) -> Sequence[str]: ...


def plain_authority(url: str) -> bool:
    """Whether the authority of `url`, read as urlsplit reads it (from `//` to the first
    `/`, `?` or `#`), is only `host[:port]`: no user info, backslash, space or control."""
    rest = url.partition("//")[2]
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    authority = rest[:end]
    return not any(c in "@\\" or c <= " " or c == "\x7f" for c in authority)


class OriginPolicy:
    """The origins a source's content links may be followed to: its own URL's origin, the
    origin its first page was finally read from, and what `follow_hosts` lists (an origin
    such as `https://cdn.example.org:8443`, a host on any port and scheme, or `*.example.org`
    for its subdomains). A link from http to https on the same host counts as the same
    origin (sites upgrade their links)."""

    @classmethod
    def for_source(cls, source: Source) -> OriginPolicy:
        """A source's policy, before its first page is read: the one home of this rule for
        everything that follows a source's links (pipeline.py and articles.py through the
        run's policy, check.py)."""
        return cls(source.url, source.follow_hosts)

    def __init__(self, url: str, follow_hosts: Sequence[str] = ()) -> None:
        self._origins = {origin(url)}
        self._hosts: set[str] = set()
        self._suffixes: list[str] = []
        for entry in follow_hosts:
            entry = entry.strip().lower()
            if "://" in entry:
                self._origins.add(origin(entry))
            elif entry.startswith("*."):
                self._suffixes.append(entry[1:])
            else:
                self._hosts.add(entry.strip("[]").rstrip("."))

    def add(self, url: str) -> None:
        """Also allow `url`'s origin (where the source's own URL redirected to)."""
        self._origins.add(origin(url))

    def allows(self, url: str) -> bool:
        """Whether a content link may be followed to `url`. Never when its authority holds
        more than `host[:port]` (user info, a backslash, spaces or controls): parsers
        disagree on where such a host ends (`http://a:1\\@b:2/` is b:2 to urlsplit, a:1 to
        urllib3 and browsers), and a page has no business sending credentials."""
        if not plain_authority(url):
            return False
        found = origin(url)
        if found in self._origins:
            return True
        # https on the default port of a host whose http origin is allowed (origin() leaves
        # the default port out, so what follows the scheme is the bare host)
        if found.startswith("https://") and "http://" + found[8:] in self._origins:
            return True
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
        return host in self._hosts or any(host.endswith(s) for s in self._suffixes)
