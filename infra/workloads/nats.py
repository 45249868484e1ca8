"""A workload on NATS JetStream: its generated password and the servers' CA in its namespace,
and scaling on its durable consumers' pending messages. Topic streams are the platform's (NACK);
the runtime finds them and declares its durable consumer, dead-letter stream and effects bucket."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import pulumi

from event_platform.apps.runtime.topology import stream_name
from event_platform.infra.nats import NatsAccess
from event_platform.infra.workloads.broker import Binding, BrokerWiring, EnvironmentShape, WorkloadScope

if TYPE_CHECKING:
    from event_platform.infra.workloads.args import Autoscaling, EventWorkloadArgs

NATS_CA_DIR = "/etc/nats-ca"


@dataclass(frozen=True, kw_only=True)
class NatsWiring(BrokerWiring):
    kind: ClassVar[str] = "nats"
    access: NatsAccess  # NatsJetStream.access()
    max_deliver: int = 5
    # The workload's generated password on the NATS server (user = service name; required in prod):
    # NatsJetStream.password_of(service).
    password: pulumi.Input[str] | None = None

    def environment(self, args: EventWorkloadArgs) -> EnvironmentShape:
        shape = EnvironmentShape(literal={"NATS_MAX_DELIVER": str(self.max_deliver),
                                          "NATS_STREAM_REPLICAS": str(self.access.stream_replicas)},
                                 deferred={"NATS_URL"})
        if self.password is not None:
            shape.literal["NATS_USER"] = args.service_name
            shape.from_secrets.add("NATS_PASSWORD")
        if self.access.ca_cert is not None:
            shape.literal["NATS_CA_FILE"] = f"{NATS_CA_DIR}/ca.crt"
            shape.mounts.append(NATS_CA_DIR)
        return shape

    def problems(self, args: EventWorkloadArgs) -> list[str]:
        if self.password is None and args.environment == "prod":
            return ["prod NATS has no anonymous access; set password (the workload's generated NATS "
                    "credentials, see NatsJetStream.password_of)"]
        return []

    def bind(self, workload: WorkloadScope) -> Binding:
        binding = Binding(env={"NATS_URL": self.access.url})
        if self.password is not None:
            secret = workload.credentials("nats", {"username": workload.args.service_name,
                                                   "password": self.password})
            binding.secret_variable("NATS_PASSWORD", secret, "password")
        if self.access.ca_cert is not None:
            binding.mount("nats-ca", workload.ca_copy("nats", self.access.ca_cert), NATS_CA_DIR)
        return binding

    def triggers(self, args: EventWorkloadArgs, scaling: Autoscaling, binding: Binding) -> list[dict[str, Any]]:
        return [{"type": "nats-jetstream", "metadata": {
            "natsServerMonitoringEndpoint": self.access.monitoring_endpoint, "account": self.access.account,
            "stream": stream_name(topic), "consumer": args.group,
            "lagThreshold": str(scaling.lag_threshold),
            "activationLagThreshold": str(scaling.activation_threshold)}} for topic in self.consumes]

    def egress(self) -> tuple[pulumi.Input[str], list[int]]:
        return self.access.namespace, [self.access.client_port]
