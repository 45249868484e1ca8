"""A workload on RabbitMQ: a user of its own allowed exactly the names its runtime declares,
its AMQP and management URLs in a Secret, and queue-depth scaling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import pulumi

from event_platform.apps.runtime.topology import exact_names_pattern, group_queue
from event_platform.infra.rabbitmq import RabbitmqAccess, RabbitmqUser, RabbitmqUserArgs
from event_platform.infra.workloads.broker import Binding, BrokerWiring, EnvironmentShape, WorkloadScope

if TYPE_CHECKING:
    from event_platform.infra.workloads.args import Autoscaling, EventWorkloadArgs


@dataclass(frozen=True, kw_only=True)
class RabbitmqWiring(BrokerWiring):
    """The runtime declares its RabbitMQ topology (event_platform/apps/runtime/topology.py); the
    workload gets a user of its own whose permissions match exactly the names it declares, reads
    and writes."""

    kind: ClassVar[str] = "rabbitmq"
    access: RabbitmqAccess  # RabbitmqCluster.access
    delivery_limit: int = 5

    def environment(self, args: EventWorkloadArgs) -> EnvironmentShape:
        return EnvironmentShape(literal={"RABBITMQ_DELIVERY_LIMIT": str(self.delivery_limit)},
                                from_secrets={"RABBITMQ_URL"})

    def bind(self, workload: WorkloadScope) -> Binding:
        args, access = workload.args, self.access
        topics = args.topics
        # The runtime declares these names (and only these) on connect; the user may configure,
        # write and read exactly them: declare_topic binds each exchange to its stream, so every
        # name needs all three rights.
        pattern = exact_names_pattern(topics.rabbitmq_names())
        # Log readers fence a stream by publishing a marker straight into it through the default
        # exchange (event_platform/apps/runtime/rabbitmq/ RabbitMQLogReader): write on amq.default, no more.
        writes = exact_names_pattern([*topics.rabbitmq_names(), "amq.default"])
        user = RabbitmqUser(
            f"{workload.resource_name}-rabbitmq-user",
            RabbitmqUserArgs(namespace=access.namespace, cluster_name=access.cluster_name,
                             user_name=args.service_name, configure=pattern, write=writes, read=pattern,
                             # KEDA reads the group queues' depth from the management API as this user.
                             tags=["management"]),
            opts=workload.child_options(),
        )
        host = pulumi.Output.from_input(access.host)
        service = args.service_name
        secret = workload.credentials("rabbitmq", {
            "username": service,
            "password": user.password,
            "url": pulumi.Output.secret(pulumi.Output.all(host, user.password).apply(
                lambda v: f"amqp://{service}:{v[1]}@{v[0]}:{access.amqp_port}/%2F")),
            "management-uri": pulumi.Output.secret(pulumi.Output.all(host, user.password).apply(
                lambda v: f"http://{service}:{v[1]}@{v[0]}:{access.management_port}/")),
        })
        binding = Binding(trigger_auth=[{"parameter": "host", "name": secret, "key": "management-uri"}])
        binding.secret_variable("RABBITMQ_URL", secret, "url")
        return binding

    def triggers(self, args: EventWorkloadArgs, scaling: Autoscaling, binding: Binding) -> list[dict[str, Any]]:
        return [{"type": "rabbitmq", "metadata": {
            "protocol": "http", "queueName": group_queue(args.group, topic), "mode": "QueueLength",
            "value": str(scaling.lag_threshold), "activationValue": str(scaling.activation_threshold),
            "vhostName": "/"}} for topic in self.consumes]

    def egress(self) -> tuple[pulumi.Input[str], list[int]]:
        return self.access.namespace, [self.access.amqp_port]
