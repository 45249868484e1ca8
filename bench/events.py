"""The event every benchmark sends (~200 bytes), shared by the Kafka and the broker benchmarks.

Its own module so that a RabbitMQ or NATS benchmark process does not import kafka-python: each
measured run is a fresh process, and imports are most of its start-up.
"""

from __future__ import annotations

import time
from typing import Any

from event_platform.apps.runtime.events import EventPayload, EventRegistry

NOTE = "x" * 80  # ~200-byte payloads, like a small business event


class OrderPlacedV1(EventPayload):
    EVENT_TYPE = "io.eventplatform.bench.order-placed.v1"
    seq: int
    order_id: str
    amount_cents: int
    sent_ns: int
    note: str


REGISTRY = EventRegistry(OrderPlacedV1)


def payload_fields(seq: int) -> dict[str, Any]:
    return {"seq": seq, "order_id": f"ord-{seq:09d}", "amount_cents": 1250 + seq % 100,
            "sent_ns": time.time_ns(), "note": NOTE}
