"""Metrics: each instance has its own registry, and the hooks move the right series."""

from __future__ import annotations

import pytest

from syndicator.metrics import Metrics


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_source_runs_items_and_state() -> None:
    metrics = Metrics()
    metrics.source_run("office-en", True, 1.5, new=3, updated=1)
    metrics.source_run("office-en", False, 0.2, new=0, updated=0)
    metrics.source_run("office-en", True, 0.7, new=2, updated=0)
    assert value(metrics, "syndicator_source_runs_total", source="office-en", outcome="ok") == 2
    assert value(metrics, "syndicator_source_runs_total", source="office-en",
                 outcome="failed") == 1
    assert value(metrics, "syndicator_source_items_total", source="office-en",
                 change="new") == 5
    assert value(metrics, "syndicator_source_items_total", source="office-en",
                 change="updated") == 1
    assert value(metrics, "syndicator_source_run_seconds_count", source="office-en") == 3
    assert value(metrics, "syndicator_source_run_seconds_sum", source="office-en") == \
        pytest.approx(2.4)
    metrics.source_broken("office-en", True)
    assert value(metrics, "syndicator_source_broken", source="office-en") == 1
    metrics.source_broken("office-en", False)
    assert value(metrics, "syndicator_source_broken", source="office-en") == 0
    metrics.items_stored("office-en", 120)
    metrics.items_stored("office-en", 125)
    assert value(metrics, "syndicator_items_stored", source="office-en") == 125


def test_fetch_latency_and_http_requests() -> None:
    metrics = Metrics()
    metrics.fetch_latency("office.example.org", 0.3)
    metrics.fetch_latency("office.example.org", 3.0)
    assert value(metrics, "syndicator_fetch_seconds_count", host="office.example.org") == 2
    assert value(metrics, "syndicator_fetch_seconds_bucket", host="office.example.org",
                 le="0.5") == 1
    metrics.http_request("/{feed_id}.rss", "GET", 200, 0.001)
    metrics.http_request("/{feed_id}.rss", "GET", 304, 0.0005)
    metrics.http_request("/{feed_id}.rss", "GET", 200, 0.002)
    assert value(metrics, "syndicator_http_requests_total", route="/{feed_id}.rss",
                 method="GET", status="200") == 2
    assert value(metrics, "syndicator_http_requests_total", route="/{feed_id}.rss",
                 method="GET", status="304") == 1
    assert value(metrics, "syndicator_http_request_seconds_count", route="/{feed_id}.rss",
                 method="GET") == 3


def test_instances_do_not_share_series() -> None:
    first, second = Metrics(), Metrics()     # the same names twice would clash globally
    first.source_run("a", True, 1.0, new=1, updated=0)
    assert value(first, "syndicator_source_runs_total", source="a", outcome="ok") == 1
    assert value(second, "syndicator_source_runs_total", source="a", outcome="ok") is None


def test_render_is_prometheus_text() -> None:
    metrics = Metrics()
    metrics.source_run("office-be", False, 2.0, new=0, updated=0)
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain; version=")
    text = body.decode()
    assert "# TYPE syndicator_source_runs_total counter" in text
    assert 'syndicator_source_runs_total{outcome="failed",source="office-be"} 1.0' in text
    assert "_created" not in text
