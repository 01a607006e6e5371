"""Per-client token buckets: how often one address may make the server render a query view.

A feed view with `?filter=` that is not in the cache costs a store read, a filter pass and
a render (milliseconds), a published file costs microseconds; so a few clients asking for
unique filters could take the CPU from everyone else. Each client address gets a bucket of
`burst` tokens refilled at `rate` per second; a render takes one (and a regex compiled
for it a few more, query.tokens_for), and a client with too few
left gets 429 with Retry-After until it has one again. Cached answers take no token.

The buckets live in a bounded LRU (MAX_CLIENTS): a client forgotten to make room starts
again with a full bucket, which costs at most one burst. Used from the event loop only.

`QueryGate` asks the buckets twice: `WebApp` asks `early` before Starlette, so that a client
with no token left asking for a view not answered before gets a prepared 429 without the
middleware, the router and the query parser (a closed-loop abuser otherwise costs ~4 times a
feed request per refusal); the feed handler then `take`s a token per render and notes
(`answered`) the query strings it answered, which `early` lets through to the cache.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

MAX_CLIENTS = 10_000
MAX_ANSWERED = 2048             # query strings remembered as answered (QueryGate) ...
MAX_REMEMBERED_BYTES = 512      # ... when at most this long: 1 MB of them at most
REFUSED = "too many feed queries from this address; try again later"


def client_key(host: str) -> str:
    """The key a client is counted under: its IPv4 address, or its IPv6 /64 (one subscriber
    line or host usually owns a whole /64, so counting single IPv6 addresses would give one
    client 2**64 buckets); an IPv4-mapped IPv6 address counts as the IPv4 address."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class TokenBuckets:
    """`take(client)` → 0.0 when the client may go on, else the seconds until it may."""

    def __init__(self, rate: float, burst: int, *, max_clients: int = MAX_CLIENTS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._max = max_clients
        self._monotonic = monotonic
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, when

    def wait(self, client: str) -> float:
        """What `take` would answer, without taking."""
        tokens, then = self._buckets.get(client, (self._burst, 0.0))
        tokens = min(self._burst, tokens + (self._monotonic() - then) * self._rate)
        if tokens >= 1.0:
            return 0.0
        return (1.0 - tokens) / self._rate if self._rate > 0 else math.inf

    def take(self, client: str, cost: float = 1.0) -> float:
        """Take `cost` tokens (at most a whole burst: a bigger cost could never be paid)."""
        cost = min(cost, self._burst)
        now = self._monotonic()
        tokens, then = self._buckets.pop(client, (self._burst, now))
        tokens = min(self._burst, tokens + (now - then) * self._rate)
        wait = 0.0
        if tokens >= cost:
            tokens -= cost
        else:
            wait = (cost - tokens) / self._rate if self._rate > 0 else math.inf
        self._buckets[client] = (tokens, now)          # the newest at the end
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return wait


def retry_after(wait: float) -> str:
    """The Retry-After value (whole seconds, at least 1) for a wait."""
    return str(max(1, math.ceil(min(wait, 86_400.0))))


class QueryGate:
    """The feed-query limit of one app (see the module's doc). `headers` go on every 429."""

    def __init__(self, rate: float, burst: int, *, headers: Mapping[str, str],
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.buckets = TokenBuckets(rate, burst, monotonic=monotonic)
        self._answered: OrderedDict[tuple[str, bytes], None] = OrderedDict()
        self._headers = [(name.lower().encode("latin-1"), value.encode("latin-1"))
                         for name, value in headers.items()]

    def take(self, client: str, cost: float = 1.0) -> float:
        """Take `cost` tokens for the client at this address (see `client_key`)."""
        return self.buckets.take(client_key(client), cost)

    def answered(self, path: str, query_string: bytes) -> None:
        if len(path) + len(query_string) > MAX_REMEMBERED_BYTES:
            return                      # such a client needs a token again (or the cache)
        key = (path, query_string)
        self._answered[key] = None
        self._answered.move_to_end(key)
        while len(self._answered) > MAX_ANSWERED:
            self._answered.popitem(last=False)

    def early(self, scope: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The 429 start and body messages for a feed query (a GET or HEAD asking for a view)
        from a client with no token left, unless the same query string was answered before;
        None to go on."""
        client = scope.get("client")
        wait = self.buckets.wait(client_key(client[0]) if client else "")
        if wait <= 0 or (scope["path"], scope["query_string"]) in self._answered:
            return None
        body = (REFUSED + "\n").encode()
        headers = [*self._headers, (b"retry-after", retry_after(wait).encode()),
                   (b"content-type", b"text/plain; charset=utf-8"),
                   (b"content-length", str(len(body)).encode())]
        return ({"type": "http.response.start", "status": 429, "headers": headers},
                {"type": "http.response.body",
                 "body": b"" if scope["method"] == "HEAD" else body})
