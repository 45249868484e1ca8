"""What one workload declares: its args, its autoscaling, and the constants its pod is built with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi

from event_platform.apps.runtime.topology import WorkloadTopics
from event_platform.infra.workloads.broker import BrokerWiring

SINGLETON_ANNOTATION = "eventplatform.io/singleton"
DNS_EGRESS: dict[str, Any] = {
    "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
}
HEALTH_PORT = 8080
METRICS_PORT = 9090
SHUTDOWN_TIMEOUT_S = 20


@dataclass(frozen=True)
class Autoscaling:
    min_replicas: int
    max_replicas: int
    lag_threshold: int = 50
    activation_threshold: int = 1
    cooldown_period_s: int = 300
    polling_interval_s: int = 15
    # HPA scale-down is slow and one pod at a time: every scale event rebalances the group.
    scale_down_stabilization_s: int = 300
    allow_idle_consumers: bool = False
    scaler_consumer_group: str | None = None  # defaults to the service's group
    scaler_offset_reset: str | None = None  # defaults to the client's policy


@dataclass(frozen=True)
class EventWorkloadArgs:
    namespace: pulumi.Input[str]
    namespace_name: str
    service_name: str
    image: str
    role: Literal["producer", "consumer"]
    broker: BrokerWiring  # KafkaWiring, RabbitmqWiring, NatsWiring: one class per broker
    environment: Literal["dev", "prod"]
    command: list[str]
    replicas: int = 1
    cpu: str = "100m"
    memory: str = "256Mi"
    http_port: int | None = None
    autoscaling: Autoscaling | None = None
    batch: bool = False
    singleton: bool = False  # exactly one instance, replaced (not rolled) on update
    consumer_group: str | None = None  # defaults to the service name
    extra_env: dict[str, str] = field(default_factory=dict)
    monitoring_namespace: str = "monitoring"
    # Labels Prometheus selects rules by; None when the platform runs no monitoring stack
    # (then there is no PrometheusRule kind to declare).
    rule_labels: dict[str, str] | None = field(default_factory=lambda: {"release": "kps"})
    keda: pulumi.Resource | None = None

    @property
    def group(self) -> str:
        return self.consumer_group or self.service_name

    @property
    def scaled(self) -> bool:
        """KEDA owns the replica count: an autoscaled consumer."""
        return self.autoscaling is not None and self.role == "consumer"

    @property
    def topics(self) -> WorkloadTopics:
        """The names the runtime declares and uses for this workload (event_platform.apps.runtime.topology)."""
        wiring = self.broker
        return WorkloadTopics(
            group=self.group, consumes=list(wiring.consumes) if self.role == "consumer" else [],
            produces=list(wiring.produces), reads=list(wiring.reads),
            effects_journal=f"{self.group}.effects" if wiring.effects_journal else None,
        )


def workload_topics(args: EventWorkloadArgs) -> WorkloadTopics:
    return args.topics
