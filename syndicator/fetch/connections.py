"""The Fetcher's HTTP connections: address policy at connect time and overall deadlines.

Part of the `requests`/urllib3 adapter. Every connection the Fetcher's own session opens is
made by `fetchpolicy.connect`: the host is resolved once and the socket connected to an
address that was checked, so the check holds for each redirect hop and cannot be dodged by
a DNS answer that changes between check and connection. Two adapters keep the two policies
apart (`adapter(allow_private=...)`): a connection opened for a source that may fetch private
addresses is never reused for one that may not.

Each connection also hands its socket to the deadline of the request that uses it
(deadline.py), when it is opened and whenever it is reused.
"""

from __future__ import annotations

import socket
from typing import Any, ClassVar

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from syndicator import fetchpolicy
from syndicator.deadline import current
from syndicator.errors import AddressRefused


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
