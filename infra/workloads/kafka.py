"""A workload on Kafka: its dead-letter and effects topics, a KafkaUser with least-privilege ACLs,
SCRAM credentials and the cluster CA in its namespace, lag-based scaling and a lag alert."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pulumi

from event_platform.infra import kafka as kafka_mod
from event_platform.infra.kafka import KafkaAccess
from event_platform.infra.workloads.broker import Binding, BrokerWiring, EnvironmentShape, WorkloadScope

if TYPE_CHECKING:
    from event_platform.infra.workloads.args import Autoscaling, EventWorkloadArgs

KAFKA_CA_DIR = "/etc/kafka-ca"
DEAD_LETTER_RETENTION_MS = 14 * 24 * 3600 * 1000


@dataclass(frozen=True, kw_only=True)
class KafkaWiring(BrokerWiring):
    kind: ClassVar[str] = "kafka"
    access: KafkaAccess  # KafkaCluster.access(), or built from the platform stack's outputs
    partitions: int | None = None  # fewest partitions among the consumed topics, for the replica guardrail
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"

    def security_protocol(self) -> str:
        return ("SASL_" if self.access.scram else "") + ("SSL" if self.access.tls else "PLAINTEXT")

    def environment(self, args: EventWorkloadArgs) -> EnvironmentShape:
        shape = EnvironmentShape(literal={"AUTO_OFFSET_RESET": self.auto_offset_reset,
                                          "KAFKA_SECURITY_PROTOCOL": self.security_protocol()},
                                 deferred={"KAFKA_BOOTSTRAP_SERVERS"})
        if self.access.scram:
            shape.literal["KAFKA_SASL_MECHANISM"] = "SCRAM-SHA-512"
            shape.from_secrets |= {"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"}
        if self.access.tls:
            shape.literal["KAFKA_SSL_CAFILE"] = f"{KAFKA_CA_DIR}/ca.crt"
            shape.mounts.append(KAFKA_CA_DIR)
        return shape

    def problems(self, args: EventWorkloadArgs) -> list[str]:
        if self.access.tls and self.access.ca_cert is None:
            return ["tls needs ca_cert, the cluster CA the client verifies the listener with"]
        return []

    def scaling_plan(self, args: EventWorkloadArgs, scaling: Autoscaling) -> dict[str, Any]:
        return {
            "consumer_group": args.group,
            "scaler_consumer_group": scaling.scaler_consumer_group or args.group,
            "client_offset_reset": self.auto_offset_reset,
            "scaler_offset_reset": scaling.scaler_offset_reset or self.auto_offset_reset,
            "partitions": self.partitions if args.role == "consumer" else None,
        }

    def bind(self, workload: WorkloadScope) -> Binding:
        args, name, access = workload.args, workload.resource_name, self.access
        binding = Binding(env={"KAFKA_BOOTSTRAP_SERVERS": access.bootstrap_servers})
        owned: dict[str, dict[str, Any]] = {}
        if args.role == "consumer":
            owned[f"{args.group}.dlq"] = {"retention.ms": DEAD_LETTER_RETENTION_MS}
        if self.effects_journal:
            owned[f"{args.group}.effects"] = {"cleanup.policy": "compact"}
        for topic, topic_config in owned.items():
            kafka_mod.KafkaTopic(
                f"{name}-topic-{kafka_mod.resource_safe(topic)}",
                kafka_mod.KafkaTopicArgs(
                    namespace=access.namespace, cluster_name=access.cluster_name, topic_name=topic,
                    partitions=1, replicas=access.replication_factor,
                    min_insync_replicas=access.min_insync_replicas, protect=access.protect, config=topic_config,
                ),
                opts=workload.child_options(),
            )
        if access.scram:
            acl = [kafka_mod.TopicAccess(t, ["Write", "Describe"]) for t in self.produces]
            acl += [kafka_mod.TopicAccess(t, ["Read", "Write", "Describe"]) for t in owned]
            acl += [kafka_mod.TopicAccess(t, ["Read", "Describe"])
                    for t in dict.fromkeys([*self.consumes, *self.reads]) if t not in self.produces]
            user = kafka_mod.KafkaUser(
                f"{name}-kafka-user",
                kafka_mod.KafkaUserArgs(
                    namespace=access.namespace, cluster_name=access.cluster_name, user_name=args.service_name,
                    topics=acl, consumer_group=args.group if args.role == "consumer" else None,
                    transactional_id=args.group,
                ),
                opts=workload.child_options(),
            )
            # The pod reads its password from a Secret in its own namespace: a copy of the
            # generated one, never a literal in the manifest.
            secret = workload.credentials("kafka", {"username": args.service_name, "password": user.password})
            binding.secret_variable("KAFKA_SASL_USERNAME", secret, "username")
            binding.secret_variable("KAFKA_SASL_PASSWORD", secret, "password")
            binding.trigger_auth += [{"parameter": "username", "name": secret, "key": "username"},
                                     {"parameter": "password", "name": secret, "key": "password"}]
        if access.tls:
            assert access.ca_cert is not None  # refused earlier (problems)
            ca_secret = workload.ca_copy("kafka", access.ca_cert)
            binding.mount("kafka-ca", ca_secret, KAFKA_CA_DIR)
            binding.trigger_auth.append({"parameter": "ca", "name": ca_secret, "key": "ca.crt"})
        return binding

    def triggers(self, args: EventWorkloadArgs, scaling: Autoscaling, binding: Binding) -> list[dict[str, Any]]:
        metadata: dict[str, Any] = {
            "bootstrapServers": self.access.bootstrap_servers,
            "consumerGroup": scaling.scaler_consumer_group or args.group,
            "lagThreshold": str(scaling.lag_threshold),
            "activationLagThreshold": str(scaling.activation_threshold),
            "offsetResetPolicy": scaling.scaler_offset_reset or self.auto_offset_reset,
            "allowIdleConsumers": str(scaling.allow_idle_consumers).lower(),
            # A poison message stuck on one partition must not keep the workload scaled up.
            "excludePersistentLag": "true",
        }
        if len(self.consumes) == 1:
            # With one topic KEDA caps replicas at its partitions; with several it sums the
            # group's lag over all of them.
            metadata["topic"] = self.consumes[0]
        if self.access.scram:
            metadata["sasl"] = "scram_sha512"
        if self.access.tls:
            metadata["tls"] = "enable"
        return [{"type": "kafka", "metadata": metadata}]

    def egress(self) -> tuple[pulumi.Input[str], list[int]]:
        return self.access.namespace, [self.access.port]

    def alert_rules(self, args: EventWorkloadArgs) -> list[dict[str, Any]]:
        if args.role != "consumer":
            return []
        service = args.service_name
        threshold = (args.autoscaling.lag_threshold if args.autoscaling else 50) * 20
        return [{
            "alert": "EventWorkloadConsumerLag", "for": "10m",
            "expr": f'sum(kafka_consumergroup_lag{{consumergroup="{args.group}"}}) > {threshold}',
            "labels": {"severity": "warning", "service": service},
            "annotations": {"summary": f"{service}: consumer group {args.group} lags by more than {threshold}",
                            "runbook": "docs/alerts.md#eventworkloadconsumerlag"}}]
