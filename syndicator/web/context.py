"""What the web app is given: config, store, the in-memory feed files, status and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from syndicator.config import Config
from syndicator.metrics import Metrics
from syndicator.status import StatusProvider, StatusReport
from syndicator.store import Store
from syndicator.store.outage import StoreOutage
from syndicator.web.cache import FeedCache

__all__ = ["StatusProvider", "StatusReport", "WebContext"]


@dataclass
class WebContext:
    config: Config
    store: Store
    cache: FeedCache
    status: StatusProvider
    # Shared with the scheduler (`run`), which reports source runs into the same registry.
    metrics: Metrics = field(default_factory=Metrics)
    # The process's outage line (`run`: the scheduler's, shared with its jobs); None: the
    # web app's own, made on first use.
    outage: StoreOutage | None = None

    def store_outage(self) -> StoreOutage:
        """Where the routes report a store that does not answer (web/storecalls.py)."""
        if self.outage is None:
            self.outage = StoreOutage(self.config.storage_url, lambda: datetime.now(UTC))
        return self.outage
