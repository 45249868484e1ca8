"""Every environment's preset: what a stack file that sets only ``environment`` gets. The order
pipeline's part (topics, streams, services, push path) is the demo's own (event_platform.apps.orders.stack)."""

from __future__ import annotations

from typing import Any

from event_platform.apps.orders import stack as pipeline
from event_platform.apps.orders.topics import EVENT_TOPICS
from event_platform.infra import artifacts

PRESETS: dict[str, dict[str, Any]] = {
    "dev": {
        "protect_stateful": False,
        "kafka": {
            "cluster_name": "events",
            "dual_role": True,
            "controllers": 1,
            "brokers": 1,
            "storage": {"type": "ephemeral", "size": "2Gi", "delete_claim": True},
            "replication_factor": 1,
            "min_insync_replicas": 1,
            "authentication": "none",
            "tls": False,
            "topics": pipeline.topics(3),
        },
        "rabbitmq": {
            "cluster_name": "events",
            "replicas": 1,
            "storage": {"type": "persistent", "size": "2Gi", "delete_claim": True},
            "cpu": "500m",
            "memory": "1Gi",
            "topics": [{"name": name} for name in EVENT_TOPICS],
        },
        "nats": {
            "release_name": "nats",
            "replicas": 1,
            "jetstream_storage": {"type": "persistent", "size": "2Gi", "delete_claim": True},
            "tls": False,
            "streams": pipeline.streams(replicas=1),
        },
        "keda": {},
        "workloads": {"image": artifacts.APPS_IMAGE, "services": pipeline.services(prod=False)},
        "knative": {
            "broker_class": "MTChannelBasedBroker",
            "broker_topic_partitions": 1,
            "delivery": {"retry": 3, "backoff_policy": "exponential", "backoff_delay": "PT0.2S"},
            "high_availability": 1,
            "scale_to_zero": True,
            # A heartbeat through the broker: the quickest proof that delivery works.
            **pipeline.push_path(prod=False),
        },
        "observability": {
            "retention": "2d",
            "storage": {"type": "ephemeral", "size": "5Gi", "delete_claim": True},
            "prometheus_replicas": 1,
            "prometheus_memory": "1Gi",
            "alertmanager_replicas": 1,
            "alerts": {
                "consumer_lag": 100,
                "consumer_lag_for": "5m",
                "queue_depth": 100,
                "error_ratio": 0.2,
                "error_ratio_for": "5m",
                "broker_down_for": "2m",
                "delivery_failure_ratio": 0.2,
            },
        },
    },
    "prod": {
        "protect_stateful": True,
        "kafka": {
            "cluster_name": "events",
            "dual_role": False,
            "controllers": 3,
            "brokers": 3,
            "storage": {"type": "persistent", "size": "100Gi", "delete_claim": False},
            "replication_factor": 3,
            "min_insync_replicas": 2,
            "authentication": "scram-sha-512",
            "tls": True,
            "topics": pipeline.topics(6),
        },
        "rabbitmq": {
            "cluster_name": "events",
            "replicas": 3,
            "storage": {"type": "persistent", "size": "50Gi", "delete_claim": False},
            "cpu": "2",
            "memory": "4Gi",
            "topics": [{"name": name} for name in EVENT_TOPICS],
        },
        "nats": {
            "release_name": "nats",
            "replicas": 3,
            "jetstream_storage": {"type": "persistent", "size": "20Gi", "delete_claim": False},
            "tls": True,
            "streams": pipeline.streams(replicas=3),
        },
        "keda": {},
        "workloads": {"image": artifacts.APPS_IMAGE, "services": pipeline.services(prod=True)},
        "knative": {
            "broker_class": "Kafka",
            "broker_topic_partitions": 12,
            "broker_topic_replicas": 3,
            "delivery": {"retry": 10, "backoff_policy": "exponential", "backoff_delay": "PT0.5S"},
            "high_availability": 2,
            "scale_to_zero": False,
            **pipeline.push_path(prod=True),
        },
        "observability": {
            "retention": "15d",
            "retention_size": "45GB",
            "storage": {"type": "persistent", "size": "50Gi", "delete_claim": False},
            "prometheus_replicas": 2,
            "prometheus_memory": "4Gi",
            "alertmanager_replicas": 3,
            "alerts": {
                "consumer_lag": 1000,
                "consumer_lag_for": "10m",
                "queue_depth": 1000,
                "error_ratio": 0.05,
                "error_ratio_for": "10m",
                "broker_down_for": "5m",
                "delivery_failure_ratio": 0.05,
            },
        },
    },
}
