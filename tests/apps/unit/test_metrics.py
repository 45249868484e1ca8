"""The runtime's latency histogram exposes exactly what prometheus_client's Histogram would."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from event_platform.apps.runtime.metrics import LATENCY_BUCKETS, Metrics


def exposition(registry: CollectorRegistry) -> list[str]:
    return [line for line in generate_latest(registry).decode().splitlines()
            if line.split("{")[0].split(" ")[0].startswith("event_processing_seconds")
            and "_created" not in line]


def test_the_latency_histogram_matches_prometheus_clients_own() -> None:
    metrics = Metrics("orders")
    reference_registry = CollectorRegistry()
    reference = Histogram("event_processing_seconds", "Time from receipt to handler completion", ["service"],
                          buckets=LATENCY_BUCKETS, registry=reference_registry).labels("orders")
    # Below the first bound, on a bound (le is inclusive), between bounds, above the last one.
    for seconds in (0.0001, 0.0005, 0.003, 0.7, 0.7, 10.0, 20.0):
        metrics.latency.observe(seconds)
        reference.observe(seconds)
    ours = exposition(metrics.registry)
    assert ours == exposition(reference_registry)
    assert 'event_processing_seconds_bucket{le="0.0005",service="orders"} 2.0' in ours
    assert 'event_processing_seconds_count{service="orders"} 7.0' in ours
