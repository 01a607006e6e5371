"""`make_engine`: the one place the engine is chosen, by the storage (see the package)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from syndicator.jobs.interface import Bodies, Engine, is_cluster


def make_engine(bodies: Bodies, *, hub: Callable[[Sequence[str]], None] | None = None,
                concurrency: int | None = None) -> Engine:
    """The engine for the service's storage, not started. `hub`: pings the WebSub hub
    about changed feeds; `concurrency`: jobs one process runs at once (default: the
    config's `jobs.concurrency`)."""
    config = bodies.app.config
    wanted = concurrency if concurrency is not None else config.jobs.concurrency
    if is_cluster(config):
        from syndicator.jobs.cluster import ClusterEngine
        return ClusterEngine(bodies, concurrency=wanted, hub=hub)
    from syndicator.jobs.inprocess import InProcessEngine
    return InProcessEngine(bodies, concurrency=wanted, hub=hub)
