"""The workloads phase of EventPlatform: stack-file services → EventWorkload components.

Kept apart from platform.py so the add-on phases and the workload wiring each stay readable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi

from event_platform.infra import observability
from event_platform.infra.config import WorkloadConfig, nats_stream_for
from event_platform.infra.workloads import (
    CA_NOT_YET_ISSUED,
    Autoscaling,
    BrokerWiring,
    EventGenerator,
    EventGeneratorArgs,
    EventWorkload,
    EventWorkloadArgs,
    KafkaWiring,
    NatsWiring,
    RabbitmqWiring,
)

if TYPE_CHECKING:
    from event_platform.infra.platform import EventPlatform


def declare_workloads(platform: EventPlatform) -> None:
    cfg = platform.config.workloads
    namespace = platform._namespace("apps", name=cfg.namespace, allow_platform_ingress=False)
    declared: dict[str, EventWorkload] = {}
    for service in cfg.services:
        wiring = _wiring(platform, service)
        scaling = service.autoscaling
        declared[service.name] = EventWorkload(
            service.name,
            EventWorkloadArgs(
                namespace=namespace.name,
                namespace_name=cfg.namespace,
                service_name=service.name,
                image=cfg.image,
                role=service.role,
                broker=wiring,
                environment=platform.config.environment,
                command=["python", "-m", service.module],
                replicas=service.replicas,
                cpu=service.cpu,
                memory=service.memory,
                http_port=service.http_port,
                autoscaling=Autoscaling(
                    min_replicas=scaling.min_replicas, max_replicas=scaling.max_replicas,
                    lag_threshold=scaling.lag_threshold, activation_threshold=scaling.activation_threshold,
                    cooldown_period_s=scaling.cooldown_period_s, allow_idle_consumers=scaling.allow_idle_consumers,
                ) if scaling else None,
                batch=service.batch,
                singleton=service.singleton,
                extra_env=service.env,
                monitoring_namespace="monitoring",
                rule_labels=dict(observability.SELECTOR_LABELS) if platform.monitoring else None,
                keda=platform.keda.chart if platform.keda else None,
            ),
            # Their PodMonitors and PrometheusRules need the monitoring stack's CRDs first.
            platform._after_monitoring([namespace, *_broker_dependencies(platform, service)]),
        )
    api = next((s for s in cfg.services if s.http_port), None)
    if cfg.generator.enabled and api is not None:
        EventGenerator(
            "event-generator",
            EventGeneratorArgs(namespace=namespace.name, image=cfg.image, target_service=api.name,
                               target_port=api.http_port or 0, schedule=cfg.generator.schedule,
                               count=cfg.generator.count, rate_per_s=cfg.generator.rate_per_s),
            platform._opts([declared[api.name]]),
        )
    platform.outputs["workloads"] = {"namespace": namespace.name, "services": [s.name for s in cfg.services]}


def _broker_dependencies(platform: EventPlatform, service: WorkloadConfig) -> list[pulumi.Resource]:
    broker = {"kafka": platform.kafka_cluster, "rabbitmq": platform.rabbitmq_cluster,
              "nats": platform.nats_jetstream}[service.broker]
    if broker is None:
        raise pulumi.RunError(
            f"workload {service.name!r} uses {service.broker}, which is switched off: enable "
            f"event-platform:platform.{service.broker} or change the workload's broker"
        )
    return [broker]


def _kafka_ca(platform: EventPlatform, service: WorkloadConfig) -> pulumi.Input[str]:
    """The cluster CA for the workload's copy; in render mode it does not exist yet, so the copy
    is rendered without it (CA_NOT_YET_ISSUED) and the platform reports the gap by name."""
    ca = platform._kafka_cluster_ca(f"{service.name}-kafka-ca")
    return CA_NOT_YET_ISSUED if ca is None else ca


def _wiring(platform: EventPlatform, service: WorkloadConfig) -> BrokerWiring:
    config = platform.config
    if service.broker == "kafka":
        kafka = config.kafka
        cluster = platform.kafka_cluster
        assert cluster is not None
        partitions = {t.name: t.partitions for t in kafka.topics}
        consumed = [partitions[t] for t in service.consumes if t in partitions]
        return KafkaWiring(
            bootstrap_servers=cluster.bootstrap_servers, cluster_name=kafka.cluster_name, namespace="kafka",
            consumes=service.consumes, partitions=min(consumed) if consumed else None, produces=service.produces,
            reads=service.reads, effects_journal=service.effects_journal, auto_offset_reset=service.auto_offset_reset,
            scram=kafka.authentication == "scram-sha-512", tls=kafka.tls, port=cluster.listener_port,
            replication_factor=kafka.replication_factor, min_insync_replicas=kafka.min_insync_replicas,
            protect=config.protect_stateful, ca_cert=_kafka_ca(platform, service) if kafka.tls else None,
        )
    if service.broker == "rabbitmq":
        rabbit = platform.rabbitmq_cluster
        assert rabbit is not None
        limits = {t.name: t.delivery_limit for t in config.rabbitmq.topics}
        return RabbitmqWiring(
            host=rabbit.host, namespace="rabbitmq", cluster_name=config.rabbitmq.cluster_name,
            consumes=service.consumes, produces=service.produces, reads=service.reads,
            effects_journal=service.effects_journal,
            # One limit per process: the strictest among the topics it consumes.
            delivery_limit=min([limits[t] for t in service.consumes if t in limits] or [5]),
        )
    nats = platform.nats_jetstream
    assert nats is not None
    # The config check guarantees a stream per topic (config.nats_stream_for); never a bare next().
    streams = [stream for topic in service.consumes if (stream := nats_stream_for(config.nats, topic))]
    return NatsWiring(
        url=nats.url, monitoring_endpoint=nats.monitoring_endpoint, namespace="nats",
        consumes=service.consumes, produces=service.produces, reads=service.reads,
        effects_journal=service.effects_journal,
        max_deliver=min([s.max_deliver for s in streams] or [5]),
        stream_replicas=min(config.nats.replicas, 3),
        password=nats.password_of(service.name), ca_cert=_nats_ca(platform, service) if config.nats.tls else None,
    )


def _nats_ca(platform: EventPlatform, service: WorkloadConfig) -> pulumi.Input[str]:
    """The NATS servers' CA for the workload's copy; not issued yet in render mode (a named gap)."""
    assert platform.nats_jetstream is not None
    if platform.nats_jetstream.ca_cert is not None:
        return platform.nats_jetstream.ca_cert
    gap = f"Secret {service.name}-nats-ca: ca.crt (cert-manager issues the NATS CA only in a cluster)"
    platform.outputs.setdefault("render_gaps", []).append(gap)
    pulumi.log.warn(f"render mode: {gap}", resource=platform)
    return CA_NOT_YET_ISSUED
