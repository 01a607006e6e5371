"""Prometheus metrics of the service. The only prometheus-client user.

Each `Metrics` owns its own CollectorRegistry (not the process-global one), so several apps
in one process — tests, a `serve` beside a `run` — never clash over metric names.

    syndicator_source_runs_total{source,outcome}          counter  ok / failed
    syndicator_source_run_seconds{source}                 histogram
    syndicator_source_items_total{source,change}          counter  new / updated
    syndicator_source_broken{source}                      gauge    1 while broken
    syndicator_items_stored{source}                       gauge
    syndicator_fetch_seconds{host}                        histogram
    syndicator_http_requests_total{route,method,status}   counter  route = template
    syndicator_http_request_seconds{route,method}         histogram
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# The `*_created` timestamp series double the output and no dashboard of ours reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

_RUN_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
_FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_HTTP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class Metrics:
    """The counters the scheduler, the fetcher and the web app report into."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self._runs = Counter("syndicator_source_runs", "Source runs by outcome.",
                             ("source", "outcome"), registry=registry)
        self._run_seconds = Histogram("syndicator_source_run_seconds",
                                      "Duration of source runs.", ("source",),
                                      buckets=_RUN_BUCKETS, registry=registry)
        self._items = Counter("syndicator_source_items", "Items a source run stored.",
                              ("source", "change"), registry=registry)
        self._broken = Gauge("syndicator_source_broken", "1 while a source is marked broken.",
                             ("source",), registry=registry)
        self._stored = Gauge("syndicator_items_stored", "Items stored per source.",
                             ("source",), registry=registry)
        self._fetch = Histogram("syndicator_fetch_seconds", "Latency of fetches per host.",
                                ("host",), buckets=_FETCH_BUCKETS, registry=registry)
        self._http = Counter("syndicator_http_requests", "HTTP requests served.",
                             ("route", "method", "status"), registry=registry)
        self._http_seconds = Histogram("syndicator_http_request_seconds",
                                       "Time to answer HTTP requests.", ("route", "method"),
                                       buckets=_HTTP_BUCKETS, registry=registry)
        self._http_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def source_run(self, source_id: str, ok: bool, duration_s: float, new: int,
                   updated: int) -> None:
        self._runs.labels(source_id, "ok" if ok else "failed").inc()
        self._run_seconds.labels(source_id).observe(max(duration_s, 0.0))
        self._items.labels(source_id, "new").inc(max(new, 0))
        self._items.labels(source_id, "updated").inc(max(updated, 0))

    def source_broken(self, source_id: str, broken: bool) -> None:
        self._broken.labels(source_id).set(1 if broken else 0)

    def items_stored(self, source_id: str, count: int) -> None:
        self._stored.labels(source_id).set(count)

    def fetch_latency(self, host: str, seconds: float) -> None:
        self._fetch.labels(host).observe(max(seconds, 0.0))

    def http_request(self, route: str, method: str, status: int, seconds: float) -> None:
        # Called for every request: keep the labelled children instead of looking them up
        # each time (labels() takes a lock and builds keys). Routes are templates, so the
        # memo stays as small as the label set itself.
        key = (route, method, status)
        children = self._http_children.get(key)
        if children is None:
            children = (self._http.labels(route, method, str(status)),
                        self._http_seconds.labels(route, method))
            self._http_children[key] = children
        children[0].inc()
        children[1].observe(max(seconds, 0.0))

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
