"""Workloads on the platform: EventWorkload (one service wired to its broker) and EventGenerator.

- ``args``: what a workload declares (EventWorkloadArgs, Autoscaling)
- ``broker``: the base of the per-broker wirings and their registry (WIRINGS)
- ``kafka``, ``rabbitmq``, ``nats``: one wiring class per broker
- ``environment``: the environment and scaling plan derived before anything is declared
- ``component``: EventWorkload; ``autoscaling``: its ScaledObject; ``monitoring``: alerts,
  PodMonitor and dashboard; ``generator``: EventGenerator
"""

from event_platform.infra.workloads.args import (
    DNS_EGRESS,
    HEALTH_PORT,
    METRICS_PORT,
    SHUTDOWN_TIMEOUT_S,
    SINGLETON_ANNOTATION,
    Autoscaling,
    EventWorkloadArgs,
    workload_topics,
)
from event_platform.infra.workloads.broker import (
    CA_NOT_YET_ISSUED,
    WIRINGS,
    Binding,
    BrokerWiring,
    EnvironmentShape,
    WorkloadScope,
)
from event_platform.infra.workloads.component import EventWorkload
from event_platform.infra.workloads.environment import (
    broker_literals,
    declared_environment,
    scaling_plan,
    wiring_contract_problems,
)
from event_platform.infra.workloads.generator import EventGenerator, EventGeneratorArgs
from event_platform.infra.workloads.kafka import KAFKA_CA_DIR, KafkaWiring
from event_platform.infra.workloads.monitoring import workload_dashboard
from event_platform.infra.workloads.nats import NATS_CA_DIR, NatsWiring
from event_platform.infra.workloads.rabbitmq import RabbitmqWiring

__all__ = [
    "CA_NOT_YET_ISSUED", "DNS_EGRESS", "HEALTH_PORT", "KAFKA_CA_DIR", "METRICS_PORT", "NATS_CA_DIR",
    "SHUTDOWN_TIMEOUT_S", "SINGLETON_ANNOTATION", "WIRINGS", "Autoscaling", "Binding", "BrokerWiring",
    "EnvironmentShape", "EventGenerator", "EventGeneratorArgs", "EventWorkload", "EventWorkloadArgs", "KafkaWiring",
    "NatsWiring", "RabbitmqWiring", "WorkloadScope", "broker_literals", "declared_environment", "scaling_plan",
    "wiring_contract_problems", "workload_dashboard", "workload_topics",
]
