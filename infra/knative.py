"""Knative Serving (Kourier) and Eventing through the Knative Operator, plus typed eventing helpers.

Why the operator (see docs/knative.md): it is the only official Knative Helm chart; its image
bundles the digest-pinned 1.23.0 release manifests (so an air-gapped cluster needs no manifest
download); ConfigMap overrides become typed fields of two custom resources that the tests check
against the pinned CRD schema; and it upgrades one minor version at a time. The one piece it
does not bundle — the Kafka Broker data plane — is applied from its pinned release asset here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from event_platform.infra import artifacts
from event_platform.infra.base import MANAGED_BY, child, custom_resource, restricted_container_security
from event_platform.infra.charts import ChartTemplating, helm_chart, ready_of, settled, with_extra_values
from event_platform.infra.kafka import KafkaAccess, KafkaCluster, KafkaUser, KafkaUserArgs, TopicAccess

OPERATOR_API = "operator.knative.dev/v1beta1"
EVENTING_API = "eventing.knative.dev/v1"
SOURCES_API = "sources.knative.dev/v1"
KOURIER_INGRESS_CLASS = "kourier.ingress.networking.knative.dev"
MT_CHANNEL_BROKER = "MTChannelBasedBroker"
KAFKA_BROKER = "Kafka"
BROKER_CLASS_ANNOTATION = "eventing.knative.dev/broker.class"
# The Kafka Broker then uses a topic the platform declares (Strimzi KafkaTopic) instead of
# creating its own: partitions, replicas and retention stay under our control.
EXTERNAL_TOPIC_ANNOTATION = "kafka.eventing.knative.dev/external.topic"
# Pulumi waits for the operator to report the whole installation Ready before the next phase.
WAIT_READY = {"pulumi.com/waitFor": "condition=Ready"}
MIN_KUBERNETES = "v1.34.0"
WEBHOOK_PORT = 8443
# Knative 1.19+ exports OpenTelemetry metrics; "prometheus" serves them for scraping on the
# pods' `metrics` port (9090, 9092 on broker ingress/filter). The default is "none".
PROMETHEUS_METRICS = {"metrics-protocol": "prometheus"}
EVENT_SOURCES = ("ceph", "github", "gitlab", "kafka", "rabbitmq", "redis")


@dataclass(frozen=True)
class Sink:
    """Where events go: a reference to an Addressable (Service, Broker, KafkaSink …) or a URI."""

    name: str | None = None
    kind: str = "Service"
    api_version: str = "serving.knative.dev/v1"
    namespace: str | None = None
    uri: str | None = None
    # With a reference: a path Knative appends to the referenced object's address.
    path: str | None = None

    def to_spec(self) -> dict[str, Any]:
        if (self.name is None) == (self.uri is None):
            raise ValueError("a Sink needs exactly one of name (a reference) or uri")
        if self.uri is not None:
            if self.path is not None:
                raise ValueError("a Sink's path only applies to a reference; put it into the uri")
            return {"uri": self.uri}
        ref: dict[str, Any] = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}
        if self.namespace:
            ref["namespace"] = self.namespace
        if self.path is not None:
            return {"ref": ref, "uri": self.path}
        return {"ref": ref}


@dataclass(frozen=True)
class Delivery:
    """Retries with backoff, then the dead-letter sink (events are never silently dropped there)."""

    retry: int = 3
    backoff_policy: Literal["exponential", "linear"] = "exponential"
    backoff_delay: str = "PT0.2S"
    dead_letter_sink: Sink | None = None
    timeout: str | None = None

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "retry": self.retry,
            "backoffPolicy": self.backoff_policy,
            "backoffDelay": self.backoff_delay,
        }
        if self.dead_letter_sink is not None:
            spec["deadLetterSink"] = self.dead_letter_sink.to_spec()
        if self.timeout is not None:
            spec["timeout"] = self.timeout
        return spec


# --- installation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KnativeOperatorArgs:
    namespace: pulumi.Input[str]
    source: artifacts.ArtifactSource
    templating: ChartTemplating = field(default_factory=ChartTemplating)
    extra_values: dict[str, Any] = field(default_factory=dict)  # merged over the chart values we set


class KnativeOperator(pulumi.ComponentResource):
    """The Knative Operator chart (it has no Helm hooks)."""

    chart: k8s.helm.v3.Chart
    charts_ready: pulumi.Output[Sequence[pulumi.Resource]]

    def __init__(self, name: str, args: KnativeOperatorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:knative:KnativeOperator", name, None, opts)
        # The chart exposes three container securityContext fields; the rest of what the
        # `restricted` Pod Security Standard asks for is added to the rendered Deployments.
        container = {key: restricted_container_security()[key]
                     for key in ("allowPrivilegeEscalation", "readOnlyRootFilesystem", "runAsNonRoot")}
        self.chart = helm_chart(
            "knative-operator", artifacts.KNATIVE_OPERATOR, args.source, args.templating,
            namespace=args.namespace,
            values=with_extra_values({
                "knative_operator": {
                    # The operator refuses to install on clusters Knative 1.23 does not support.
                    "kubernetes_min_version": MIN_KUBERNETES,
                    "knative_operator": {"containerSecurityContext": container},
                    "operator_webhook": {"containerSecurityContext": container},
                }
            }, args.extra_values),
            opts=pulumi.ResourceOptions(parent=self),
            transformations=[restrict_containers],
        )
        self.charts_ready = ready_of(self.chart)
        self.register_outputs({})


def restrict_containers(obj: dict[str, Any], _opts: pulumi.ResourceOptions) -> None:
    """Complete each Deployment container's securityContext to the `restricted` standard."""
    if obj.get("kind") != "Deployment":
        return
    pod = obj["spec"]["template"]["spec"]
    for container in pod.get("containers", []):
        context = container.setdefault("securityContext", {})
        for key, value in restricted_container_security().items():
            context.setdefault(key, value)


@dataclass(frozen=True)
class KnativeServingArgs:
    namespace: pulumi.Input[str]
    replicas: int
    scale_to_zero: bool
    operator: pulumi.Resource | None = None


class KnativeServing(pulumi.ComponentResource):
    """Knative Serving 1.23 with Kourier as its networking layer and Prometheus metrics."""

    serving: k8s.apiextensions.CustomResource
    gateway: str

    def __init__(self, name: str, args: KnativeServingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:knative:KnativeServing", name, None, opts)
        self.serving = k8s.apiextensions.CustomResource(
            name,
            api_version=OPERATOR_API,
            kind="KnativeServing",
            metadata={"name": "knative-serving", "namespace": args.namespace, "labels": MANAGED_BY,
                      "annotations": WAIT_READY},
            spec=serving_spec(args),
            opts=child(self, depends_on=[args.operator] if args.operator else []),
        )
        self.gateway = "kourier.kourier-system.svc"
        self.register_outputs({"gateway": self.gateway})


def serving_spec(args: KnativeServingArgs) -> dict[str, Any]:
    return {
        "version": artifacts.KNATIVE_VERSION,
        "high-availability": {"replicas": args.replicas},
        "ingress": {"kourier": {"enabled": True}},
        "config": {
            # serving-core defaults to Istio's class; without this no Route ever becomes Ready.
            "network": {"ingress-class": KOURIER_INGRESS_CLASS},
            "observability": {**PROMETHEUS_METRICS, "request-metrics-protocol": "prometheus"},
            "autoscaler": {"enable-scale-to-zero": str(args.scale_to_zero).lower()},
        },
    }


@dataclass(frozen=True)
class KnativeEventingArgs:
    namespace: pulumi.Input[str]
    replicas: int
    default_broker_class: str
    source: artifacts.ArtifactSource
    kafka: bool = False  # the Kafka control plane and KafkaSource (from the operator)
    # The Kafka Broker's own data plane (receiver, dispatcher): only a Kafka-class Broker needs it,
    # a KafkaSource into a channel-based Broker does not.
    kafka_broker: bool = False
    operator: pulumi.Resource | None = None


class KnativeEventing(pulumi.ComponentResource):
    """Knative Eventing 1.23: core, the multi-tenant channel broker and, with Kafka, the Kafka
    control plane and KafkaSource (from the operator) plus the Kafka Broker data plane."""

    eventing: k8s.apiextensions.CustomResource
    kafka_data_plane: k8s.yaml.v2.ConfigFile | None
    unavailable_artifacts: list[str]
    ready: list[pulumi.Resource]

    def __init__(self, name: str, args: KnativeEventingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:knative:KnativeEventing", name, None, opts)
        self.eventing = k8s.apiextensions.CustomResource(
            name,
            api_version=OPERATOR_API,
            kind="KnativeEventing",
            metadata={"name": "knative-eventing", "namespace": args.namespace, "labels": MANAGED_BY,
                      "annotations": WAIT_READY},
            spec=eventing_spec(args),
            opts=child(self, depends_on=[args.operator] if args.operator else []),
        )
        self.kafka_data_plane = None
        self.unavailable_artifacts = []
        self.ready = [self.eventing]
        if args.kafka_broker:
            self._kafka_data_plane(name, args)
        self.register_outputs({"unavailable_artifacts": self.unavailable_artifacts})

    def _kafka_data_plane(self, name: str, args: KnativeEventingArgs) -> None:
        pin = artifacts.KNATIVE_KAFKA_BROKER_DATA_PLANE
        if not args.source.has_manifest(pin):
            # Never silently dropped: the stack declares the Broker, says what is missing and
            # exports it, so an offline render is visibly incomplete (docs/knative.md).
            missing = f"{pin.mirror_path} ({pin.component} {pin.version}, upstream {pin.url})"
            self.unavailable_artifacts.append(missing)
            pulumi.log.warn(
                f"Knative Kafka Broker data plane unavailable: {missing} is not in the artifact mirror; "
                "Kafka Brokers are declared but will not become Ready until it is applied",
                resource=self,
            )
            return
        self.kafka_data_plane = k8s.yaml.v2.ConfigFile(
            f"{name}-kafka-broker-data-plane",
            file=args.source.manifest(pin),
            opts=child(self, depends_on=[self.eventing]),
        )
        self.ready.append(self.kafka_data_plane)


def eventing_spec(args: KnativeEventingArgs) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "version": artifacts.KNATIVE_VERSION,
        "high-availability": {"replicas": args.replicas},
        "defaultBrokerClass": args.default_broker_class,
        "config": {"observability": dict(PROMETHEUS_METRICS)},
    }
    if args.kafka:
        # Installs eventing-kafka-controller (control plane, KafkaSource/KafkaSink CRDs) and the
        # KafkaSource dispatcher from the operator image. The CRD requires every source's switch.
        spec["source"] = {name: {"enabled": name == "kafka"} for name in EVENT_SOURCES}
    return spec


# --- the Kafka Broker's backing configuration ------------------------------------------------


@dataclass(frozen=True)
class KafkaBrokerConfigArgs:
    namespace: pulumi.Input[str]  # where the ConfigMap and its credentials live (knative-eventing)
    bootstrap_servers: pulumi.Input[str]
    topic_partitions: int
    topic_replicas: int
    auth_secret: pulumi.Input[str] | None = None


class KafkaBrokerConfig(pulumi.ComponentResource):
    """The ConfigMap a Kafka Broker's ``spec.config`` points at (bootstrap, topic defaults, auth)."""

    config_map: k8s.core.v1.ConfigMap
    reference: dict[str, Any]

    def __init__(self, name: str, args: KafkaBrokerConfigArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:knative:KafkaBrokerConfig", name, None, opts)
        data: dict[str, pulumi.Input[str]] = {
            "bootstrap.servers": args.bootstrap_servers,
            "default.topic.partitions": str(args.topic_partitions),
            "default.topic.replication.factor": str(args.topic_replicas),
        }
        if args.auth_secret is not None:
            data["auth.secret.ref.name"] = args.auth_secret
        self.config_map = k8s.core.v1.ConfigMap(
            name,
            metadata={"name": name, "namespace": args.namespace, "labels": MANAGED_BY},
            data=data,
            opts=child(self),
        )
        self.reference = {"apiVersion": "v1", "kind": "ConfigMap", "name": name, "namespace": args.namespace}
        self.register_outputs({})


def kafka_auth_data(user: str | None, password: pulumi.Input[str] | None, tls: bool,
                    ca_cert: pulumi.Input[str] | None) -> dict[str, pulumi.Input[str]]:
    """The Secret keys Knative's Kafka components read: SCRAM-SHA-512 with a user, TLS with a CA.

    ``ca_cert`` is None only where the cluster CA cannot be read (render mode): the listener is
    still TLS, and the caller reports the missing ``ca.crt``.
    """
    sasl = user is not None and password is not None
    data: dict[str, pulumi.Input[str]] = {
        "protocol": ("SASL_" if sasl else "") + ("SSL" if tls else "PLAINTEXT"),
    }
    if sasl:
        assert user is not None and password is not None
        data.update({"sasl.mechanism": "SCRAM-SHA-512", "user": user, "password": password})
    if tls and ca_cert is not None:
        data["ca.crt"] = ca_cert
    return data


def kafka_credentials(parent: pulumi.Resource, name: str, user_name: str, namespace: pulumi.Input[str],
                      kafka: KafkaAccess, cluster: KafkaCluster, topics: list[TopicAccess], group: str,
                      group_pattern: Literal["prefix", "literal"]) -> pulumi.Output[str] | None:
    """What a Knative Kafka component (the Kafka Broker's data plane, a KafkaSource) authenticates
    with: with SCRAM a KafkaUser allowed exactly ``topics`` and ``group``, and a Secret in
    ``namespace`` in the format Knative reads (``kafka_auth_data``). None on a plaintext cluster
    without authentication. ``cluster`` is the KafkaCluster the user waits for; children of ``parent``."""
    if not kafka.scram and not kafka.tls:
        return None
    password: pulumi.Input[str] | None = None
    if kafka.scram:
        password = KafkaUser(
            name,
            KafkaUserArgs(namespace=kafka.namespace, cluster_name=kafka.cluster_name, user_name=user_name,
                          topics=topics, consumer_group=group, group_pattern=group_pattern,
                          cluster=cluster.kafka),
            pulumi.ResourceOptions(parent=parent, depends_on=settled([cluster])),
        ).password
    data = kafka_auth_data(user_name if password is not None else None, password, kafka.tls, kafka.ca_cert)
    secret = k8s.core.v1.Secret(
        f"{name}-kafka-auth",
        metadata={"name": f"{user_name}-kafka-auth", "namespace": namespace, "labels": MANAGED_BY},
        string_data=data,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[]),
    )
    name_of_secret: pulumi.Output[str] = secret.metadata.apply(lambda m: m["name"])
    return name_of_secret


# --- typed eventing helpers -------------------------------------------------------------------


@dataclass(frozen=True)
class BrokerArgs:
    namespace: pulumi.Input[str]
    broker_name: str
    broker_class: str = MT_CHANNEL_BROKER
    delivery: Delivery | None = None
    config: dict[str, Any] | None = None  # KReference, e.g. KafkaBrokerConfig.reference
    external_topic: str | None = None  # Kafka Broker only
    wait_ready: bool = True
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class Broker(pulumi.ComponentResource):
    """A Knative Broker of an explicit class (never the cluster default by accident)."""

    broker: k8s.apiextensions.CustomResource
    url: pulumi.Output[str]

    def __init__(self, name: str, args: BrokerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:knative:Broker", name, None, opts)
        if args.external_topic and args.broker_class != KAFKA_BROKER:
            raise ValueError("external_topic only applies to Kafka Brokers")
        annotations = {BROKER_CLASS_ANNOTATION: args.broker_class, **(WAIT_READY if args.wait_ready else {})}
        if args.external_topic:
            annotations[EXTERNAL_TOPIC_ANNOTATION] = args.external_topic
        spec: dict[str, Any] = {}
        if args.config is not None:
            spec["config"] = args.config
        if args.delivery is not None:
            spec["delivery"] = args.delivery.to_spec()
        self.broker = k8s.apiextensions.CustomResource(
            name,
            api_version=EVENTING_API,
            kind="Broker",
            metadata={"name": args.broker_name, "namespace": args.namespace, "labels": MANAGED_BY,
                      "annotations": annotations},
            spec=spec,
            opts=child(self, depends_on=args.depends_on),
        )
        self.url = broker_url(args.namespace, args.broker_name, args.broker_class)
        self.register_outputs({"url": self.url})


def broker_url(namespace: pulumi.Input[str], broker: str, broker_class: str) -> pulumi.Output[str]:
    """The in-cluster ingress address of a Broker (known before it exists, by class convention)."""
    if broker_class == KAFKA_BROKER:
        host = "kafka-broker-ingress.knative-eventing.svc.cluster.local"
    else:
        host = "broker-ingress.knative-eventing.svc.cluster.local"
    return pulumi.Output.from_input(namespace).apply(lambda ns: f"http://{host}/{ns}/{broker}")


@dataclass(frozen=True)
class TriggerArgs:
    namespace: pulumi.Input[str]
    trigger_name: str
    broker: str
    subscriber: Sink
    # Exact matches on CloudEvent attributes (type, source, or extensions).
    attributes: dict[str, str] = field(default_factory=dict)
    # Prefix matches, e.g. {"type": "orders."}; combined with `attributes` through `all`.
    prefixes: dict[str, str] = field(default_factory=dict)
    delivery: Delivery | None = None
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class Trigger(pulumi.ComponentResource):
    """Routes the Broker's events that match the filters to one subscriber."""

    trigger: k8s.apiextensions.CustomResource

    def __init__(self, name: str, args: TriggerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:knative:Trigger", name, None, opts)
        self.trigger = custom_resource(
            args.trigger_name, EVENTING_API, "Trigger", args.namespace, trigger_spec(args),
            child(self, depends_on=args.depends_on), resource_name=name,
        )
        self.register_outputs({})


def trigger_spec(args: TriggerArgs) -> dict[str, Any]:
    spec: dict[str, Any] = {"broker": args.broker, "subscriber": args.subscriber.to_spec()}
    if args.prefixes:
        # The SQL-like `filters` dialect (always on since eventing 1.15) expresses prefixes;
        # when present it overrides `filter`, so exact matches move into it as well.
        clauses: list[dict[str, Any]] = [{"exact": {k: v}} for k, v in sorted(args.attributes.items())]
        clauses += [{"prefix": {k: v}} for k, v in sorted(args.prefixes.items())]
        spec["filters"] = [{"all": clauses}] if len(clauses) > 1 else clauses
    elif args.attributes:
        spec["filter"] = {"attributes": dict(args.attributes)}
    if args.delivery is not None:
        spec["delivery"] = args.delivery.to_spec()
    return spec


@dataclass(frozen=True)
class PingSourceArgs:
    namespace: pulumi.Input[str]
    source_name: str
    schedule: str
    sink: Sink
    data: str = "{}"
    timezone: str = "UTC"
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class PingSource(pulumi.ComponentResource):
    """Scheduled CloudEvents (cron) into a sink, typically a Broker."""

    source: k8s.apiextensions.CustomResource

    def __init__(self, name: str, args: PingSourceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:knative:PingSource", name, None, opts)
        spec = {"schedule": args.schedule, "timezone": args.timezone, "contentType": "application/json",
                "data": args.data, "sink": args.sink.to_spec()}
        self.source = custom_resource(args.source_name, SOURCES_API, "PingSource", args.namespace, spec,
                                      child(self, depends_on=args.depends_on), resource_name=name)
        self.register_outputs({})


@dataclass(frozen=True)
class KafkaCredentials:
    """Secret keys (in the source's namespace) for SCRAM-SHA-512 and/or TLS."""

    secret: pulumi.Input[str]
    sasl: bool = True
    tls: bool = True
    user_key: str = "user"
    password_key: str = "password"
    ca_key: str = "ca.crt"
    mechanism_key: str = "sasl.mechanism"


@dataclass(frozen=True)
class KafkaSourceArgs:
    namespace: pulumi.Input[str]
    source_name: str
    bootstrap_servers: list[pulumi.Input[str]]
    topics: list[str]
    consumer_group: str
    sink: Sink
    initial_offset: Literal["earliest", "latest"] = "latest"
    credentials: KafkaCredentials | None = None
    delivery: Delivery | None = None
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class KafkaSource(pulumi.ComponentResource):
    """Brings existing Kafka topics into Knative as CloudEvents."""

    source: k8s.apiextensions.CustomResource

    def __init__(self, name: str, args: KafkaSourceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:knative:KafkaSource", name, None, opts)
        self.source = custom_resource(args.source_name, SOURCES_API, "KafkaSource", args.namespace,
                                      kafka_source_spec(args), child(self, depends_on=args.depends_on),
                                      resource_name=name)
        self.register_outputs({})


def kafka_source_spec(args: KafkaSourceArgs) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "bootstrapServers": args.bootstrap_servers,
        "topics": args.topics,
        "consumerGroup": args.consumer_group,
        "initialOffset": args.initial_offset,
        "sink": args.sink.to_spec(),
    }
    if args.credentials is not None:
        creds = args.credentials

        def ref(key: str) -> dict[str, Any]:
            return {"secretKeyRef": {"name": creds.secret, "key": key}}

        net: dict[str, Any] = {}
        if creds.sasl:
            # The SASL type is read from the Secret too (`sasl.mechanism`, see kafka_auth_data).
            net["sasl"] = {"enable": True, "type": ref(creds.mechanism_key), "user": ref(creds.user_key),
                           "password": ref(creds.password_key)}
        if creds.tls:
            net["tls"] = {"enable": True, "caCert": ref(creds.ca_key)}
        spec["net"] = net
    if args.delivery is not None:
        spec["delivery"] = args.delivery.to_spec()
    return spec
