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

from bisect import bisect_left
from collections.abc import Callable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# The `*_created` timestamp series double the output and no dashboard of ours reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

_RUN_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
_FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_HTTP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
_LE = (*(repr(float(bound)) for bound in _HTTP_BUCKETS), "+Inf")   # as prometheus_client


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
        self._http = _HttpRequests()
        registry.register(self._http)
        self._http_recorders: dict[tuple[str, str, int], Callable[[float], None]] = {}

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
        key = (route, method, status)
        record = self._http_recorders.get(key)
        if record is None:
            record = self._http_recorders[key] = self.http_recorder(route, method, status)
        record(seconds)

    def http_recorder(self, route: str, method: str, status: int) -> Callable[[float], None]:
        """A function counting one request of (route, method, status) that took `seconds`.

        For the hot path: callers keep one recorder per label set (routes are templates, so
        there are few) and a request costs two list increments and a bisect."""
        return self._http.recorder(route, method, str(status))

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _HttpRequests:
    """syndicator_http_requests_total and syndicator_http_request_seconds, kept in plain
    lists and turned into metric families only when scraped.

    prometheus_client's Counter.inc and Histogram.observe take a lock each and together cost
    about a quarter of what the rest of a feed answer costs in Python. The counts are written
    from the web server's event loop thread only (one writer), so no lock is needed; a
    scrape from another thread may see a request's count before its duration.
    """

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, str], list[int]] = {}
        # (route, method) → [per bucket count..., +Inf count, sum of seconds]
        self._histograms: dict[tuple[str, str], list[float]] = {}

    def recorder(self, route: str, method: str, status: str) -> Callable[[float], None]:
        count = self._counts.setdefault((route, method, status), [0])
        histogram = self._histograms.setdefault((route, method),
                                                [0.0] * (len(_HTTP_BUCKETS) + 2))
        bounds = _HTTP_BUCKETS
        total = len(_HTTP_BUCKETS) + 1

        def record(seconds: float) -> None:
            count[0] += 1
            if seconds > 0.0:
                histogram[bisect_left(bounds, seconds)] += 1
                histogram[total] += seconds
            else:
                histogram[0] += 1

        return record

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily("syndicator_http_requests", "HTTP requests served.",
                                       labels=("route", "method", "status"))
        for key, count in list(self._counts.items()):
            requests.add_metric(key, count[0])
        yield requests
        seconds = HistogramMetricFamily("syndicator_http_request_seconds",
                                        "Time to answer HTTP requests.",
                                        labels=("route", "method"))
        for labels, histogram in list(self._histograms.items()):
            values = list(histogram)        # one copy: the buckets and sum agree
            cumulative, buckets = 0.0, []
            for bound, value in zip(_LE, values, strict=False):
                cumulative += value
                buckets.append((bound, cumulative))
            seconds.add_metric(labels, buckets, values[-1])
        yield seconds
