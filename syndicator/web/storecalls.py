"""Store calls of the web routes, reported to the process's one outage line.

`in_store` runs a route's store call in the thread pool. When the store is down the call
still raises StoreError, but the log gets StoreOutage's single line per outage (and its
reminders) instead of one line per request, and the first answer after it logs the
recovery. The routes answer a failed call with 503 and a one-line reason (or, for a feed
query, the feed file itself).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from syndicator.errors import StoreError
from syndicator.store.outage import StoreOutage

T = TypeVar("T")

SUBSCRIPTION_PAGES = "the subscription pages"     # the job the outage line names


async def in_store(outage: StoreOutage, job: str, call: Callable[..., T], *args: Any,
                   **kwargs: Any) -> T:
    """`call(*args, **kwargs)` in the thread pool; a StoreError is reported to `outage`
    (as `job`) and raised."""
    try:
        result = await run_in_threadpool(call, *args, **kwargs)
    except StoreError as exc:
        outage.failed(exc, job)
        raise
    outage.answered()
    return result
