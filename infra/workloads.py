"""EventWorkload: a producer or consumer deployed, wired to its broker, autoscaled and isolated.

One component declares everything a service needs: its Deployment (probes on the runtime's
health endpoints, restricted security context), ServiceAccount, Service when it serves HTTP,
PodDisruptionBudget and spread in prod, the broker-side binding (dead-letter topic + KafkaUser
with least-privilege ACLs / queue / stream consumer), credentials from generated secrets, a KEDA
ScaledObject + TriggerAuthentication, per-workload alert rules, and NetworkPolicies allowing
exactly the paths its wiring implies. Guardrails (event_platform.infra.wiring) run before any child exists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from event_platform.apps.runtime.topology import WorkloadTopics, exact_names_pattern, group_queue, stream_name
from event_platform.infra import kafka as kafka_mod
from event_platform.infra.alerts import service_failure_rules
from event_platform.infra.base import (
    MANAGED_BY,
    child,
    custom_resource,
    restricted_container_security,
    runtime_pod_spec,
    zone_spread,
)
from event_platform.infra.rabbitmq import RabbitmqUser, RabbitmqUserArgs
from event_platform.infra.wiring import ScalingPlan, WiringError, check_wiring
from event_platform.infra.workload_contract import DeclaredEnvironment, contract_problems

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
class KafkaWiring:
    bootstrap_servers: pulumi.Input[str]
    cluster_name: str
    namespace: str  # the Kafka cluster's namespace (KafkaUser/KafkaTopic live there)
    consumes: list[str]  # topics consumed as a group
    partitions: int | None  # fewest partitions among the consumed topics, for the replica guardrail
    produces: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)  # replayed without a group (event-sourced state)
    effects_journal: bool = False  # keeps <group>.effects, a compacted journal of side effects
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    scram: bool = False
    tls: bool = False
    # The cluster CA certificate (PEM) the client verifies the listener with; required with tls.
    # It is copied into a Secret in the workload's namespace (Strimzi keeps its own in Kafka's).
    ca_cert: pulumi.Input[str] | None = None
    port: int = kafka_mod.PLAIN_PORT
    replication_factor: int = 1
    min_insync_replicas: int = 1
    protect: bool = False


@dataclass(frozen=True)
class RabbitmqWiring:
    """The runtime declares its RabbitMQ topology (apps/runtime/topology.py); the workload gets a
    user of its own whose permissions match exactly the names it declares, reads and writes."""

    host: pulumi.Input[str]  # the cluster's Service, e.g. events.rabbitmq.svc
    namespace: str  # the cluster's namespace (User and Permission live there)
    cluster_name: str
    consumes: list[str]
    produces: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    effects_journal: bool = False
    delivery_limit: int = 5
    amqp_port: int = 5672
    management_port: int = 15672


@dataclass(frozen=True)
class NatsWiring:
    """Topic streams are the platform's (NACK); the runtime finds them and declares its durable
    consumer, dead-letter stream and effects bucket itself."""

    url: pulumi.Input[str]
    monitoring_endpoint: pulumi.Input[str]
    namespace: str
    consumes: list[str]
    produces: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    effects_journal: bool = False
    max_deliver: int = 5
    stream_replicas: int = 1  # of what the runtime creates itself (dead letters, effects bucket)
    # The workload's generated password on the NATS server (user = service name); required in prod.
    password: pulumi.Input[str] | None = None
    # The CA of the servers' TLS certificates (PEM) when the client port speaks TLS; copied into a
    # Secret in the workload's namespace, like Kafka's.
    ca_cert: pulumi.Input[str] | None = None
    account: str = "$G"


BrokerWiring = KafkaWiring | RabbitmqWiring | NatsWiring


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
    broker: KafkaWiring | RabbitmqWiring | NatsWiring
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


def broker_kind(wiring: KafkaWiring | RabbitmqWiring | NatsWiring) -> Literal["kafka", "rabbitmq", "nats"]:
    if isinstance(wiring, KafkaWiring):
        return "kafka"
    return "rabbitmq" if isinstance(wiring, RabbitmqWiring) else "nats"


def scaling_plan(args: EventWorkloadArgs) -> ScalingPlan:
    scaling = args.autoscaling or Autoscaling(min_replicas=args.replicas, max_replicas=args.replicas)
    wiring = args.broker
    is_kafka = isinstance(wiring, KafkaWiring)
    return ScalingPlan(
        service=args.service_name,
        broker=broker_kind(wiring),
        environment=args.environment,
        image=args.image,
        min_replicas=scaling.min_replicas,
        max_replicas=scaling.max_replicas,
        activation_threshold=scaling.activation_threshold,
        consumer_group=args.group if is_kafka else None,
        scaler_consumer_group=(scaling.scaler_consumer_group or args.group) if is_kafka else None,
        client_offset_reset=wiring.auto_offset_reset if isinstance(wiring, KafkaWiring) else None,
        scaler_offset_reset=(scaling.scaler_offset_reset or wiring.auto_offset_reset)
        if isinstance(wiring, KafkaWiring) else None,
        partitions=wiring.partitions if isinstance(wiring, KafkaWiring) and args.role == "consumer" else None,
        allow_idle_consumers=scaling.allow_idle_consumers,
        batch=args.batch or args.singleton,
    )


KAFKA_CA_DIR = "/etc/kafka-ca"
NATS_CA_DIR = "/etc/nats-ca"
# A wiring's ca_cert in render mode, where no operator has issued the CA yet: the workload's CA
# Secret is rendered without ca.crt (the caller reports the gap).
CA_NOT_YET_ISSUED = ""


def workload_topics(args: EventWorkloadArgs) -> WorkloadTopics:
    wiring = args.broker
    return WorkloadTopics(
        group=args.group, consumes=list(wiring.consumes) if args.role == "consumer" else [],
        produces=list(wiring.produces), reads=list(wiring.reads),
        effects_journal=f"{args.group}.effects" if wiring.effects_journal else None,
    )


def broker_literals(args: EventWorkloadArgs) -> dict[str, str]:
    """The broker variables whose values are known when the workload is declared."""
    wiring = args.broker
    env = {"BROKER": broker_kind(wiring), "CONSUMER_GROUP": args.group, "DEAD_LETTER_TOPIC": f"{args.group}.dlq"}
    if wiring.effects_journal:
        env["EFFECTS_JOURNAL_TOPIC"] = f"{args.group}.effects"
    if isinstance(wiring, KafkaWiring):
        env["AUTO_OFFSET_RESET"] = wiring.auto_offset_reset
        env["KAFKA_SECURITY_PROTOCOL"] = ("SASL_" if wiring.scram else "") + ("SSL" if wiring.tls else "PLAINTEXT")
        if wiring.scram:
            env["KAFKA_SASL_MECHANISM"] = "SCRAM-SHA-512"
        if wiring.tls:
            env["KAFKA_SSL_CAFILE"] = f"{KAFKA_CA_DIR}/ca.crt"
    elif isinstance(wiring, RabbitmqWiring):
        env["RABBITMQ_DELIVERY_LIMIT"] = str(wiring.delivery_limit)
    else:
        env["NATS_MAX_DELIVER"] = str(wiring.max_deliver)
        env["NATS_STREAM_REPLICAS"] = str(wiring.stream_replicas)
        if wiring.password is not None:
            env["NATS_USER"] = args.service_name
        if wiring.ca_cert is not None:
            env["NATS_CA_FILE"] = f"{NATS_CA_DIR}/ca.crt"
    return env


def declared_environment(args: EventWorkloadArgs) -> DeclaredEnvironment:
    """What EventWorkload will put in the container's env, before anything is declared."""
    wiring = args.broker
    literal = {"SERVICE_NAME": args.service_name, "HEALTH_PORT": str(HEALTH_PORT), "METRICS_PORT": str(METRICS_PORT),
               "SHUTDOWN_TIMEOUT_S": str(SHUTDOWN_TIMEOUT_S), **broker_literals(args)}
    if args.http_port:
        literal["API_PORT"] = str(args.http_port)
    declared = DeclaredEnvironment(broker=broker_kind(wiring), literal=literal, serves_http=bool(args.http_port),
                                   mounts=["/tmp"])
    if isinstance(wiring, KafkaWiring):
        declared.deferred.add("KAFKA_BOOTSTRAP_SERVERS")
        if wiring.scram:
            declared.from_secrets |= {"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"}
        if wiring.tls:
            declared.mounts.append(KAFKA_CA_DIR)
    elif isinstance(wiring, RabbitmqWiring):
        declared.from_secrets.add("RABBITMQ_URL")
    else:
        declared.deferred.add("NATS_URL")
        if wiring.password is not None:
            declared.from_secrets.add("NATS_PASSWORD")
        if wiring.ca_cert is not None:
            declared.mounts.append(NATS_CA_DIR)
    return declared


def wiring_contract_problems(args: EventWorkloadArgs) -> list[str]:
    """What the runtime could not use: the env contract plus what the env cannot express."""
    wiring = args.broker
    kind = broker_kind(wiring)
    who = f"workload {args.service_name!r} ({kind})"
    problems = [f"{who}: {p}" for p in contract_problems(declared_environment(args))]
    if args.role == "consumer" and not wiring.consumes:
        problems.append(f"{who}: a consumer names the topics it reads; set consumes")
    if isinstance(wiring, KafkaWiring) and wiring.tls and wiring.ca_cert is None:
        problems.append(f"{who}: tls needs ca_cert, the cluster CA the client verifies the listener with")
    overridden = sorted(set(args.extra_env) & (declared_environment(args).names | {"BROKER"}))
    if overridden:
        problems.append(f"{who}: env {overridden} is set by the platform from the wiring; remove it from env")
    if isinstance(wiring, NatsWiring) and wiring.password is None and args.environment == "prod":
        problems.append(f"{who}: prod NATS has no anonymous access; set password (the workload's generated "
                        "NATS credentials, see NatsJetStream.password_of)")
    return problems


class EventWorkload(pulumi.ComponentResource):
    """A producer or consumer, deployed and wired to its broker, autoscaler, alerts and policies."""

    deployment: k8s.apps.v1.Deployment
    scaled_object: k8s.apiextensions.CustomResource | None

    def __init__(self, name: str, args: EventWorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Guardrails first: a bad wiring must fail before a single resource is registered.
        check_wiring(scaling_plan(args))
        problems = wiring_contract_problems(args)
        if problems:
            raise WiringError("; ".join(problems))
        super().__init__("eventplatform:workloads:EventWorkload", name, None, opts)
        self.args = args
        self.labels = {"app.kubernetes.io/name": args.service_name, **MANAGED_BY}
        self.secret_env: list[dict[str, Any]] = []
        self.account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=self._meta(args.service_name),
            automount_service_account_token=False,
            opts=child(self),
        )
        binding = self._bind_broker(name)
        self.deployment = self._deployment(name, binding)
        if args.http_port:
            k8s.core.v1.Service(
                f"{name}-svc",
                metadata=self._meta(args.service_name),
                spec={"selector": {"app.kubernetes.io/name": args.service_name},
                      "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
                opts=child(self),
            )
        if args.environment == "prod" and not args.singleton:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata=self._meta(args.service_name),
                spec={"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": args.service_name}}},
                opts=child(self),
            )
        self.scaled_object = self._autoscaling(name) if args.autoscaling and args.role == "consumer" else None
        if args.rule_labels is not None:
            self._alerts(name, args.rule_labels)
            self._scraping(name, args.rule_labels)
            self._dashboard(name)
        self._network_policies(name)
        self.register_outputs({})

    # --- helpers ---------------------------------------------------------------------
    def _meta(self, object_name: str) -> dict[str, Any]:
        return {"name": object_name, "namespace": self.args.namespace, "labels": self.labels}

    def _secret_env(self, variable: str, secret: pulumi.Input[str], key: str) -> None:
        self.secret_env.append({"name": variable, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})

    def _bind_broker(self, name: str) -> dict[str, pulumi.Input[str]]:
        wiring = self.args.broker
        if isinstance(wiring, KafkaWiring):
            return self._bind_kafka(name, wiring)
        if isinstance(wiring, RabbitmqWiring):
            return self._bind_rabbitmq(name, wiring)
        return self._bind_nats(name, wiring)

    def _credentials(self, name: str, broker: str, data: dict[str, pulumi.Input[str]]) -> pulumi.Output[str]:
        """A Secret in the workload's namespace with what the pod needs to authenticate."""
        secret = k8s.core.v1.Secret(
            f"{name}-{broker}-credentials",
            metadata=self._meta(f"{self.args.service_name}-{broker}"),
            string_data=data,
            opts=child(self),
        )
        name_of_secret: pulumi.Output[str] = secret.metadata.apply(lambda m: m["name"])
        return name_of_secret

    def _bind_rabbitmq(self, name: str, wiring: RabbitmqWiring) -> dict[str, pulumi.Input[str]]:
        args = self.args
        topics = workload_topics(args)
        # The runtime declares these names (and only these) on connect; the user may configure,
        # write and read exactly them: declare_topic binds each exchange to its stream, so every
        # name needs all three rights.
        pattern = exact_names_pattern(topics.rabbitmq_names())
        # Log readers fence a stream by publishing a marker straight into it through the default
        # exchange (apps/runtime/rabbitmq.py RabbitMQLogReader): write on amq.default, no more.
        writes = exact_names_pattern([*topics.rabbitmq_names(), "amq.default"])
        user = RabbitmqUser(
            f"{name}-rabbitmq-user",
            RabbitmqUserArgs(namespace=wiring.namespace, cluster_name=wiring.cluster_name, user_name=args.service_name,
                             configure=pattern, write=writes, read=pattern,
                             # KEDA reads the group queues' depth from the management API as this user.
                             tags=["management"]),
            opts=pulumi.ResourceOptions(parent=self),
        )
        host = pulumi.Output.from_input(wiring.host)
        self.rabbitmq_secret = self._credentials(name, "rabbitmq", {
            "username": args.service_name,
            "password": user.password,
            "url": pulumi.Output.secret(pulumi.Output.all(host, user.password).apply(
                lambda v: f"amqp://{args.service_name}:{v[1]}@{v[0]}:{wiring.amqp_port}/%2F")),
            "management-uri": pulumi.Output.secret(pulumi.Output.all(host, user.password).apply(
                lambda v: f"http://{args.service_name}:{v[1]}@{v[0]}:{wiring.management_port}/")),
        })
        self._secret_env("RABBITMQ_URL", self.rabbitmq_secret, "url")
        return self._broker_literals()

    def _broker_literals(self) -> dict[str, pulumi.Input[str]]:
        return dict(broker_literals(self.args))

    def _bind_kafka(self, name: str, wiring: KafkaWiring) -> dict[str, pulumi.Input[str]]:
        args = self.args
        env: dict[str, pulumi.Input[str]] = {**self._broker_literals(),
                                             "KAFKA_BOOTSTRAP_SERVERS": wiring.bootstrap_servers}
        owned: dict[str, dict[str, Any]] = {}
        if args.role == "consumer":
            owned[f"{args.group}.dlq"] = {"retention.ms": 14 * 24 * 3600 * 1000}
        if wiring.effects_journal:
            owned[f"{args.group}.effects"] = {"cleanup.policy": "compact"}
        for topic, topic_config in owned.items():
            kafka_mod.KafkaTopic(
                f"{name}-topic-{kafka_mod.resource_safe(topic)}",
                kafka_mod.KafkaTopicArgs(
                    namespace=wiring.namespace, cluster_name=wiring.cluster_name, topic_name=topic,
                    partitions=1, replicas=wiring.replication_factor,
                    min_insync_replicas=wiring.min_insync_replicas, protect=wiring.protect, config=topic_config,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        if wiring.scram:
            access = [kafka_mod.TopicAccess(t, ["Write", "Describe"]) for t in wiring.produces]
            access += [kafka_mod.TopicAccess(t, ["Read", "Write", "Describe"]) for t in owned]
            access += [kafka_mod.TopicAccess(t, ["Read", "Describe"])
                       for t in dict.fromkeys([*wiring.consumes, *wiring.reads]) if t not in wiring.produces]
            user = kafka_mod.KafkaUser(
                f"{name}-kafka-user",
                kafka_mod.KafkaUserArgs(
                    namespace=wiring.namespace, cluster_name=wiring.cluster_name, user_name=args.service_name,
                    topics=access, consumer_group=args.group if args.role == "consumer" else None,
                    transactional_id=args.group,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            # The pod reads its password from a Secret in its own namespace: a copy of the
            # generated one, never a literal in the manifest.
            self.kafka_secret = self._credentials(name, "kafka", {"username": args.service_name,
                                                                  "password": user.password})
            self._secret_env("KAFKA_SASL_USERNAME", self.kafka_secret, "username")
            self._secret_env("KAFKA_SASL_PASSWORD", self.kafka_secret, "password")
        if wiring.tls:
            assert wiring.ca_cert is not None  # refused earlier (wiring_contract_problems)
            self.kafka_ca_secret = self._ca_copy(name, "kafka", wiring.ca_cert)
        return env

    def _bind_nats(self, name: str, wiring: NatsWiring) -> dict[str, pulumi.Input[str]]:
        env: dict[str, pulumi.Input[str]] = {**self._broker_literals(), "NATS_URL": wiring.url}
        if wiring.password is not None:
            self.nats_secret = self._credentials(name, "nats", {"username": self.args.service_name,
                                                                "password": wiring.password})
            self._secret_env("NATS_PASSWORD", self.nats_secret, "password")
        if wiring.ca_cert is not None:
            self.nats_ca_secret = self._ca_copy(name, "nats", wiring.ca_cert)
        return env

    def _ca_copy(self, name: str, broker: str, ca_cert: pulumi.Input[str]) -> pulumi.Output[str]:
        """The broker's CA certificate in a Secret of the workload's namespace, for the pod to mount
        (a pod can only mount Secrets of its own namespace; the broker's CA lives in the broker's)."""
        ca = k8s.core.v1.Secret(
            f"{name}-{broker}-ca",
            metadata=self._meta(f"{self.args.service_name}-{broker}-ca"),
            string_data={} if ca_cert == CA_NOT_YET_ISSUED else {"ca.crt": ca_cert},
            opts=child(self),
        )
        name_of_secret: pulumi.Output[str] = ca.metadata.apply(lambda m: m["name"])
        return name_of_secret

    def _deployment(self, name: str, binding: dict[str, pulumi.Input[str]]) -> k8s.apps.v1.Deployment:
        args = self.args
        env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in {
            "SERVICE_NAME": args.service_name,
            "HEALTH_PORT": str(HEALTH_PORT),
            "METRICS_PORT": str(METRICS_PORT),
            "SHUTDOWN_TIMEOUT_S": str(SHUTDOWN_TIMEOUT_S),
            **binding,
            **args.extra_env,
        }.items()]
        env += self.secret_env
        ports = [{"name": "health", "containerPort": HEALTH_PORT}, {"name": "metrics", "containerPort": METRICS_PORT}]
        if args.http_port:
            ports.append({"name": "http", "containerPort": args.http_port})
            env.append({"name": "API_PORT", "value": str(args.http_port)})
        volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
        mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
        wiring = args.broker
        if isinstance(wiring, KafkaWiring) and wiring.tls:
            volumes.append({"name": "kafka-ca", "secret": {"secretName": self.kafka_ca_secret}})
            mounts.append({"name": "kafka-ca", "mountPath": KAFKA_CA_DIR, "readOnly": True})
        if isinstance(wiring, NatsWiring) and wiring.ca_cert is not None:
            volumes.append({"name": "nats-ca", "secret": {"secretName": self.nats_ca_secret}})
            mounts.append({"name": "nats-ca", "mountPath": NATS_CA_DIR, "readOnly": True})
        # Scraped by its own PodMonitor (below), not the platform's label convention, so each
        # workload is scraped exactly once.
        pod_labels = dict(self.labels)
        pod_spec = runtime_pod_spec(args.service_name, args.image, args.command, env, ports, args.cpu, args.memory,
                                    mounts, volumes, SHUTDOWN_TIMEOUT_S)
        if args.environment == "prod":
            pod_spec["topologySpreadConstraints"] = zone_spread({"app.kubernetes.io/name": args.service_name})
        spec: dict[str, Any] = {
            "selector": {"matchLabels": {"app.kubernetes.io/name": args.service_name}},
            "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
        }
        if args.singleton:
            # Never two instances at once, not even during a rollout.
            spec["strategy"] = {"type": "Recreate"}
        scaled = args.autoscaling is not None and args.role == "consumer"
        if not scaled:
            spec["replicas"] = args.replicas
        # With KEDA owning the replica count, Pulumi must not fight it on every update.
        opts = child(self, depends_on=[self.account])
        if scaled:
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(ignore_changes=["spec.replicas"]))
        metadata = self._meta(args.service_name)
        if args.singleton:
            metadata["annotations"] = {SINGLETON_ANNOTATION: "true"}
        return k8s.apps.v1.Deployment(name, metadata=metadata, spec=spec, opts=opts)

    def _autoscaling(self, name: str) -> k8s.apiextensions.CustomResource:
        """KEDA scales on what the consumers read: the group's lag (Kafka), its queues' depth
        (RabbitMQ), its durable consumers' pending messages (NATS)."""
        args = self.args
        scaling = args.autoscaling
        assert scaling is not None
        wiring = args.broker
        triggers: list[dict[str, Any]]
        auth_refs: list[dict[str, Any]] = []
        if isinstance(wiring, KafkaWiring):
            metadata = {
                "bootstrapServers": wiring.bootstrap_servers,
                "consumerGroup": scaling.scaler_consumer_group or args.group,
                "lagThreshold": str(scaling.lag_threshold),
                "activationLagThreshold": str(scaling.activation_threshold),
                "offsetResetPolicy": scaling.scaler_offset_reset or wiring.auto_offset_reset,
                "allowIdleConsumers": str(scaling.allow_idle_consumers).lower(),
                # A poison message stuck on one partition must not keep the workload scaled up.
                "excludePersistentLag": "true",
            }
            if len(wiring.consumes) == 1:
                # With one topic KEDA caps replicas at its partitions; with several it sums the
                # group's lag over all of them.
                metadata["topic"] = wiring.consumes[0]
            if wiring.scram:
                metadata["sasl"] = "scram_sha512"
                auth_refs += [{"parameter": "username", "name": self.kafka_secret, "key": "username"},
                              {"parameter": "password", "name": self.kafka_secret, "key": "password"}]
            if wiring.tls:
                metadata["tls"] = "enable"
                auth_refs.append({"parameter": "ca", "name": self.kafka_ca_secret, "key": "ca.crt"})
            triggers = [{"type": "kafka", "metadata": metadata}]
        elif isinstance(wiring, RabbitmqWiring):
            triggers = [{"type": "rabbitmq", "metadata": {
                "protocol": "http", "queueName": group_queue(args.group, topic), "mode": "QueueLength",
                "value": str(scaling.lag_threshold), "activationValue": str(scaling.activation_threshold),
                "vhostName": "/"}} for topic in wiring.consumes]
            auth_refs = [{"parameter": "host", "name": self.rabbitmq_secret, "key": "management-uri"}]
        else:
            triggers = [{"type": "nats-jetstream", "metadata": {
                "natsServerMonitoringEndpoint": wiring.monitoring_endpoint, "account": wiring.account,
                "stream": stream_name(topic), "consumer": args.group,
                "lagThreshold": str(scaling.lag_threshold),
                "activationLagThreshold": str(scaling.activation_threshold)}} for topic in wiring.consumes]
        deps = [self.deployment, *([args.keda] if args.keda else [])]
        if auth_refs:
            auth = custom_resource(
                f"{args.service_name}-trigger-auth", "keda.sh/v1alpha1", "TriggerAuthentication", args.namespace,
                {"secretTargetRef": auth_refs},
                child(self, depends_on=deps), resource_name=f"{name}-trigger-auth",
            )
            for trigger in triggers:
                trigger["authenticationRef"] = {"name": f"{args.service_name}-trigger-auth"}
            deps.append(auth)
        return custom_resource(
            args.service_name, "keda.sh/v1alpha1", "ScaledObject", args.namespace,
            {
                "scaleTargetRef": {"name": args.service_name},
                "minReplicaCount": scaling.min_replicas,
                "maxReplicaCount": scaling.max_replicas,
                "pollingInterval": scaling.polling_interval_s,
                "cooldownPeriod": scaling.cooldown_period_s,
                "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {
                    "scaleDown": {"stabilizationWindowSeconds": scaling.scale_down_stabilization_s,
                                  "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
                    "scaleUp": {"stabilizationWindowSeconds": 0,
                                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 30}]},
                }}},
                "triggers": triggers,
            },
            child(self, depends_on=deps), resource_name=f"{name}-scaledobject",
        )

    def _alerts(self, name: str, rule_labels: dict[str, str]) -> None:
        args = self.args
        service = args.service_name
        rules = service_failure_rules(service, "dead-lettered events in the last 10 minutes",
                                      "more than 5% of processing attempts fail")
        if isinstance(args.broker, KafkaWiring) and args.role == "consumer":
            threshold = (args.autoscaling.lag_threshold if args.autoscaling else 50) * 20
            rules.append({
                "alert": "EventWorkloadConsumerLag", "for": "10m",
                "expr": f'sum(kafka_consumergroup_lag{{consumergroup="{args.group}"}}) > {threshold}',
                "labels": {"severity": "warning", "service": service},
                "annotations": {"summary": f"{service}: consumer group {args.group} lags by more than {threshold}",
                                "runbook": "docs/alerts.md#eventworkloadconsumerlag"}})
        custom_resource(
            f"{service}-alerts", "monitoring.coreos.com/v1", "PrometheusRule", args.namespace,
            {"groups": [{"name": f"workload-{service}", "rules": rules}]},
            child(self), resource_name=f"{name}-alerts", labels=rule_labels,
        )

    def _scraping(self, name: str, monitor_labels: dict[str, str]) -> None:
        custom_resource(
            self.args.service_name, "monitoring.coreos.com/v1", "PodMonitor", self.args.namespace,
            {"selector": {"matchLabels": {"app.kubernetes.io/name": self.args.service_name}},
             "podMetricsEndpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s"}]},
            child(self), resource_name=f"{name}-podmonitor", labels=monitor_labels,
        )

    def _dashboard(self, name: str) -> None:
        """One Grafana row for this service, in the platform's folder."""
        k8s.core.v1.ConfigMap(
            f"{name}-dashboard",
            metadata={"name": f"dashboard-{self.args.service_name}", "namespace": self.args.namespace,
                      "labels": {**self.labels, "grafana_dashboard": "1"},
                      "annotations": {"grafana_folder": "Event Platform"}},
            data={f"{self.args.service_name}.json": json.dumps(workload_dashboard(self.args), indent=1)},
            opts=child(self),
        )

    def _network_policies(self, name: str) -> None:
        """Allow exactly what the wiring needs; the namespace's default deny drops the rest."""
        args = self.args
        selector = {"matchLabels": {"app.kubernetes.io/name": args.service_name}}
        wiring = args.broker
        if isinstance(wiring, KafkaWiring):
            broker_ports = [wiring.port]
        elif isinstance(wiring, RabbitmqWiring):
            broker_ports = [5672]
        else:
            broker_ports = [4222]
        monitoring = {"kubernetes.io/metadata.name": args.monitoring_namespace}
        ingress: list[dict[str, Any]] = [{
            "from": [{"namespaceSelector": {"matchLabels": monitoring}}],
            "ports": [{"port": METRICS_PORT, "protocol": "TCP"}],
        }]
        if args.http_port:
            # The API is for callers inside the namespace (the generator, other services);
            # expose it further with an explicit policy or through Knative/ingress.
            ingress.append({"from": [{"podSelector": {}}], "ports": [{"port": args.http_port, "protocol": "TCP"}]})
        egress = [
            {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": wiring.namespace}}}],
             "ports": [{"port": p, "protocol": "TCP"} for p in broker_ports]},
            DNS_EGRESS,
        ]
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=self._meta(args.service_name),
            spec={"podSelector": selector, "policyTypes": ["Ingress", "Egress"], "ingress": ingress, "egress": egress},
            opts=child(self),
        )


def workload_dashboard(args: EventWorkloadArgs) -> dict[str, Any]:
    """A one-row dashboard: throughput, failures, dead letters, latency, backlog and replicas."""
    service = args.service_name
    datasource = {"type": "prometheus", "uid": "prometheus"}
    queries = [
        ("Events in / out /s", f'sum(rate(events_in_total{{service="{service}"}}[$__rate_interval]))', "ops"),
        ("Failed attempts /s", f'sum(rate(events_failed_total{{service="{service}"}}[$__rate_interval]))', "ops"),
        ("Dead-lettered (1h)", f'sum(increase(events_dead_lettered_total{{service="{service}"}}[1h]))', "short"),
        ("Processing p99", "histogram_quantile(0.99, sum by (le) "
                           f'(rate(event_processing_seconds_bucket{{service="{service}"}}[$__rate_interval])))', "s"),
        ("Consumer lag", f'sum(kafka_consumergroup_lag{{consumergroup="{args.group}"}})', "short"),
        ("Replicas", f'kube_deployment_status_replicas{{deployment="{service}"}}', "short"),
    ]
    panels: list[dict[str, Any]] = [{"id": 1, "type": "row", "title": service, "collapsed": False,
                                     "gridPos": {"h": 1, "w": 24, "x": 0, "y": 0}, "panels": []}]
    for index, (title, expr, unit) in enumerate(queries):
        panels.append({
            "id": index + 2, "type": "timeseries", "title": title, "datasource": datasource,
            "gridPos": {"h": 7, "w": 8, "x": (index % 3) * 8, "y": 1 + (index // 3) * 7},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": "A", "datasource": datasource, "expr": expr}],
        })
    return {"uid": f"workload-{service}"[:40], "title": f"Workload: {service}", "schemaVersion": 41,
            "tags": ["event-platform", "workload"], "time": {"from": "now-1h", "to": "now"},
            "panels": panels, "templating": {"list": []}, "editable": False}


@dataclass(frozen=True)
class EventGeneratorArgs:
    namespace: pulumi.Input[str]
    image: str
    target_service: str  # the HTTP service orders are posted to
    target_port: int
    schedule: str
    count: int
    rate_per_s: int


class EventGenerator(pulumi.ComponentResource):
    """The load generator as a CronJob: posts orders to the order API on a schedule."""

    def __init__(self, name: str, args: EventGeneratorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:workloads:EventGenerator", name, None, opts)
        labels = {"app.kubernetes.io/name": "event-generator", **MANAGED_BY}
        url = pulumi.Output.from_input(args.namespace).apply(lambda ns: f"http://{args.target_service}.{ns}.svc")
        env = [{"name": "GENERATOR_URL", "value": url},
               {"name": "GENERATOR_COUNT", "value": str(args.count)},
               {"name": "GENERATOR_RATE_PER_S", "value": str(args.rate_per_s)}]
        pod = {
            "metadata": {"labels": labels},
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": False,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "generator", "image": args.image,
                    "command": ["python", "-m", "event_platform.apps.generator"],
                    "env": env, "securityContext": restricted_container_security(),
                    "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "128Mi"}},
                }],
            },
        }
        k8s.batch.v1.CronJob(
            name,
            metadata={"name": "event-generator", "namespace": args.namespace, "labels": labels},
            spec={"schedule": args.schedule, "concurrencyPolicy": "Forbid", "successfulJobsHistoryLimit": 1,
                  "failedJobsHistoryLimit": 3,
                  "jobTemplate": {"spec": {"backoffLimit": 1, "activeDeadlineSeconds": 600, "template": pod}}},
            opts=child(self),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata={"name": "event-generator", "namespace": args.namespace, "labels": labels},
            spec={
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "event-generator"}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [],
                "egress": [
                    {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": args.target_service}}}],
                     "ports": [{"port": args.target_port, "protocol": "TCP"}]},
                    DNS_EGRESS,
                ],
            },
            opts=child(self),
        )
        self.register_outputs({})
