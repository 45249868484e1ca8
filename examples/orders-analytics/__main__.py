"""orders-analytics: one consumer with its own topic and autoscaling, on the platform's Kafka.

Everything about the platform (bootstrap address, security, namespaces) comes from the platform
stack's outputs through a StackReference; only this service's own choices are configured here.
"""

import pulumi

from infra import Autoscaling, EventWorkload, EventWorkloadArgs, KafkaTopic, KafkaTopicArgs, KafkaWiring

config = pulumi.Config()
platform = pulumi.StackReference(config.require("platform_stack"))
environment = platform.require_output("environment")
kafka = platform.require_output("kafka")
namespaces = platform.require_output("namespaces")

# Plain values decide names and wiring, so they are read once, before anything is declared.
cluster_name = config.get("kafka_cluster_name") or "events"
prod = config.get_bool("prod") or False
partitions = 6

topic = KafkaTopic("analytics-input", KafkaTopicArgs(
    namespace=namespaces.apply(lambda n: n["kafka"]),
    cluster_name=cluster_name,
    topic_name="orders-analytics",
    partitions=partitions,
    replicas=3 if prod else 1,
    min_insync_replicas=2 if prod else 1,
    protect=prod,
))

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
), opts=pulumi.ResourceOptions(depends_on=[topic]))

pulumi.export("platform_environment", environment)
pulumi.export("topic", topic.topic_name)
