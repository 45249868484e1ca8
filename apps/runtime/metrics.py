"""Prometheus metrics of one processor, in their own registry (no process-wide globals).

Names follow the platform's dashboards: `events_*_total`, `event_processing_seconds`,
`events_in_flight`; every series carries `service`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

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
        self.processing_seconds = Histogram(
            "event_processing_seconds", "Time from receipt to handler completion", ["service"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.in_flight = Gauge(
            "events_in_flight", "Events received but not yet committed", ["service"], registry=self.registry
        )
        self.effects_replayed = Counter(
            "effects_replayed", "Side effects skipped because the journal had their result",
            ["service"], registry=self.registry,
        )
        self.latency = self.processing_seconds.labels(self.service)
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
