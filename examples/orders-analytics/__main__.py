"""orders-analytics: one consumer with its own topic and autoscaling, on the platform's Kafka.

Everything about the platform (bootstrap address, security, namespaces) comes from the platform
stack's outputs through a StackReference; only this service's own choices are configured here.
"""

import pulumi
import pulumi_kubernetes as k8s

from event_platform.infra import (
    Autoscaling,
    EventWorkload,
    EventWorkloadArgs,
    KafkaTopic,
    KafkaTopicArgs,
    KafkaWiring,
    PlatformStackReference,
)

config = pulumi.Config()
# Refuses a platform stack whose outputs contract (outputs_version) this package does not know.
platform = PlatformStackReference(config.require("platform_stack"))
kafka = platform.kafka  # plain: the contract keeps credentials in outputs of their own
namespaces = platform.namespaces

# Plain values decide names and wiring, so they are read once, before anything is declared.
cluster_name = config.get("kafka_cluster_name") or "events"
prod = config.get_bool("prod") or False
partitions = 6

# `render_directory` set: write the manifests there instead of applying them (a preview or render
# with no cluster, like the platform's `make render`); unset: the kubeconfig's cluster.
render_directory = config.get("render_directory")
opts = pulumi.ResourceOptions(providers=[k8s.Provider(
    "render", render_yaml_to_directory=render_directory, enable_server_side_apply=True)]) if render_directory else None

topic = KafkaTopic("analytics-input", KafkaTopicArgs(
    namespace=namespaces.apply(lambda n: n["kafka"]),
    cluster_name=cluster_name,
    topic_name="orders-analytics",
    partitions=partitions,
    replicas=3 if prod else 1,
    min_insync_replicas=2 if prod else 1,
    protect=prod,
), opts=opts)

consumer = EventWorkload("orders-analytics", EventWorkloadArgs(
    namespace=namespaces.apply(lambda n: n["apps"]),
    namespace_name="apps",
    service_name="orders-analytics",
    image="registry.example/orders-analytics:1.0.0",
    role="consumer",
    environment="prod" if prod else "dev",
    command=["python", "-m", "orders_analytics"],
    broker=KafkaWiring(
        bootstrap_servers=kafka.apply(lambda k: k["bootstrap_servers"]),
        cluster_name=cluster_name,
        namespace="kafka",
        consumes=["orders-analytics"],
        partitions=partitions,
        scram=prod,
        tls=prod,
        port=9093 if prod else 9092,
        replication_factor=3 if prod else 1,
        min_insync_replicas=2 if prod else 1,
        protect=prod,
    ),
    autoscaling=Autoscaling(min_replicas=2 if prod else 0, max_replicas=partitions, lag_threshold=100),
), opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[topic])))

pulumi.export("platform_environment", platform.environment)
pulumi.export("platform_outputs_version", platform.outputs_version)
pulumi.export("kafka_bootstrap_servers", kafka.apply(lambda k: k["bootstrap_servers"]))
pulumi.export("topic", topic.topic_name)
