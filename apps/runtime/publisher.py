"""Publishing events from code that is not a consumer (HTTP APIs, generators, jobs)."""

from __future__ import annotations

from typing import Any

from apps.runtime.adapter import OutboundRecord, Publisher
from apps.runtime.envelope import Codec, Envelope
from apps.runtime.metrics import Metrics


class EventPublisher:
    """Encodes envelopes as CloudEvents and hands them to the broker's durable publisher."""

    def __init__(self, publisher: Publisher, codec: Codec, metrics: Metrics | None = None) -> None:
        self._publisher = publisher
        self._codec = codec
        self._metrics = metrics
        self._sent_to: dict[str, Any] = {}

    def publish(self, topic: str, event: Envelope) -> None:
        """Queue `event`; delivery failures surface from `flush`."""
        self._publisher.publish(OutboundRecord(topic, self._codec.encode(event)))
        self._count(topic)

    def publish_and_wait(self, topic: str, event: Envelope, timeout_s: float = 10.0) -> None:
        """Return only once the broker has acknowledged `event` (acks=all)."""
        self._publisher.publish_and_wait(OutboundRecord(topic, self._codec.encode(event)), timeout_s)
        self._count(topic)

    def _count(self, topic: str) -> None:
        if self._metrics is None:
            return
        counter = self._sent_to.get(topic)
        if counter is None:
            counter = self._sent_to[topic] = self._metrics.events_out.labels(self._metrics.service, topic)
        counter.inc()

    def flush(self, timeout_s: float = 30.0) -> None:
        self._publisher.flush(timeout_s)

    def close(self) -> None:
        self._publisher.close()
