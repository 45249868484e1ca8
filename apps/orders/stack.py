"""The order pipeline as the platform's presets declare it (event_platform.infra.config.presets):
its topics, streams, services and push path. Plain data, so the runtime image needs no Pulumi."""

from __future__ import annotations

from typing import Any

from event_platform.apps.orders.topics import EVENT_TOPICS
from event_platform.apps.runtime.topology import stream_name


def topics(partitions: int) -> list[dict[str, Any]]:
    """kafka.topics / rabbitmq.topics entries; each gets a .dlq twin."""
    # Event-sourced state is rebuilt from these logs: keep them forever.
    return [{"name": name, "partitions": partitions, "retention_ms": -1} for name in EVENT_TOPICS]


def streams(replicas: int) -> list[dict[str, Any]]:
    """nats.streams entries, named as the runtime names a topic's stream, so the runtime finds
    (never recreates) them."""
    return [{"name": stream_name(name), "subjects": [name], "replicas": replicas} for name in EVENT_TOPICS]


def services(prod: bool) -> list[dict[str, Any]]:
    """The order services: scale-to-zero where safe in dev; at least 2 replicas in prod."""
    def scaled(dev_min: int) -> dict[str, Any]:
        return {"min_replicas": 2, "max_replicas": 6} if prod else {"min_replicas": dev_min, "max_replicas": 3}

    return [
        {"name": "order-service", "module": "event_platform.apps.orders.order_service",
         "consumes": ["inventory", "shipments"], "reads": ["orders", "payments"], "produces": ["orders"],
         "http_port": 8000, "autoscaling": scaled(1)},
        # One stock ledger, rebuilt from its own log: exactly one instance.
        {"name": "inventory-service", "module": "event_platform.apps.orders.inventory_service",
         "consumes": ["orders", "payments"], "reads": ["inventory"], "produces": ["inventory"], "singleton": True},
        {"name": "payment-service", "module": "event_platform.apps.orders.payment_service", "consumes": ["inventory"],
         "produces": ["payments"], "effects_journal": True, "autoscaling": scaled(0)},
        {"name": "shipping-service", "module": "event_platform.apps.orders.shipping_service", "consumes": ["payments"],
         "produces": ["shipments"], "effects_journal": True, "autoscaling": scaled(0)},
        {"name": "notification-service", "module": "event_platform.apps.orders.notification_service",
         "consumes": ["orders"], "effects_journal": True, "autoscaling": scaled(0)},
    ]


def push_path(prod: bool) -> dict[str, Any]:
    """The push path of the order pipeline: the `orders` topic into the Broker (KafkaSource), a
    Trigger filtering the order-service's events to order-audit, and the heartbeat PingSource
    routed to it too, so the whole delivery path is exercised every minute."""
    delivery = ({"retry": 10, "backoff_policy": "exponential", "backoff_delay": "PT0.5S"} if prod
                else {"retry": 3, "backoff_policy": "exponential", "backoff_delay": "PT0.2S"})
    return {
        "ping_sources": [{"name": "heartbeat", "schedule": "*/1 * * * *", "data": '{"ping": true}'}],
        "kafka_sources": [{"name": "orders-into-broker", "topics": ["orders"],
                           "consumer_group": "knative-orders-into-broker", "initial_offset": "earliest"}],
        "push_services": [{
            "name": "order-audit", "module": "event_platform.apps.orders.audit_service",
            "filter": {"source": "/services/order"}, "delivery": delivery,
            "timeout": "PT30S" if prod else "PT10S", "replicas": 2 if prod else 1, "heartbeat": "heartbeat",
        }],
    }
