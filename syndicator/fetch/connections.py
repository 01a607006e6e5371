"""The Fetcher's HTTP connections: address policy at connect time and overall deadlines.

Part of the `requests`/urllib3 adapter. Every connection the Fetcher's own session opens is
made by `fetchpolicy.connect`: the host is resolved once and the socket connected to an
address that was checked, so the check holds for each redirect hop and cannot be dodged by
a DNS answer that changes between check and connection. Two adapters keep the two policies
apart (`adapter(allow_private=...)`): a connection opened for a source that may fetch private
addresses is never reused for one that may not.

Each connection also hands its socket to the deadline of the request that uses it
(deadline.py), when it is opened and whenever it is reused.

`check_url` runs before every request (each redirect hop too): the origin the fetch policy
checks (urlsplit) must be the one urllib3 connects to, or the URL is refused.
"""

from __future__ import annotations

import socket
from typing import Any, ClassVar
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    LocationParseError,
    NameResolutionError,
    NewConnectionError,
)
from urllib3.util import parse_url

from syndicator import fetchpolicy
from syndicator.deadline import current
from syndicator.errors import AddressRefused, FetchError
from syndicator.fetchpolicy import origin
from syndicator.uris import redact, uri


class _Checked(HTTPConnection):
    """A connection opened through the address policy, watched by the request's deadline."""

    allow_private: ClassVar[bool] = False

    def _new_conn(self) -> socket.socket:
        timeout = self.timeout if isinstance(self.timeout, int | float) else None
        try:
            return fetchpolicy.connect(self._dns_host, self.port, timeout,
                                       allow_private=self.allow_private,
                                       source_address=self.source_address,
                                       socket_options=self.socket_options or ())
        except AddressRefused:
            raise
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out. "
                                            f"(connect timeout={self.timeout})") from exc
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to establish a new connection: {exc}"
                                     ) from exc

    def connect(self) -> None:
        super().connect()
        deadline = current()
        if deadline is not None:
            deadline.attach(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        deadline = current()
        if deadline is not None and self.sock is not None:  # a connection reused
            deadline.attach(self.sock)
        super().request(*args, **kwargs)


class _Guarded(_Checked):
    pass


class _GuardedTls(_Checked, HTTPSConnection):
    pass


class _Open(_Checked):
    allow_private = True


class _OpenTls(_Checked, HTTPSConnection):
    allow_private = True


class _GuardedPool(HTTPConnectionPool):
    ConnectionCls = _Guarded


class _GuardedTlsPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedTls


class _OpenPool(HTTPConnectionPool):
    ConnectionCls = _Open


class _OpenTlsPool(HTTPSConnectionPool):
    ConnectionCls = _OpenTls


class _Adapter(HTTPAdapter):
    """requests' adapter with our connection classes (retries and redirects stay ours)."""

    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private
        # A pool big enough for many threads avoids discarding connections.
        super().__init__(pool_connections=16, pool_maxsize=32, max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        pools: dict[str, type[HTTPConnectionPool]] = (
            {"http": _OpenPool, "https": _OpenTlsPool} if self._allow_private
            else {"http": _GuardedPool, "https": _GuardedTlsPool})
        self.poolmanager.pool_classes_by_scheme = pools


def adapter(*, allow_private: bool) -> HTTPAdapter:
    """An adapter whose connections refuse non-public addresses unless `allow_private`."""
    return _Adapter(allow_private=allow_private)


def check_url(url: str) -> None:
    """An http(s) URL whose origin the fetch policy and the connection read alike, or an error.

    The policy (fetchpolicy.origin, OriginPolicy, check_host), the host gate and robots.txt
    read a URL with urlsplit; requests connects where urllib3's parse_url reads it. Where they
    differ (`http://a:1\\@b:2/`: b:2 to urlsplit, a:1 to urllib3) a URL could pass the policy
    for one origin and be fetched from another: refused."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:  # an invalid IPv6 literal
        hostname = None
    if not hostname or parts.scheme not in ("http", "https"):
        raise FetchError("not an http(s) URL", url=redact(url))
    checked = origin(url if url.isascii() else uri(url))   # a host in IDNA, as urllib3's
    connected = _connection_origin(url)
    if "\\" in parts.netloc or connected != checked:
        raise AddressRefused(f"ambiguous URL: its origin reads as {checked} to the fetch "
                             f"policy but as {connected or 'nothing'} to the connection: "
                             "refused", url=redact(url))


def _connection_origin(url: str) -> str | None:
    """The origin requests connects to for `url` (urllib3's parse_url), as fetchpolicy.origin
    writes it; None when urllib3 cannot read it."""
    try:
        target = parse_url(url)
    except LocationParseError:
        return None
    if not target.scheme or not target.host:
        return None
    port = "" if target.port is None else f":{target.port}"
    return origin(f"{target.scheme}://{target.host}{port}/")
