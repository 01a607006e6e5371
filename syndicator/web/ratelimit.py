"""Per-client token buckets: how often one address may make the server render a query view.

A feed view with `?filter=` that is not in the cache costs a store read, a filter pass and
a render (milliseconds), a published file costs microseconds; so a few clients asking for
unique filters could take the CPU from everyone else. Each client address gets a bucket of
`burst` tokens refilled at `rate` per second; a render takes one, and a client with none
left gets 429 with Retry-After until it has one again. Cached answers take no token.

The buckets live in a bounded LRU (MAX_CLIENTS): a client forgotten to make room starts
again with a full bucket, which costs at most one burst. Used from the event loop only.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

MAX_CLIENTS = 10_000


class TokenBuckets:
    """`take(client)` → 0.0 when the client may go on, else the seconds until it may."""

    def __init__(self, rate: float, burst: int, *, max_clients: int = MAX_CLIENTS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._max = max_clients
        self._monotonic = monotonic
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, when

    def take(self, client: str) -> float:
        now = self._monotonic()
        tokens, then = self._buckets.pop(client, (self._burst, now))
        tokens = min(self._burst, tokens + (now - then) * self._rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self._rate if self._rate > 0 else math.inf
        self._buckets[client] = (tokens, now)          # the newest at the end
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return wait


def retry_after(wait: float) -> str:
    """The Retry-After value (whole seconds, at least 1) for a wait."""
    return str(max(1, math.ceil(min(wait, 86_400.0))))
