"""Apache Kafka through Strimzi: operator, KRaft cluster with node pools, topics and users."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from event_platform.infra import artifacts
from event_platform.infra.base import MANAGED_BY, child, custom_resource, zone_spread
from event_platform.infra.charts import ChartTemplating, helm_chart, ready_of, with_extra_values

API = "kafka.strimzi.io/v1"
CLUSTER_LABEL = "strimzi.io/cluster"
PLAIN_PORT = 9092
TLS_PORT = 9093

# JMX exporter rules: the broker, request, log and controller families, named after the MBean
# so dashboards can find them. Kept deliberately small; extend with care (each rule is a regex
# evaluated on every scrape).
JMX_EXPORTER_RULES = """\
lowercaseOutputName: true
lowercaseOutputLabelNames: true
rules:
  - pattern: "kafka.server<type=(.+), name=(.+), clientId=(.+), topic=(.+), partition=(.*)><>Value"
    name: kafka_server_$1_$2
    type: GAUGE
    labels: {clientId: "$3", topic: "$4", partition: "$5"}
  - pattern: "kafka.server<type=(.+), name=(.+)PerSec\\\\w*, topic=(.+)><>Count"
    name: kafka_server_$1_$2_total
    type: COUNTER
    labels: {topic: "$3"}
  - pattern: "kafka.server<type=(.+), name=(.+)PerSec\\\\w*><>Count"
    name: kafka_server_$1_$2_total
    type: COUNTER
  - pattern: "kafka.server<type=(.+), name=(.+)><>Value"
    name: kafka_server_$1_$2
    type: GAUGE
  - pattern: "kafka.controller<type=(.+), name=(.+)><>Value"
    name: kafka_controller_$1_$2
    type: GAUGE
  - pattern: "kafka.network<type=(.+), name=(.+), request=(.+)><>(Count|99thPercentile)"
    name: kafka_network_$1_$2
    labels: {request: "$3", quantile: "$4"}
  - pattern: "kafka.log<type=(.+), name=(.+), topic=(.+), partition=(.+)><>Value"
    name: kafka_log_$1_$2
    type: GAUGE
    labels: {topic: "$3", partition: "$4"}
"""


@dataclass(frozen=True)
class KafkaStorage:
    type: Literal["ephemeral", "persistent"]
    size: str
    delete_claim: bool
    storage_class: str | None = None

    def to_spec(self) -> dict[str, Any]:
        # JBOD with one volume carrying the KRaft metadata log: Strimzi's layout that lets
        # volumes be added later without moving the metadata.
        volume: dict[str, Any] = {"id": 0, "kraftMetadata": "shared"}
        if self.type == "ephemeral":
            volume.update(type="ephemeral", sizeLimit=self.size)
        else:
            volume.update(type="persistent-claim", size=self.size, deleteClaim=self.delete_claim)
            if self.storage_class:
                volume["class"] = self.storage_class
        return {"type": "jbod", "volumes": [volume]}


@dataclass(frozen=True)
class StrimziOperatorArgs:
    namespace: pulumi.Input[str]
    source: artifacts.ArtifactSource
    watch_namespaces: list[str] = field(default_factory=list)
    templating: ChartTemplating = field(default_factory=ChartTemplating)
    # A standby replica (Strimzi elects a leader) and a budget, so a drain never stops reconciling.
    high_availability: bool = False
    # Deleting a CRD deletes every object of its kind: a protected platform leaves Strimzi's
    # CRDs (and so its Kafka clusters, node pools, topics and users) in the cluster when it goes.
    keep_crds: bool = False
    extra_values: dict[str, Any] = field(default_factory=dict)  # merged over the chart values we set


class StrimziOperator(pulumi.ComponentResource):
    """Strimzi's CRDs (managed explicitly, so upgrades update them) and the cluster operator."""

    crds: k8s.yaml.v2.ConfigGroup
    chart: k8s.helm.v3.Chart
    charts_ready: pulumi.Output[Sequence[pulumi.Resource]]

    def __init__(self, name: str, args: StrimziOperatorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:kafka:StrimziOperator", name, None, opts)
        # Helm never upgrades a chart's crds/ folder; owning the CRDs as resources does.
        self.crds = k8s.yaml.v2.ConfigGroup(
            f"{name}-crds", **args.source.strimzi_crds(),
            # The engine passes retain-on-delete down to every CRD of the group.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=args.keep_crds),
        )
        self.chart = helm_chart(
            name, artifacts.STRIMZI, args.source, args.templating,
            namespace=args.namespace,
            skip_crds=True,
            values=with_extra_values({
                "watchNamespaces": args.watch_namespaces,
                "replicas": 2 if args.high_availability else 1,
                "podDisruptionBudget": {"enabled": args.high_availability},
                "resources": {"requests": {"cpu": "200m", "memory": "384Mi"}, "limits": {"memory": "384Mi"}},
            }, args.extra_values),
            opts=child(self, depends_on=[self.crds]),
        )
        self.charts_ready = ready_of(self.chart)
        self.register_outputs({})


@dataclass(frozen=True)
class KafkaClusterArgs:
    namespace: pulumi.Input[str]
    cluster_name: str
    version: str
    dual_role: bool
    controllers: int
    brokers: int
    storage: KafkaStorage
    replication_factor: int
    min_insync_replicas: int
    authentication: Literal["none", "scram-sha-512", "tls"]
    tls: bool
    protect: bool
    spread: bool
    operator: pulumi.Resource | None = None
    # Make Pulumi wait until Strimzi reports the cluster Ready: needed when something declared
    # later reads what the operator creates (e.g. the cluster CA Secret).
    wait_ready: bool = False


@dataclass(frozen=True)
class KafkaAccess:
    """How a client reaches a KafkaCluster: address, protocol, authentication, CA, and the topic
    settings a client's own topics get. ``KafkaCluster.access()`` fills it in; a program on another
    stack fills it in from that stack's outputs (PlatformStackReference)."""

    bootstrap_servers: pulumi.Input[str]
    cluster_name: str
    namespace: pulumi.Input[str]  # the cluster's namespace (KafkaUser/KafkaTopic live there)
    port: int = PLAIN_PORT
    scram: bool = False  # SCRAM-SHA-512 users (KafkaUser) authenticate the clients
    tls: bool = False
    # The cluster CA certificate (PEM) a client verifies the listener with; required with tls.
    ca_cert: pulumi.Input[str] | None = None
    replication_factor: int = 1
    min_insync_replicas: int = 1
    protect: bool = False  # a client's own topics are protected like the cluster's


class KafkaCluster(pulumi.ComponentResource):
    """A KRaft Kafka cluster: the Kafka resource, its node pools and its metrics config."""

    kafka: k8s.apiextensions.CustomResource
    node_pools: list[k8s.apiextensions.CustomResource]
    bootstrap_servers: pulumi.Output[str]
    listener_port: int
    cluster_name: str

    def __init__(self, name: str, args: KafkaClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:kafka:KafkaCluster", name, None, opts)
        self.cluster_name = args.cluster_name
        self._args = args
        deps = [args.operator] if args.operator else []
        metrics = k8s.core.v1.ConfigMap(
            f"{name}-metrics",
            metadata={"name": f"{args.cluster_name}-kafka-metrics", "namespace": args.namespace, "labels": MANAGED_BY},
            data={"kafka-metrics-config.yml": JMX_EXPORTER_RULES},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.listener_port = TLS_PORT if args.tls else PLAIN_PORT
        self.kafka = custom_resource(
            args.cluster_name, API, "Kafka", args.namespace, kafka_spec(args),
            child(self, depends_on=[*deps, metrics], stateful=True, protect=args.protect),
            resource_name=name,
            annotations={"pulumi.com/waitFor": "condition=Ready"} if args.wait_ready else None,
        )
        self.node_pools = [
            custom_resource(
                pool_name, API, "KafkaNodePool", args.namespace, pool_spec,
                child(self, depends_on=deps, stateful=True, protect=args.protect),
                labels={CLUSTER_LABEL: args.cluster_name},
                resource_name=f"{name}-{pool_name}",
            )
            for pool_name, pool_spec in node_pool_specs(args).items()
        ]
        self.bootstrap_servers = pulumi.Output.from_input(args.namespace).apply(
            lambda ns: f"{args.cluster_name}-kafka-bootstrap.{ns}.svc:{self.listener_port}"
        )
        self.register_outputs({"bootstrap_servers": self.bootstrap_servers})

    def access(self, ca_cert: pulumi.Input[str] | None = None) -> KafkaAccess:
        """What a client needs to reach this cluster; ``ca_cert`` (Strimzi's cluster CA, read once
        the cluster exists) is required when the listener speaks TLS."""
        args = self._args
        return KafkaAccess(
            bootstrap_servers=self.bootstrap_servers, cluster_name=args.cluster_name, namespace=args.namespace,
            port=self.listener_port, scram=args.authentication == "scram-sha-512", tls=args.tls, ca_cert=ca_cert,
            replication_factor=args.replication_factor, min_insync_replicas=args.min_insync_replicas,
            protect=args.protect,
        )


def kafka_spec(args: KafkaClusterArgs) -> dict[str, Any]:
    listener: dict[str, Any] = {
        "name": "tls" if args.tls else "plain",
        "port": TLS_PORT if args.tls else PLAIN_PORT,
        "type": "internal",
        "tls": args.tls,
    }
    kafka: dict[str, Any] = {
        "version": args.version,
        "metadataVersion": artifacts.KAFKA_METADATA_VERSION,
        "listeners": [listener],
        "config": {
            "default.replication.factor": args.replication_factor,
            "min.insync.replicas": args.min_insync_replicas,
            "offsets.topic.replication.factor": args.replication_factor,
            "transaction.state.log.replication.factor": args.replication_factor,
            "transaction.state.log.min.isr": args.min_insync_replicas,
            # Topics are declared as KafkaTopic resources; a typo in a client must not create one.
            "auto.create.topics.enable": False,
        },
        "metricsConfig": {
            "type": "jmxPrometheusExporter",
            "valueFrom": {
                "configMapKeyRef": {"name": f"{args.cluster_name}-kafka-metrics", "key": "kafka-metrics-config.yml"}
            },
        },
    }
    if args.authentication != "none":
        listener["authentication"] = {"type": args.authentication}
        kafka["authorization"] = {"type": "simple"}
    return {
        "kafka": kafka,
        "entityOperator": {"topicOperator": {}, "userOperator": {}},
        # Consumer lag is invisible to JMX; kafka-exporter reads it from the group coordinator.
        "kafkaExporter": {"topicRegex": ".*", "groupRegex": ".*"},
    }


def node_pool_specs(args: KafkaClusterArgs) -> dict[str, dict[str, Any]]:
    def pool(replicas: int, roles: list[str], pool_name: str) -> dict[str, Any]:
        spec: dict[str, Any] = {"replicas": replicas, "roles": roles, "storage": args.storage.to_spec()}
        if args.spread:
            spec["template"] = {
                "pod": {
                    "topologySpreadConstraints": zone_spread(
                        {CLUSTER_LABEL: args.cluster_name, "strimzi.io/pool-name": pool_name}
                    )
                }
            }
        return spec

    if args.dual_role:
        return {"dual-role": pool(args.brokers, ["controller", "broker"], "dual-role")}
    return {
        "controllers": pool(args.controllers, ["controller"], "controllers"),
        "brokers": pool(args.brokers, ["broker"], "brokers"),
    }


@dataclass(frozen=True)
class KafkaTopicArgs:
    namespace: pulumi.Input[str]
    cluster_name: str
    topic_name: str
    partitions: int
    replicas: int
    min_insync_replicas: int
    protect: bool
    retention_ms: int | None = None
    cluster: pulumi.Resource | None = None
    config: dict[str, Any] = field(default_factory=dict)  # further topic configs, e.g. cleanup.policy


class KafkaTopic(pulumi.ComponentResource):
    """A topic owned by Strimzi's topic operator."""

    topic: k8s.apiextensions.CustomResource
    topic_name: str

    def __init__(self, name: str, args: KafkaTopicArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:kafka:KafkaTopic", name, None, opts)
        self.topic_name = args.topic_name
        config: dict[str, Any] = {"min.insync.replicas": min(args.min_insync_replicas, args.replicas)}
        if args.retention_ms is not None:
            config["retention.ms"] = args.retention_ms
        config.update(args.config)
        self.topic = custom_resource(
            resource_safe(args.topic_name), API, "KafkaTopic", args.namespace,
            {"topicName": args.topic_name, "partitions": args.partitions, "replicas": args.replicas, "config": config},
            child(self, depends_on=[args.cluster] if args.cluster else [], stateful=True, protect=args.protect),
            labels={CLUSTER_LABEL: args.cluster_name},
            resource_name=name,
        )
        self.register_outputs({"topic_name": args.topic_name})


@dataclass(frozen=True)
class TopicAccess:
    topic: str
    operations: list[str]  # e.g. ["Read", "Describe"] or ["Write", "Describe"]


@dataclass(frozen=True)
class KafkaUserArgs:
    namespace: pulumi.Input[str]
    cluster_name: str
    user_name: str
    topics: list[TopicAccess]
    consumer_group: str | None = None
    group_pattern: Literal["literal", "prefix"] = "literal"
    transactional_id: str | None = None
    cluster: pulumi.Resource | None = None


class KafkaUser(pulumi.ComponentResource):
    """A SCRAM-SHA-512 user with least-privilege ACLs and a generated, secret password."""

    user: k8s.apiextensions.CustomResource
    secret_name: pulumi.Output[str]
    password: pulumi.Output[str]

    def __init__(self, name: str, args: KafkaUserArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:kafka:KafkaUser", name, None, opts)
        password = random.RandomPassword(
            f"{name}-password", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        self.password = pulumi.Output.secret(password.result)
        secret = k8s.core.v1.Secret(
            f"{name}-credentials",
            metadata={"name": f"{args.user_name}-scram-password", "namespace": args.namespace, "labels": MANAGED_BY},
            string_data={"password": self.password},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.secret_name = secret.metadata.apply(lambda m: m["name"])
        self.user = custom_resource(
            args.user_name, API, "KafkaUser", args.namespace,
            {
                "authentication": {
                    "type": "scram-sha-512",
                    "password": {"valueFrom": {"secretKeyRef": {"name": self.secret_name, "key": "password"}}},
                },
                "authorization": {"type": "simple", "acls": user_acls(args)},
            },
            child(self, depends_on=[secret, *([args.cluster] if args.cluster else [])]),
            labels={CLUSTER_LABEL: args.cluster_name},
            resource_name=name,
        )
        self.register_outputs({"secret_name": self.secret_name, "password": self.password})


def user_acls(args: KafkaUserArgs) -> list[dict[str, Any]]:
    acls = [
        {"resource": {"type": "topic", "name": access.topic, "patternType": "literal"}, "operations": access.operations}
        for access in args.topics
    ]
    if args.consumer_group:
        acls.append(
            {
                "resource": {"type": "group", "name": args.consumer_group, "patternType": args.group_pattern},
                "operations": ["Read"],
            }
        )
    if args.transactional_id:
        acls.append(
            {
                "resource": {"type": "transactionalId", "name": args.transactional_id, "patternType": "prefix"},
                "operations": ["Write", "Describe"],
            }
        )
    return acls


def resource_safe(name: str) -> str:
    """Kubernetes object names cannot hold the dots and underscores Kafka topic names may."""
    return name.replace(".", "-").replace("_", "-").lower()
