"""The platform stack's outputs: a versioned contract other stacks read through StackReference.

A StackReference marks a whole top-level output secret as soon as any value nested in it is
secret, so a password inside ``kafka`` would make its bootstrap address and topic names secret
for every reader. The contract therefore keeps each secret in a top-level output of its own
(``kafka_password``, ``rabbitmq_password``, ``grafana_admin_password``) and every other output
plain. ``outputs_version`` changes only when a documented key is removed or changes meaning;
new keys keep the version. The keys are documented in README.md ("Use from your own stack").
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

import pulumi

from event_platform.infra.config import build_config
from event_platform.infra.kafka import PLAIN_PORT, TLS_PORT, KafkaAccess

OUTPUTS_VERSION = 1

# Each secret's top-level output name → where EventPlatform keeps it (group, key).
SECRET_OUTPUTS: dict[str, tuple[str, str]] = {
    "kafka_password": ("kafka", "password"),
    "rabbitmq_password": ("rabbitmq", "password"),
    "grafana_admin_password": ("observability", "grafana_admin_password"),
}


class KafkaOutputs(TypedDict, total=False):
    bootstrap_servers: str  # host:port of the listener applications use
    cluster_name: str  # the Strimzi Kafka resource (KafkaTopic/KafkaUser label strimzi.io/cluster)
    tls: bool
    authentication: str  # "none" or "scram-sha-512"
    topics: list[str]  # every platform topic, dead-letter twins included
    user: str  # with SCRAM: the platform-wide application user (password: `kafka_password`)
    password_secret: str  # with SCRAM: the Kubernetes Secret in the Kafka namespace holding it
    ca_secret: str  # with TLS: the Secret holding the cluster CA certificate


class RabbitmqOutputs(TypedDict):
    amqp_url: str  # without credentials
    management_url: str
    user_secret: str  # the Kubernetes Secret holding the application user (password: `rabbitmq_password`)
    topics: list[str]  # the platform's RabbitMQ topics (the runtime declares the queues)


class NatsOutputs(TypedDict):
    url: str
    monitoring_endpoint: str
    streams: list[str]


class PlatformOutputs(TypedDict, total=False):
    """Every top-level output of the platform stack; add-ons switched off leave theirs out."""

    outputs_version: int
    environment: str  # "dev" or "prod"
    namespaces: dict[str, str]  # role (kafka, rabbitmq, apps, ...) → namespace name
    kafka: KafkaOutputs
    kafka_password: str  # secret; only with SCRAM authentication
    rabbitmq: RabbitmqOutputs
    rabbitmq_password: str  # secret
    nats: NatsOutputs
    keda: dict[str, str]
    knative: dict[str, Any]
    observability: dict[str, Any]  # URLs, admin user, dashboards (password: `grafana_admin_password`)
    grafana_admin_password: str  # secret
    workloads: dict[str, Any]
    unavailable_artifacts: list[str]
    render_gaps: list[str]  # render mode only: what a render cannot know
    local_gaps: list[str]  # local target only: what only a running operator would create


def platform_stack_outputs(outputs: dict[str, Any]) -> dict[str, Any]:
    """EventPlatform's outputs in the shape of the contract: secrets lifted to their own keys."""
    nested_secrets = set(SECRET_OUTPUTS.values())
    contract: dict[str, Any] = {"outputs_version": OUTPUTS_VERSION}
    for key, value in outputs.items():
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if (key, k) not in nested_secrets}
        contract[key] = value
    for name, (group, key) in SECRET_OUTPUTS.items():
        if key in (outputs.get(group) or {}):
            contract[name] = pulumi.Output.secret(outputs[group][key])
    return contract


def export_platform_outputs(outputs: dict[str, Any]) -> None:
    for key, value in platform_stack_outputs(outputs).items():
        pulumi.export(key, value)


class IncompatiblePlatformOutputs(Exception):
    pass


def check_outputs_version(version: Any, stack: str) -> None:
    if version is None:
        raise IncompatiblePlatformOutputs(
            f"platform stack {stack} has no output outputs_version: it predates the outputs contract; "
            f"fix: run `pulumi up` on it with this release of event-platform")
    if version != OUTPUTS_VERSION:
        shown = int(version) if isinstance(version, float) and version.is_integer() else version
        raise IncompatiblePlatformOutputs(
            f"platform stack {stack} exports outputs_version {shown}, this package reads version "
            f"{OUTPUTS_VERSION}; fix: use the event-platform release that matches the platform stack")


class PlatformStackReference:
    """Reads a platform stack through a StackReference, refusing an outputs contract it does not know.

    Plain values come back plain and secrets secret, as the platform exported them.
    """

    def __init__(self, stack: str, opts: pulumi.ResourceOptions | None = None) -> None:
        self.stack = stack
        self.reference = pulumi.StackReference(stack, opts=opts)
        self.outputs_version: pulumi.Output[int] = self.reference.get_output("outputs_version").apply(
            self._checked)

    def _checked(self, version: Any) -> int:
        check_outputs_version(version, self.stack)
        return int(version)

    def require(self, key: str) -> pulumi.Output[Any]:
        """One top-level output, available only once the contract version has been checked."""
        value = self.reference.require_output(key)
        return pulumi.Output.all(self.outputs_version, value).apply(lambda pair: pair[1])

    @property
    def environment(self) -> pulumi.Output[str]:
        return self.require("environment")

    @property
    def namespaces(self) -> pulumi.Output[dict[str, str]]:
        return self.require("namespaces")

    @property
    def kafka(self) -> pulumi.Output[KafkaOutputs]:
        return self.require("kafka")

    def kafka_access(self, environment: Literal["dev", "prod"],
                     ca_cert: pulumi.Input[str] | None = None) -> KafkaAccess:
        """How to reach the platform's Kafka, for a KafkaWiring in this program.

        What decides resources (cluster name, protocol, authentication, replication) must be known
        before anything is declared, and a StackReference's outputs are not: those come from the
        platform's preset for ``environment``, the address and namespace from the stack's outputs,
        and the update fails, naming the difference, if the platform stack overrode the preset.
        With TLS (prod), ``ca_cert`` is the cluster CA: the Secret ``kafka.ca_secret`` names.
        """
        platform = build_config(environment, {})
        preset = platform.kafka
        expected = {"cluster_name": preset.cluster_name, "tls": preset.tls, "authentication": preset.authentication}

        def checked(kafka: KafkaOutputs) -> str:
            found = {key: kafka.get(key) for key in expected}
            if found != expected:
                raise IncompatiblePlatformOutputs(
                    f"platform stack {self.stack} runs Kafka with {found}, the {environment} preset with "
                    f"{expected}; fix: build the KafkaAccess from the platform's actual settings")
            return kafka["bootstrap_servers"]

        return KafkaAccess(
            bootstrap_servers=self.kafka.apply(checked), cluster_name=preset.cluster_name,
            namespace=self.namespaces.apply(lambda n: n["kafka"]),
            port=TLS_PORT if preset.tls else PLAIN_PORT, scram=preset.authentication == "scram-sha-512",
            tls=preset.tls, ca_cert=ca_cert, replication_factor=preset.replication_factor,
            min_insync_replicas=preset.min_insync_replicas, protect=platform.protect_stateful,
        )

    @property
    def kafka_password(self) -> pulumi.Output[str]:
        return self.require("kafka_password")

    @property
    def rabbitmq(self) -> pulumi.Output[RabbitmqOutputs]:
        return self.require("rabbitmq")

    @property
    def rabbitmq_password(self) -> pulumi.Output[str]:
        return self.require("rabbitmq_password")

    @property
    def nats(self) -> pulumi.Output[NatsOutputs]:
        return self.require("nats")
