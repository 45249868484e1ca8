"""The topics of the order pipeline: one place for the services, the tests and the Pulumi
KafkaTopic resources to agree on names, partitions and cleanup policies."""

from __future__ import annotations

from dataclasses import dataclass, field

ORDERS = "orders"
INVENTORY = "inventory"
PAYMENTS = "payments"
SHIPMENTS = "shipments"
# The pipeline's event topics (each consumer group gets a .dlq twin); the platform's presets
# declare these on each broker (event_platform.apps.orders.stack).
EVENT_TOPICS = (ORDERS, INVENTORY, PAYMENTS, SHIPMENTS)

SERVICES = ("order-service", "inventory-service", "payment-service", "shipping-service", "notification-service")
# Services with side effects outside Kafka keep an effects journal (compacted topic).
JOURNALED = ("payment-service", "shipping-service", "notification-service")


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 3
    config: dict[str, str] = field(default_factory=dict)


def pipeline_topics(partitions: int = 3) -> list[TopicSpec]:
    """Event topics, per-group dead-letter topics and effect journals."""
    # Event-sourced state is rebuilt from these: they must never be compacted or expire.
    keep_forever = {"retention.ms": "-1", "cleanup.policy": "delete"}
    specs = [TopicSpec(name, partitions, dict(keep_forever)) for name in EVENT_TOPICS]
    groups = list(SERVICES)
    specs += [TopicSpec(f"{group}.dlq", 1, {"retention.ms": str(14 * 24 * 3600 * 1000)}) for group in groups]
    specs += [TopicSpec(f"{service}.effects", 1, {"cleanup.policy": "compact"}) for service in JOURNALED]
    return specs
