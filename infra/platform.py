"""Composes the add-ons from one validated PlatformConfig, in dependency order.

Phases: provider → namespaces → operators and their CRDs → broker clusters → topology
(topics, users, queues, streams). Each phase hands the resources the next one needs through
``depends_on``; nothing waits on a timer.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra import artifacts
from infra.certmanager import CertManager, CertManagerArgs
from infra.config import PlatformConfig
from infra.kafka import (
    KafkaCluster,
    KafkaClusterArgs,
    KafkaStorage,
    KafkaTopic,
    KafkaTopicArgs,
    KafkaUser,
    KafkaUserArgs,
    StrimziOperator,
    StrimziOperatorArgs,
    TopicAccess,
)
from infra.keda import Keda, KedaArgs
from infra.namespaces import NamespaceArgs, PlatformNamespace
from infra.nats import NatsArgs, NatsJetStream, StreamSpec
from infra.rabbitmq import QueueSpec, RabbitmqCluster, RabbitmqClusterArgs, RabbitmqOperators, RabbitmqOperatorsArgs

NAMESPACES = {"kafka": "kafka", "rabbitmq": "rabbitmq", "nats": "nats", "keda": "keda", "cert-manager": "cert-manager"}


def kubernetes_provider(config: PlatformConfig, stack: str) -> k8s.Provider:
    """The provider every platform resource uses: a cluster, or a manifest folder (render)."""
    if config.target == "render":
        return k8s.Provider(
            "render",
            render_yaml_to_directory=f"{config.render_directory}/{stack}",
            enable_server_side_apply=True,
        )
    return k8s.Provider("cluster", enable_server_side_apply=True)


class EventPlatform(pulumi.ComponentResource):
    """The whole event platform of one environment."""

    outputs: dict[str, Any]

    def __init__(self, name: str, config: PlatformConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eventplatform:platform:EventPlatform", name, None, opts)
        self.config = config
        self.source = artifacts.ArtifactSource.from_settings(config.artifacts.mirror)
        self.prod = config.environment == "prod"
        self.outputs = {"environment": config.environment, "namespaces": {}}
        if config.kafka.enabled:
            self._kafka()
        if config.rabbitmq.enabled:
            self._rabbitmq()
        if config.nats.enabled:
            self._nats()
        if config.keda.enabled:
            self._keda()
        self.register_outputs(self.outputs)

    def _opts(self, depends_on: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, depends_on=depends_on or [])

    def _namespace(self, key: str, open_ports: list[int] | None = None) -> PlatformNamespace:
        namespace = PlatformNamespace(
            f"{key}-namespace", NamespaceArgs(name=NAMESPACES[key], open_ports=open_ports or []), self._opts()
        )
        self.outputs["namespaces"][key] = namespace.name
        return namespace

    def _kafka(self) -> None:
        cfg = self.config.kafka
        namespace = self._namespace("kafka")
        operator = StrimziOperator(
            "strimzi",
            StrimziOperatorArgs(namespace=namespace.name, source=self.source, watch_namespaces=[NAMESPACES["kafka"]]),
            self._opts([namespace]),
        )
        cluster = KafkaCluster(
            "kafka",
            KafkaClusterArgs(
                namespace=namespace.name,
                cluster_name=cfg.cluster_name,
                version=cfg.version,
                dual_role=cfg.dual_role,
                controllers=cfg.controllers,
                brokers=cfg.brokers,
                storage=KafkaStorage(cfg.storage.type, cfg.storage.size, cfg.storage.delete_claim,
                                     cfg.storage.storage_class),
                replication_factor=cfg.replication_factor,
                min_insync_replicas=cfg.min_insync_replicas,
                authentication=cfg.authentication,
                tls=cfg.tls,
                protect=self.config.protect_stateful,
                spread=self.prod,
                operator=operator.chart,
            ),
            self._opts([operator]),
        )
        topics = []
        for topic in cfg.topics:
            names = [topic.name, f"{topic.name}.dlq"] if topic.dead_letter else [topic.name]
            for topic_name in names:
                topics.append(topic_name)
                KafkaTopic(
                    f"topic-{topic_name}",
                    KafkaTopicArgs(
                        namespace=namespace.name,
                        cluster_name=cfg.cluster_name,
                        topic_name=topic_name,
                        partitions=topic.partitions,
                        replicas=topic.replicas or cfg.replication_factor,
                        min_insync_replicas=cfg.min_insync_replicas,
                        retention_ms=topic.retention_ms,
                        protect=self.config.protect_stateful,
                        cluster=cluster.kafka,
                    ),
                    self._opts([cluster]),
                )
        kafka_outputs: dict[str, Any] = {
            "bootstrap_servers": cluster.bootstrap_servers,
            "cluster_name": cfg.cluster_name,
            "tls": cfg.tls,
            "authentication": cfg.authentication,
            "topics": topics,
        }
        if cfg.authentication == "scram-sha-512":
            # One platform-wide application user; per-workload users with narrower ACLs come
            # from the workload components.
            user = KafkaUser(
                "kafka-app-user",
                KafkaUserArgs(
                    namespace=namespace.name,
                    cluster_name=cfg.cluster_name,
                    user_name="event-platform-app",
                    topics=[TopicAccess(t, ["Read", "Write", "Describe"]) for t in topics],
                    consumer_group="event-platform-",
                    group_pattern="prefix",
                    cluster=cluster.kafka,
                ),
                self._opts([cluster]),
            )
            kafka_outputs.update(
                user="event-platform-app",
                password_secret=user.secret_name,
                password=user.password,
                ca_secret=f"{cfg.cluster_name}-cluster-ca-cert",
            )
        self.outputs["kafka"] = kafka_outputs

    def _rabbitmq(self) -> None:
        cfg = self.config.rabbitmq
        cm_namespace = self._namespace("cert-manager", open_ports=[10250])
        cert_manager = CertManager(
            "cert-manager", CertManagerArgs(namespace=cm_namespace.name, source=self.source), self._opts([cm_namespace])
        )
        operators = RabbitmqOperators(
            "rabbitmq-operators", RabbitmqOperatorsArgs(source=self.source, cert_manager=cert_manager.chart),
            self._opts([cert_manager]),
        )
        namespace = self._namespace("rabbitmq")
        cluster = RabbitmqCluster(
            "rabbitmq",
            RabbitmqClusterArgs(
                namespace=namespace.name,
                cluster_name=cfg.cluster_name,
                replicas=cfg.replicas,
                storage_size=cfg.storage.size,
                storage_class=cfg.storage.storage_class,
                cpu=cfg.cpu,
                memory=cfg.memory,
                protect=self.config.protect_stateful,
                spread=self.prod,
                queues=[QueueSpec(q.name, q.delivery_limit, q.dead_letter) for q in cfg.queues],
                operators=operators,
            ),
            self._opts([namespace, operators]),
        )
        self.outputs["rabbitmq"] = {
            "amqp_url": cluster.amqp_url,
            "management_url": cluster.management_url,
            "user_secret": cluster.app_user.secret_name,
            "password": cluster.app_user.password,
            "queues": [q.name for q in cfg.queues],
        }

    def _nats(self) -> None:
        cfg = self.config.nats
        namespace = self._namespace("nats")
        nats = NatsJetStream(
            "nats",
            NatsArgs(
                namespace=namespace.name,
                release_name=cfg.release_name,
                replicas=cfg.replicas,
                storage_size=cfg.jetstream_storage.size,
                storage_class=cfg.jetstream_storage.storage_class,
                protect=self.config.protect_stateful,
                spread=self.prod,
                source=self.source,
                streams=[
                    StreamSpec(s.name, s.subjects, s.replicas or min(cfg.replicas, 3), s.max_age, s.max_deliver)
                    for s in cfg.streams
                ],
            ),
            self._opts([namespace]),
        )
        self.outputs["nats"] = {
            "url": nats.url,
            "monitoring_endpoint": nats.monitoring_endpoint,
            "streams": [s.name for s in cfg.streams],
        }

    def _keda(self) -> None:
        namespace = self._namespace("keda", open_ports=[9443, 6443])
        keda = Keda("keda", KedaArgs(namespace=namespace.name, source=self.source, replicas=2 if self.prod else 1),
                    self._opts([namespace]))
        self.keda = keda
        self.outputs["keda"] = {"namespace": namespace.name}
