"""orders-analytics: one consumer with its own topic and autoscaling, on the platform's Kafka.

Everything about the platform (bootstrap address, security, namespaces) comes from the platform
stack through a StackReference and its environment's preset (PlatformStackReference.kafka_access);
only this service's own choices are configured here.
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
namespaces = platform.namespaces

# The platform's environment decides how its Kafka is reached (protocol, authentication,
# replication): known before anything is declared, checked against the platform stack's outputs.
prod = config.get_bool("prod") or False
kafka = platform.kafka_access("prod" if prod else "dev", ca_cert=config.get_secret("kafka_ca_cert"))
partitions = 6

# `render_directory` set: write the manifests there instead of applying them (a preview or render
# with no cluster, like the platform's `make render`); unset: the kubeconfig's cluster.
render_directory = config.get("render_directory")
opts = pulumi.ResourceOptions(providers=[k8s.Provider(
    "render", render_yaml_to_directory=render_directory, enable_server_side_apply=True)]) if render_directory else None

topic = KafkaTopic("analytics-input", KafkaTopicArgs(
    namespace=kafka.namespace,
    cluster_name=kafka.cluster_name,
    topic_name="orders-analytics",
    partitions=partitions,
    replicas=kafka.replication_factor,
    min_insync_replicas=kafka.min_insync_replicas,
    protect=kafka.protect,
), opts=opts)

consumer = EventWorkload("orders-analytics", EventWorkloadArgs(
    namespace=namespaces.apply(lambda n: n["apps"]),
    namespace_name="apps",
    service_name="orders-analytics",
    image="registry.example/orders-analytics:1.0.0",
    role="consumer",
    environment="prod" if prod else "dev",
    command=["python", "-m", "orders_analytics"],
    broker=KafkaWiring(access=kafka, consumes=["orders-analytics"], partitions=partitions),
    autoscaling=Autoscaling(min_replicas=2 if prod else 0, max_replicas=partitions, lag_threshold=100),
), opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[topic])))

pulumi.export("platform_environment", platform.environment)
pulumi.export("platform_outputs_version", platform.outputs_version)
pulumi.export("kafka_bootstrap_servers", kafka.bootstrap_servers)
pulumi.export("topic", topic.topic_name)
