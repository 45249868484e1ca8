"""RabbitMQ through the official cluster and messaging-topology operators.

The operators' release manifests carry cert-manager Issuers and Certificates for their
webhooks, so cert-manager is installed first (event_platform.infra.certmanager).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from event_platform.infra import artifacts
from event_platform.infra.base import MANAGED_BY, child, custom_resource, restricted_container_security, zone_spread
from event_platform.infra.namespaces import ingress_policies

API = "rabbitmq.com/v1beta1"
# Where both operators' release manifests install themselves, and their webhook servers' port.
OPERATOR_NAMESPACE = "rabbitmq-system"
OPERATOR_WEBHOOK_PORT = 9443
AMQP_PORT = 5672
MANAGEMENT_PORT = 15672
PROMETHEUS_PORT = 15692


@dataclass(frozen=True)
class RabbitmqOperatorsArgs:
    source: artifacts.ArtifactSource
    cert_manager: pulumi.Resource | None = None
    # The cluster operator's manifest holds the RabbitmqCluster CRD, and deleting a CRD deletes
    # every cluster of its kind: a protected platform leaves the manifest's objects in place.
    keep_cluster_operator: bool = False


class RabbitmqOperators(pulumi.ComponentResource):
    """The cluster operator and the messaging-topology operator, from their release manifests."""

    cluster_operator: k8s.yaml.v2.ConfigFile
    topology_operator: k8s.yaml.v2.ConfigGroup

    def __init__(self, name: str, args: RabbitmqOperatorsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:rabbitmq:RabbitmqOperators", name, None, opts)
        deps = [args.cert_manager] if args.cert_manager else []
        self.cluster_operator = k8s.yaml.v2.ConfigFile(
            f"{name}-cluster-operator",
            file=args.source.manifest(artifacts.RABBITMQ_CLUSTER_OPERATOR),
            opts=pulumi.ResourceOptions.merge(child(self, depends_on=deps),
                                              pulumi.ResourceOptions(retain_on_delete=args.keep_cluster_operator)),
        )
        # Both manifests declare the rabbitmq-system Namespace; the cluster operator's owns it.
        self.topology_operator = k8s.yaml.v2.ConfigGroup(
            f"{name}-topology-operator",
            **args.source.manifest_without_namespace(artifacts.RABBITMQ_TOPOLOGY_OPERATOR),
            opts=pulumi.ResourceOptions.merge(
                child(self, depends_on=[*deps, self.cluster_operator]),
                # It was a ConfigFile: keep the URNs of the objects it already created.
                pulumi.ResourceOptions(aliases=[pulumi.Alias(type_="kubernetes:yaml/v2:ConfigFile")]),
            ),
        )
        # The manifests create rabbitmq-system themselves; its ingress is the platform's to close:
        # only the API server reaches the operators' webhooks, only platform namespaces the rest.
        ingress_policies(f"{name}-system", OPERATOR_NAMESPACE, [OPERATOR_WEBHOOK_PORT], True,
                         child(self, depends_on=[self.cluster_operator]))
        self.register_outputs({})


@dataclass(frozen=True)
class RabbitmqClusterArgs:
    namespace: pulumi.Input[str]
    cluster_name: str
    replicas: int
    storage_size: str
    cpu: str
    memory: str
    protect: bool
    spread: bool
    storage_class: str | None = None
    operators: RabbitmqOperators | None = None


@dataclass(frozen=True)
class RabbitmqAccess:
    """How a client reaches a RabbitmqCluster; ``RabbitmqCluster.access`` fills it in. Clients get
    users of their own (RabbitmqUser), so no credential is part of it."""

    host: pulumi.Input[str]  # the cluster's Service, e.g. events.rabbitmq.svc
    namespace: pulumi.Input[str]  # the cluster's namespace (User and Permission live there)
    cluster_name: str
    amqp_port: int = AMQP_PORT
    management_port: int = MANAGEMENT_PORT


class RabbitmqCluster(pulumi.ComponentResource):
    """A RabbitmqCluster (quorum queues, pause_minority, Prometheus) and its topology."""

    cluster: k8s.apiextensions.CustomResource
    host: pulumi.Output[str]  # the cluster's Service name, for clients that build their own URL
    amqp_url: pulumi.Output[str]
    management_url: pulumi.Output[str]
    default_user_secret: pulumi.Output[str]
    app_user: RabbitmqUser
    app_user_name: str

    def __init__(self, name: str, args: RabbitmqClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:rabbitmq:RabbitmqCluster", name, None, opts)
        ops = args.operators
        operator_deps: list[pulumi.Resource] = [ops.cluster_operator] if ops else []
        topology_deps: list[pulumi.Resource] = [ops.topology_operator] if ops else []
        self.cluster = custom_resource(
            args.cluster_name, API, "RabbitmqCluster", args.namespace, cluster_spec(args),
            child(self, depends_on=operator_deps, stateful=True, protect=args.protect),
            resource_name=name,
        )
        if args.replicas > 1:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata={"name": f"{args.cluster_name}-rabbitmq", "namespace": args.namespace, "labels": MANAGED_BY},
                spec={"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": args.cluster_name}}},
                opts=child(self),
            )
        host = pulumi.Output.from_input(args.namespace).apply(lambda ns: f"{args.cluster_name}.{ns}.svc")
        self.host = host
        self.amqp_url = host.apply(lambda h: f"amqp://{h}:{AMQP_PORT}/")
        self.management_url = host.apply(lambda h: f"http://{h}:{MANAGEMENT_PORT}")
        self.default_user_secret = pulumi.Output.from_input(f"{args.cluster_name}-default-user")

        # No exchanges or queues here: the runtime declares its topology (apps/BROKERS.md) and
        # each workload's user may touch exactly its own names (event_platform.infra.workloads).
        after = child(self, depends_on=[self.cluster, *topology_deps])
        self.app_user_name = "event-platform-app"
        self.app_user = RabbitmqUser(
            f"{name}-app",
            RabbitmqUserArgs(namespace=args.namespace, cluster_name=args.cluster_name, user_name=self.app_user_name),
            opts=after,
        )
        self.access = RabbitmqAccess(host=host, namespace=args.namespace, cluster_name=args.cluster_name)
        self.register_outputs({"amqp_url": self.amqp_url, "management_url": self.management_url})


def cluster_spec(args: RabbitmqClusterArgs) -> dict[str, Any]:
    resources = {"cpu": args.cpu, "memory": args.memory}
    persistence: dict[str, Any] = {"storage": args.storage_size}
    if args.storage_class:
        persistence["storageClassName"] = args.storage_class
    pod_spec: dict[str, Any] = {
        "containers": [{"name": "rabbitmq", "securityContext": {**restricted_container_security(),
                                                                 "readOnlyRootFilesystem": False}}],
    }
    if args.spread:
        pod_spec["topologySpreadConstraints"] = zone_spread({"app.kubernetes.io/name": args.cluster_name})
    spec: dict[str, Any] = {
        "replicas": args.replicas,
        "image": artifacts.RABBITMQ_IMAGE,
        "resources": {"requests": resources, "limits": resources},
        "persistence": persistence,
        "rabbitmq": {
            # pause_minority: a partitioned minority stops instead of diverging; quorum queues by
            # default so no classic (unreplicated) queue is ever created by accident.
            "additionalConfig": "\n".join(
                [
                    "cluster_partition_handling = pause_minority",
                    "default_queue_type = quorum",
                    "disk_free_limit.relative = 1.0",
                    "collect_statistics_interval = 10000",
                ]
            ),
            "additionalPlugins": ["rabbitmq_prometheus"],
        },
        "override": {"statefulSet": {"spec": {"template": {"spec": pod_spec}}}},
    }
    return spec


@dataclass(frozen=True)
class RabbitmqUserArgs:
    namespace: pulumi.Input[str]
    cluster_name: str
    user_name: str
    configure: str = "^$"
    write: str = ".*"
    read: str = ".*"
    tags: list[str] = field(default_factory=list)


class RabbitmqUser(pulumi.ComponentResource):
    """An application user with a generated password imported by the topology operator."""

    secret_name: pulumi.Output[str]
    password: pulumi.Output[str]

    def __init__(self, name: str, args: RabbitmqUserArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:rabbitmq:RabbitmqUser", name, None, opts)
        generated = random.RandomPassword(f"{name}-password", length=32, special=False,
                                          opts=pulumi.ResourceOptions(parent=self))
        self.password = pulumi.Output.secret(generated.result)
        secret = k8s.core.v1.Secret(
            f"{name}-credentials",
            metadata={"name": f"{args.user_name}-credentials", "namespace": args.namespace, "labels": MANAGED_BY},
            string_data={"username": args.user_name, "password": self.password},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.secret_name = secret.metadata.apply(lambda m: m["name"])
        ref = {"name": args.cluster_name}
        user = custom_resource(
            args.user_name, API, "User", args.namespace,
            {"rabbitmqClusterReference": ref, "importCredentialsSecret": {"name": self.secret_name},
             "tags": args.tags},
            child(self, depends_on=[secret]), resource_name=f"{name}-user",
        )
        custom_resource(
            f"{args.user_name}-permissions", API, "Permission", args.namespace,
            {
                "rabbitmqClusterReference": ref,
                "vhost": "/",
                "userReference": {"name": args.user_name},
                # Workload users get exactly the names their runtime declares (event_platform.infra.workloads).
                "permissions": {"configure": args.configure, "write": args.write, "read": args.read},
            },
            child(self, depends_on=[user]), resource_name=f"{name}-permission",
        )
        self.register_outputs({"secret_name": self.secret_name, "password": self.password})
