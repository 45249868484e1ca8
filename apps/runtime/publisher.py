"""Publishing events from code that is not a consumer (HTTP APIs, generators, jobs)."""

from __future__ import annotations

from event_platform.apps.runtime.adapter import OutboundRecord, Publisher
from event_platform.apps.runtime.envelope import Codec, Envelope
from event_platform.apps.runtime.metrics import Metrics

COUNT_BATCH = 256


class EventPublisher:
    """Encodes envelopes as CloudEvents and hands them to the broker's durable publisher."""

    def __init__(self, publisher: Publisher, codec: Codec, metrics: Metrics | None = None) -> None:
        self._publisher = publisher
        self._codec = codec
        self._metrics = metrics
        self._unreported: dict[str, int] = {}
        self._unreported_total = 0

    def publish(self, topic: str, event: Envelope) -> None:
        """Queue `event`; delivery failures surface from `flush`."""
        self._publisher.publish(OutboundRecord(topic, self._codec.encode(event)))
        self._count(topic)

    def publish_and_wait(self, topic: str, event: Envelope, timeout_s: float = 10.0) -> None:
        """Return only once the broker has acknowledged `event` (acks=all)."""
        self._publisher.publish_and_wait(OutboundRecord(topic, self._codec.encode(event)), timeout_s)
        self._count(topic)
        self._report()  # one event at a time (an API request): no reason to hold the count back

    def _count(self, topic: str) -> None:
        # Counted locally and added to Prometheus every COUNT_BATCH events and on flush: a
        # Prometheus increment takes a lock, which is a measurable share of a publish.
        self._unreported[topic] = self._unreported.get(topic, 0) + 1
        self._unreported_total += 1
        if self._unreported_total >= COUNT_BATCH:
            self._report()

    def _report(self) -> None:
        if self._metrics is not None:
            for topic, count in self._unreported.items():
                self._metrics.published(topic, count)
        self._unreported.clear()
        self._unreported_total = 0

    def flush(self, timeout_s: float = 30.0) -> None:
        self._report()
        self._publisher.flush(timeout_s)

    def close(self) -> None:
        self._report()
        self._publisher.close()
