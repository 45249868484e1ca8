"""The components other languages get: thin facades over this package's Python components.

The Pulumi SDK's component provider host (pulumi.provider.experimental) infers the package
schema from type annotations, and it accepts only some of them: str/int/float/bool, lists,
string-keyed maps, nested classes, enums, assets and pulumi.Input/Output of those; no unions and
no Literal. Args arrive as plain dicts (nested ones too), never as instances of the annotated
classes, so they are TypedDicts. The Python components take frozen dataclasses with Literal
fields, a union (a workload's broker wiring) and resources (operator, cluster, KEDA), so each
facade here takes a TypedDict, checks the string choices a Literal would have checked, fills in
the Python defaults and builds the real component as its only child. Outputs are the facade's
annotated class attributes.

Annotations must stay real objects: the host reads them with inspect.get_annotations, without
evaluating strings, so this module must not use `from __future__ import annotations`.
"""

from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypedDict

import pulumi

from event_platform.infra import artifacts
from event_platform.infra import kafka as kafka_mod
from event_platform.infra import workloads as workloads_mod

PACKAGE = "eventplatform"


def _choice(value: str, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise ValueError(f"{field} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _require_known(values: Mapping[str, Any], may_be_outputs: set[str], where: str = "") -> None:
    """Plain inputs name resources and feed the wiring guardrails, so their values must be known
    when the component is declared. A program can still pass another resource's output there
    (the host hands it over as an Output); refuse it by name instead of failing inside."""
    for key, value in values.items():
        path = f"{where}{key}"
        if path in may_be_outputs:
            continue
        items = value if isinstance(value, list) else [value]
        if any(isinstance(item, pulumi.Output) for item in items):
            raise ValueError(f"{path} must be known when the component is declared (a literal or a config "
                             f"value), not another resource's output; only {', '.join(sorted(may_be_outputs))} "
                             "may be outputs")
        for item in items:
            if isinstance(item, Mapping):
                _require_known(item, may_be_outputs, f"{path}.")


def _opts(parent: pulumi.Resource) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent)


class KafkaStorageArgs(TypedDict):
    """Storage of a node pool's single JBOD volume (it also carries the KRaft metadata log)."""

    type: str
    """ephemeral or persistent"""
    size: str
    """e.g. 10Gi"""
    delete_claim: NotRequired[bool]
    """persistent only: delete the volume claims with the cluster (default false)"""
    storage_class: NotRequired[str]
    """persistent only: the StorageClass (default: the cluster's default)"""


class KafkaClusterArgs(TypedDict):
    namespace: pulumi.Input[str]
    """where the Kafka resource goes; Strimzi's operator must watch it"""
    cluster_name: str
    brokers: int
    storage: KafkaStorageArgs
    replication_factor: int
    min_insync_replicas: int
    version: NotRequired[str]
    """Kafka version (default: the one this package deploys)"""
    dual_role: NotRequired[bool]
    """one pool of combined controller+broker nodes (default true); false: separate controllers"""
    controllers: NotRequired[int]
    """with dual_role false: the KRaft controller count (default 3)"""
    authentication: NotRequired[str]
    """none (default), scram-sha-512 or tls"""
    tls: NotRequired[bool]
    protect: NotRequired[bool]
    """protect and retain the Kafka resource and node pools (default false)"""
    spread: NotRequired[bool]
    """spread nodes over zones (default false)"""
    wait_ready: NotRequired[bool]
    """wait until Strimzi reports the cluster Ready (default false)"""


class KafkaCluster(pulumi.ComponentResource):
    """A KRaft Kafka cluster run by Strimzi (the operator is the platform stack's)."""

    bootstrap_servers: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    listener_port: pulumi.Output[int]

    def __init__(self, name: str, args: KafkaClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _require_known(args, {"namespace"})
        super().__init__(f"{PACKAGE}:index:KafkaCluster", name, None, opts)
        storage = args["storage"]
        cluster = kafka_mod.KafkaCluster(name, kafka_mod.KafkaClusterArgs(
            namespace=args["namespace"],
            cluster_name=args["cluster_name"],
            version=args.get("version", artifacts.KAFKA_VERSION),
            dual_role=args.get("dual_role", True),
            controllers=args.get("controllers", 3),
            brokers=args["brokers"],
            storage=kafka_mod.KafkaStorage(
                type="persistent" if _choice(storage["type"], ("ephemeral", "persistent"), "storage.type")
                == "persistent" else "ephemeral",
                size=storage["size"], delete_claim=storage.get("delete_claim", False),
                storage_class=storage.get("storage_class")),
            replication_factor=args["replication_factor"],
            min_insync_replicas=args["min_insync_replicas"],
            authentication=_authentication(args.get("authentication", "none")),
            tls=args.get("tls", False),
            protect=args.get("protect", False),
            spread=args.get("spread", False),
            wait_ready=args.get("wait_ready", False),
        ), _opts(self))
        self.bootstrap_servers = cluster.bootstrap_servers
        self.cluster_name = pulumi.Output.from_input(cluster.cluster_name)
        self.listener_port = pulumi.Output.from_input(cluster.listener_port)
        self.register_outputs({"bootstrap_servers": self.bootstrap_servers})


def _authentication(value: str) -> Literal["none", "scram-sha-512", "tls"]:
    choice = _choice(value, ("none", "scram-sha-512", "tls"), "authentication")
    return "scram-sha-512" if choice == "scram-sha-512" else "tls" if choice == "tls" else "none"


class KafkaTopicArgs(TypedDict):
    namespace: pulumi.Input[str]
    """the Kafka cluster's namespace"""
    cluster_name: str
    topic_name: str
    partitions: int
    replicas: int
    min_insync_replicas: int
    protect: NotRequired[bool]
    """protect and retain the KafkaTopic (default false)"""
    retention_ms: NotRequired[int]
    config: NotRequired[dict[str, str]]
    """further topic configs, e.g. cleanup.policy: compact"""


class KafkaTopic(pulumi.ComponentResource):
    """A topic owned by Strimzi's topic operator."""

    topic_name: pulumi.Output[str]

    def __init__(self, name: str, args: KafkaTopicArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _require_known(args, {"namespace"})
        super().__init__(f"{PACKAGE}:index:KafkaTopic", name, None, opts)
        topic = kafka_mod.KafkaTopic(name, kafka_mod.KafkaTopicArgs(
            namespace=args["namespace"],
            cluster_name=args["cluster_name"],
            topic_name=args["topic_name"],
            partitions=args["partitions"],
            replicas=args["replicas"],
            min_insync_replicas=args["min_insync_replicas"],
            protect=args.get("protect", False),
            retention_ms=args.get("retention_ms"),
            config=dict(args.get("config", {})),
        ), _opts(self))
        self.topic_name = pulumi.Output.from_input(topic.topic_name)
        self.register_outputs({"topic_name": self.topic_name})


class TopicAccessArgs(TypedDict):
    topic: str
    operations: list[str]
    """Kafka ACL operations, e.g. Read, Write, Describe"""


class KafkaUserArgs(TypedDict):
    namespace: pulumi.Input[str]
    """the Kafka cluster's namespace"""
    cluster_name: str
    user_name: str
    topics: list[TopicAccessArgs]
    consumer_group: NotRequired[str]
    """the group the user may read as"""
    group_pattern: NotRequired[str]
    """literal (default) or prefix"""
    transactional_id: NotRequired[str]
    """a transactional.id prefix the user may write"""


class KafkaUser(pulumi.ComponentResource):
    """A SCRAM-SHA-512 user with least-privilege ACLs and a generated, secret password."""

    secret_name: pulumi.Output[str]
    """the Secret (in the Kafka namespace) holding the password"""
    password: pulumi.Output[str]

    def __init__(self, name: str, args: KafkaUserArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _require_known(args, {"namespace"})
        super().__init__(f"{PACKAGE}:index:KafkaUser", name, None, opts)
        pattern = args.get("group_pattern", "literal")
        user = kafka_mod.KafkaUser(name, kafka_mod.KafkaUserArgs(
            namespace=args["namespace"],
            cluster_name=args["cluster_name"],
            user_name=args["user_name"],
            topics=[kafka_mod.TopicAccess(t["topic"], list(t["operations"])) for t in args["topics"]],
            consumer_group=args.get("consumer_group"),
            group_pattern="prefix" if _choice(pattern, ("literal", "prefix"), "group_pattern") == "prefix"
            else "literal",
            transactional_id=args.get("transactional_id"),
        ), _opts(self))
        self.secret_name = user.secret_name
        self.password = user.password
        self.register_outputs({"secret_name": self.secret_name, "password": self.password})


class KafkaWiringArgs(TypedDict):
    """How a workload reaches Kafka (the platform stack's `kafka` output has these values)."""

    bootstrap_servers: pulumi.Input[str]
    cluster_name: str
    namespace: str
    """the Kafka cluster's namespace (the workload's dead-letter topic and user go there)"""
    consumes: NotRequired[list[str]]
    """topics consumed as a group (a consumer names at least one)"""
    produces: NotRequired[list[str]]
    reads: NotRequired[list[str]]
    """topics replayed without a group"""
    partitions: NotRequired[int]
    """fewest partitions among the consumed topics (caps the replicas)"""
    effects_journal: NotRequired[bool]
    auto_offset_reset: NotRequired[str]
    """earliest (default) or latest"""
    scram: NotRequired[bool]
    tls: NotRequired[bool]
    ca_cert: NotRequired[pulumi.Input[str]]
    """the cluster CA (PEM); required with tls"""
    port: NotRequired[int]
    """the listener port (default 9092, 9093 with tls)"""
    replication_factor: NotRequired[int]
    min_insync_replicas: NotRequired[int]
    protect: NotRequired[bool]


class AutoscalingArgs(TypedDict):
    """KEDA scaling on consumer lag."""

    min_replicas: int
    max_replicas: int
    lag_threshold: NotRequired[int]
    activation_threshold: NotRequired[int]
    cooldown_period_s: NotRequired[int]
    polling_interval_s: NotRequired[int]


class KafkaWorkloadArgs(TypedDict):
    namespace: pulumi.Input[str]
    """the workload's namespace"""
    service_name: str
    image: str
    role: str
    """producer or consumer"""
    environment: str
    """dev or prod (prod adds a PodDisruptionBudget and spread)"""
    command: list[str]
    kafka: KafkaWiringArgs
    namespace_name: NotRequired[str]
    """the namespace's name for the network policies' selectors (default: apps)"""
    replicas: NotRequired[int]
    cpu: NotRequired[str]
    memory: NotRequired[str]
    http_port: NotRequired[int]
    autoscaling: NotRequired[AutoscalingArgs]
    batch: NotRequired[bool]
    singleton: NotRequired[bool]
    consumer_group: NotRequired[str]
    """default: the service name"""
    env: NotRequired[dict[str, str]]
    """extra environment variables (not the ones the wiring sets)"""
    monitoring_namespace: NotRequired[str]
    alert_rules: NotRequired[bool]
    """declare the workload's PrometheusRule (default true; false without a monitoring stack)"""
    rule_labels: NotRequired[dict[str, str]]
    """labels Prometheus selects rules by (default release: kps)"""


class KafkaWorkload(pulumi.ComponentResource):
    """A Kafka producer or consumer on the platform's runtime: Deployment, ServiceAccount,
    dead-letter topic, SCRAM user, KEDA autoscaling, alert rules and network policies."""

    deployment_name: pulumi.Output[str]
    consumer_group: pulumi.Output[str]

    def __init__(self, name: str, args: KafkaWorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _require_known(args, {"namespace", "kafka.bootstrap_servers", "kafka.ca_cert"})
        super().__init__(f"{PACKAGE}:index:KafkaWorkload", name, None, opts)
        wiring = args["kafka"]
        tls = wiring.get("tls", False)
        scaling = args.get("autoscaling")
        role = _choice(args["role"], ("producer", "consumer"), "role")
        environment = _choice(args["environment"], ("dev", "prod"), "environment")
        offset_reset = _choice(wiring.get("auto_offset_reset", "earliest"), ("earliest", "latest"),
                               "kafka.auto_offset_reset")
        workload_args = workloads_mod.EventWorkloadArgs(
            namespace=args["namespace"],
            namespace_name=args.get("namespace_name", "apps"),
            service_name=args["service_name"],
            image=args["image"],
            role="consumer" if role == "consumer" else "producer",
            environment="prod" if environment == "prod" else "dev",
            command=list(args["command"]),
            broker=workloads_mod.KafkaWiring(
                access=kafka_mod.KafkaAccess(
                    bootstrap_servers=wiring["bootstrap_servers"],
                    cluster_name=wiring["cluster_name"],
                    namespace=wiring["namespace"],
                    port=wiring.get("port", kafka_mod.TLS_PORT if tls else kafka_mod.PLAIN_PORT),
                    scram=wiring.get("scram", False),
                    tls=tls,
                    ca_cert=wiring.get("ca_cert"),
                    replication_factor=wiring.get("replication_factor", 1),
                    min_insync_replicas=wiring.get("min_insync_replicas", 1),
                    protect=wiring.get("protect", False),
                ),
                consumes=list(wiring.get("consumes", [])),
                partitions=wiring.get("partitions"),
                produces=list(wiring.get("produces", [])),
                reads=list(wiring.get("reads", [])),
                effects_journal=wiring.get("effects_journal", False),
                auto_offset_reset="latest" if offset_reset == "latest" else "earliest",
            ),
            replicas=args.get("replicas", 1),
            cpu=args.get("cpu", "100m"),
            memory=args.get("memory", "256Mi"),
            http_port=args.get("http_port"),
            autoscaling=workloads_mod.Autoscaling(
                min_replicas=scaling["min_replicas"], max_replicas=scaling["max_replicas"],
                lag_threshold=scaling.get("lag_threshold", 50),
                activation_threshold=scaling.get("activation_threshold", 1),
                cooldown_period_s=scaling.get("cooldown_period_s", 300),
                polling_interval_s=scaling.get("polling_interval_s", 15),
            ) if scaling else None,
            batch=args.get("batch", False),
            singleton=args.get("singleton", False),
            consumer_group=args.get("consumer_group"),
            extra_env=dict(args.get("env", {})),
            monitoring_namespace=args.get("monitoring_namespace", "monitoring"),
            rule_labels=dict(args.get("rule_labels", {"release": "kps"})) if args.get("alert_rules", True) else None,
        )
        workload = workloads_mod.EventWorkload(name, workload_args, _opts(self))
        self.deployment_name = workload.deployment.metadata.apply(lambda m: m["name"])
        self.consumer_group = pulumi.Output.from_input(workload_args.group)
        self.register_outputs({"deployment_name": self.deployment_name, "consumer_group": self.consumer_group})


COMPONENTS: list[type[pulumi.ComponentResource]] = [KafkaCluster, KafkaTopic, KafkaUser, KafkaWorkload]
