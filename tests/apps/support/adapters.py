"""Helpers the per-broker adapter tests share: an order event, publishing with the broker's
codec, and polling a consumer until enough records arrived."""

from __future__ import annotations

import time

from event_platform.apps.orders.events import ORDER_EVENTS, OrderCreatedV1, OrderDetails
from event_platform.apps.runtime.adapter import Broker, Consumer, InboundRecord, OutboundRecord
from event_platform.apps.runtime.envelope import ContentMode, Envelope
from tests.apps.support.pipeline import order


def event(n: int) -> Envelope:
    return Envelope(payload=OrderCreatedV1(order_id=f"ord_{n}", order=OrderDetails.model_validate(order(n))),
                    source="/test", key=f"ord_{n}")


def publish(broker: Broker, topic: str, *events: Envelope, mode: ContentMode = ContentMode.BINARY) -> None:
    publisher, codec = broker.publisher(), broker.codec(ORDER_EVENTS, mode)
    try:
        for item in events:
            publisher.publish(OutboundRecord(topic, codec.encode(item)))
        publisher.flush(30)
    finally:
        publisher.close()


def poll_until(consumer: Consumer, count: int, timeout_s: float = 20) -> list[InboundRecord]:
    records: list[InboundRecord] = []
    deadline = time.monotonic() + timeout_s
    while len(records) < count and time.monotonic() < deadline:
        records += consumer.poll(0.5, 100)
    return records
