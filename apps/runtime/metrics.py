"""Prometheus metrics of one processor, in their own registry (no process-wide globals).

Names follow the platform's dashboards: `events_*_total`, `event_processing_seconds`,
`events_in_flight`; every series carries `service`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Metrics:
    service: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        labels = ["service", "type"]
        self.events_in = Counter(
            "events_in", "Events received", labels, registry=self.registry
        )
        self.events_out = Counter(
            "events_out", "Events published", ["service", "topic"], registry=self.registry
        )
        self.events_failed = Counter(
            "events_failed", "Failed processing attempts", ["service", "reason"], registry=self.registry
        )
        self.events_dead_lettered = Counter(
            "events_dead_lettered", "Events sent to the dead-letter topic", ["service", "reason"],
            registry=self.registry,
        )
        self.latency = LatencyHistogram(
            "event_processing_seconds", "Time from receipt to handler completion", self.service, LATENCY_BUCKETS,
        )
        self.registry.register(self.latency)
        self.in_flight = Gauge(
            "events_in_flight", "Events received but not yet committed", ["service"], registry=self.registry
        )
        self.effects_replayed = Counter(
            "effects_replayed", "Side effects skipped because the journal had their result",
            ["service"], registry=self.registry,
        )
        self._received_by_type: dict[str, Any] = {}
        self.in_flight_now = self.in_flight.labels(self.service)

    def received(self, event_type: str, count: int = 1) -> None:
        child = self._received_by_type.get(event_type)
        if child is None:  # labels() costs a lock and a dict build; once per type is enough
            child = self._received_by_type[event_type] = self.events_in.labels(self.service, event_type)
        child.inc(count)

    def published(self, topic: str, count: int = 1) -> None:
        self.events_out.labels(self.service, topic).inc(count)

    def failed(self, reason: str) -> None:
        self.events_failed.labels(self.service, reason).inc()

    def dead_lettered(self, reason: str) -> None:
        self.events_dead_lettered.labels(self.service, reason).inc()

    def serve(self, port: int) -> None:
        """Expose /metrics on `port` (0 picks a free one; tests use that)."""
        start_http_server(port, registry=self.registry)


class LatencyHistogram(Collector):
    """A one-series Prometheus histogram whose `observe` counts in plain ints after one bisect.

    prometheus_client's Histogram takes two locks per observation (sum and bucket), ~1.3 µs, and
    this is observed once per event. Only the processor's thread observes; a scrape copies the
    counts, so it sees each observation either fully or not at all (the sum may trail by one).
    """

    def __init__(self, name: str, documentation: str, service: str, buckets: Sequence[float]) -> None:
        self._name, self._documentation, self._service = name, documentation, service
        self._bounds = sorted(float(bound) for bound in buckets)
        self._counts = [0] * (len(self._bounds) + 1)  # the last one is +Inf
        self._sum = 0.0

    def observe(self, seconds: float) -> None:
        self._counts[bisect_left(self._bounds, seconds)] += 1  # le is inclusive: bound >= value
        self._sum += seconds

    def collect(self) -> Iterator[Metric]:
        counts, total = list(self._counts), self._sum
        family = HistogramMetricFamily(self._name, self._documentation, labels=["service"])
        cumulative, buckets = 0, []
        for bound, count in zip([*map(repr, self._bounds), "+Inf"], counts, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        family.add_metric([self._service], buckets, total)
        yield family
