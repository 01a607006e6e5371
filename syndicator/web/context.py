"""What the web app is given: config, store, the in-memory feed files, status and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from syndicator.config import Config
from syndicator.metrics import Metrics
from syndicator.status import StatusProvider, StatusReport
from syndicator.store import Store
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
