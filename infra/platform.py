"""Composes the add-ons from one validated PlatformConfig, in dependency order.

Phases: provider → namespaces → cert-manager and the monitoring stack (its CRDs are needed by
every chart that creates a PodMonitor) → operators and their CRDs → broker clusters → topology
(topics, users, queues, streams) → Knative (operator → KnativeServing/KnativeEventing Ready →
brokers, triggers, sources) → scrape configuration, alert rules and dashboards. Each phase hands
the resources the next one needs through ``depends_on``; nothing waits on a timer.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from event_platform.infra import artifacts, knative, observability
from event_platform.infra.alerts import AlertThresholdArgs
from event_platform.infra.certmanager import CertManager, CertManagerArgs
from event_platform.infra.charts import ChartTemplating, settled
from event_platform.infra.config import (
    KnativeKafkaSourceConfig,
    KnativePushServiceConfig,
    PlatformConfig,
    WorkloadConfig,
    nats_stream_for,
)
from event_platform.infra.kafka import (
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
from event_platform.infra.keda import Keda, KedaArgs
from event_platform.infra.knative_push import Heartbeat, PushService, PushServiceArgs
from event_platform.infra.local import local_cluster_transform
from event_platform.infra.namespaces import NamespaceArgs, PlatformNamespace
from event_platform.infra.nats import NatsArgs, NatsJetStream, StreamSpec
from event_platform.infra.platform_workloads import BrokerHandle, PlatformWorkloads, PlatformWorkloadsArgs
from event_platform.infra.rabbitmq import RabbitmqCluster, RabbitmqClusterArgs, RabbitmqOperators, RabbitmqOperatorsArgs
from event_platform.infra.workloads import CA_NOT_YET_ISSUED, KafkaWiring, NatsWiring, RabbitmqWiring

# What the local target leaves out, because only a running Knative operator defines these kinds.
LOCAL_KNATIVE_LEFT_OUT = ["Broker", "Trigger", "PingSource", "KafkaSource", "Kafka Broker configuration",
                          "push services"]

NAMESPACES = {
    "kafka": "kafka",
    "rabbitmq": "rabbitmq",
    "nats": "nats",
    "keda": "keda",
    "cert-manager": "cert-manager",
    "monitoring": "monitoring",
    "knative-operator": "knative-operator",
    "knative-serving": "knative-serving",
    "knative-eventing": "knative-eventing",
    "kourier-system": "kourier-system",
    "apps": "apps",
}


def kubernetes_provider(config: PlatformConfig, stack: str) -> k8s.Provider:
    """The provider every platform resource uses: a cluster, or a manifest folder (render)."""
    if config.target == "render":
        return k8s.Provider(
            "render",
            render_yaml_to_directory=f"{config.render_directory}/{stack}",
            enable_server_side_apply=True,
        )
    # ConfigMaps change in place, as with Helm: by default the provider replaces a ConfigMap whose
    # data changes, and a scrape-interval change deleted and recreated Grafana's datasource.
    # The charts roll their pods through checksum annotations; Grafana's sidecar watches.
    return k8s.Provider("cluster", enable_server_side_apply=True, enable_config_map_mutable=True)


# What a rendered Secret holds in place of each value (render mode writes manifests in plain text).
REDACTED = "redacted-in-render: pulumi up generates it and keeps it a secret"


def redact_secret_values(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Render mode: every Secret keeps its keys, and no value (generated or copied)."""
    if args.type_ != "kubernetes:core/v1:Secret":
        return None
    def redacted(marker: str) -> Callable[[Any], dict[str, str]]:
        return lambda values: {key: marker for key in (values or {})}

    props = dict(args.props)
    for field, marker in (("stringData", REDACTED), ("data", base64.b64encode(REDACTED.encode()).decode())):
        if field in props:
            props[field] = pulumi.Output.from_input(props[field]).apply(redacted(marker))
    return pulumi.ResourceTransformResult(props, args.opts)


class EventPlatform(pulumi.ComponentResource):
    """The whole event platform of one environment."""

    outputs: dict[str, Any]

    def __init__(self, name: str, config: PlatformConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        if config.target == "render":
            # A render is reviewed and may be committed: it must not carry credentials.
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(transforms=[redact_secret_values]))
        if config.target == "local":
            # Every child inherits it: webhooks and operator-readiness waits off (event_platform.infra.local).
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(transforms=[local_cluster_transform]))
        super().__init__("eventplatform:platform:EventPlatform", name, None, opts)
        self.config = config
        self.source = artifacts.ArtifactSource.from_settings(config.artifacts.mirror)
        self.templating = ChartTemplating.for_target(config.target)
        self.prod = config.environment == "prod"
        self.outputs = {"environment": config.environment, "namespaces": {}, "unavailable_artifacts": []}
        self.cert_manager: CertManager | None = None
        self.monitoring: observability.MonitoringStack | None = None
        self.kafka_cluster: KafkaCluster | None = None
        self.keda: Keda | None = None
        self.rabbitmq_cluster: RabbitmqCluster | None = None
        self.nats_jetstream: NatsJetStream | None = None
        # What each broker gives the workloads (filled in by its phase): PlatformWorkloads' input.
        self.broker_handles: dict[str, BrokerHandle] = {}
        self.workloads: PlatformWorkloads | None = None
        if config.observability.enabled:
            self._monitoring_stack()
        if config.kafka.enabled:
            self._kafka()
        if config.rabbitmq.enabled:
            self._rabbitmq()
        if config.nats.enabled:
            self._nats()
        if config.keda.enabled:
            self._keda()
        if config.knative.enabled:
            self._knative()
        if config.workloads.enabled:
            self._workloads()
        if config.observability.enabled:
            self._monitors()
        self.register_outputs(self.outputs)

    def _opts(self, depends_on: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, depends_on=settled(depends_on or []))

    def _namespace(self, key: str, open_ports: list[int] | None = None, pod_security: str = "restricted",
                   name: str | None = None, allow_platform_ingress: bool = True,
                   holds_data: bool = False) -> PlatformNamespace:
        namespace = PlatformNamespace(
            f"{key}-namespace",
            NamespaceArgs(name=name or NAMESPACES[key], open_ports=open_ports or [], pod_security=pod_security,
                          allow_platform_ingress=allow_platform_ingress,
                          keep=holds_data and self.config.protect_stateful),
            self._opts(),
        )
        self.outputs["namespaces"][key] = namespace.name
        return namespace

    def _scrape_values(self, values: dict[str, Any]) -> dict[str, Any]:
        """Chart values that make a chart create its own PodMonitors, when monitoring is on."""
        return values if self.monitoring is not None else {}

    def _after_monitoring(self, depends_on: list[pulumi.Resource]) -> pulumi.ResourceOptions:
        return self._opts([*depends_on, *([self.monitoring] if self.monitoring else [])])

    def _knative_reads_kafka_ca(self) -> bool:
        knative_cfg = self.config.knative
        return self.config.kafka.tls and knative_cfg.enabled and (
            knative_cfg.broker_class == knative.KAFKA_BROKER or bool(knative_cfg.kafka_sources))

    def _workloads_on(self, broker: str) -> list[str]:
        """The declared services that use `broker` (they get its credentials)."""
        workloads = self.config.workloads
        return [s.name for s in workloads.services if s.broker == broker] if workloads.enabled else []

    def _cert_manager(self) -> CertManager:
        """cert-manager, once, for whichever add-on needs webhook certificates first."""
        if self.cert_manager is None:
            cm_namespace = self._namespace("cert-manager", open_ports=[10250])
            self.cert_manager = CertManager(
                "cert-manager",
                CertManagerArgs(namespace=cm_namespace.name, source=self.source, templating=self.templating,
                                high_availability=self.prod),
                self._opts([cm_namespace]),
            )
        return self.cert_manager

    def _kafka(self) -> None:
        cfg = self.config.kafka
        namespace = self._namespace("kafka", holds_data=True)
        self.kafka_namespace = namespace
        operator = StrimziOperator(
            "strimzi",
            StrimziOperatorArgs(namespace=namespace.name, source=self.source, watch_namespaces=[NAMESPACES["kafka"]],
                                templating=self.templating, high_availability=self.prod,
                                keep_crds=self.config.protect_stateful),
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
                # Knative's Kafka credentials and TLS workloads read Strimzi's cluster CA Secret,
                # which exists only once the cluster is Ready.
                wait_ready=self._knative_reads_kafka_ca() or (cfg.tls and bool(self._workloads_on("kafka"))),
            ),
            self._opts([operator]),
        )
        self.kafka_cluster = cluster
        self.broker_handles["kafka"] = BrokerHandle(cluster, self._kafka_wiring)
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
        cert_manager = self._cert_manager()
        operators = RabbitmqOperators(
            "rabbitmq-operators", RabbitmqOperatorsArgs(source=self.source, cert_manager=cert_manager.chart,
                                                       keep_cluster_operator=self.config.protect_stateful),
            self._opts([cert_manager]),
        )
        namespace = self._namespace("rabbitmq", holds_data=True)
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
                operators=operators,
            ),
            self._opts([namespace, operators]),
        )
        self.rabbitmq_cluster = cluster
        self.broker_handles["rabbitmq"] = BrokerHandle(cluster, self._rabbitmq_wiring)
        self.outputs["rabbitmq"] = {
            "amqp_url": cluster.amqp_url,
            "management_url": cluster.management_url,
            "user_secret": cluster.app_user.secret_name,
            "password": cluster.app_user.password,
            "topics": [t.name for t in cfg.topics],
        }

    def _nats(self) -> None:
        cfg = self.config.nats
        cert_manager = self._cert_manager() if cfg.tls else None
        namespace = self._namespace("nats", holds_data=True)
        nats = self.nats_jetstream = NatsJetStream(
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
                templating=self.templating,
                streams=[
                    StreamSpec(s.name, s.subjects, s.replicas or min(cfg.replicas, 3), s.max_age, s.max_deliver)
                    for s in cfg.streams
                ],
                users=self._workloads_on("nats"),
                tls=cfg.tls,
                cert_manager=cert_manager.chart if cert_manager else None,
                read_ca=self.operators_run,
                extra_values=self._scrape_values(observability.nats_metrics_values()),
            ),
            self._after_monitoring([namespace, *([cert_manager] if cert_manager else [])]),
        )
        self.broker_handles["nats"] = BrokerHandle(nats, self._nats_wiring)
        self.outputs["nats"] = {
            "url": nats.url,
            "monitoring_endpoint": nats.monitoring_endpoint,
            "streams": [s.name for s in cfg.streams],
        }

    def _keda(self) -> None:
        cert_manager = self._cert_manager()
        namespace = self._namespace("keda", open_ports=[9443, 6443])
        keda = Keda("keda", KedaArgs(namespace=namespace.name, source=self.source, templating=self.templating,
                                     replicas=2 if self.prod else 1,
                                     extra_values=self._scrape_values(observability.keda_metrics_values())),
                    self._after_monitoring([namespace, cert_manager]))
        self.keda = keda
        self.outputs["keda"] = {"namespace": namespace.name}

    # --- workloads -----------------------------------------------------------------------

    def _workloads(self) -> None:
        cfg = self.config.workloads
        namespace = self._namespace("apps", name=cfg.namespace, allow_platform_ingress=False)
        self.workloads = PlatformWorkloads(
            "platform-workloads",
            PlatformWorkloadsArgs(
                config=cfg, environment=self.config.environment, namespace=namespace, brokers=self.broker_handles,
                monitoring_namespace=NAMESPACES["monitoring"],
                rule_labels=dict(observability.SELECTOR_LABELS) if self.monitoring else None,
                keda=self.keda.chart if self.keda else None,
                # Their PodMonitors and PrometheusRules need the monitoring stack's CRDs first.
                depends_on=[self.monitoring] if self.monitoring else [],
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.outputs["workloads"] = self.workloads.outputs

    def _kafka_wiring(self, service: WorkloadConfig) -> KafkaWiring:
        assert self.kafka_cluster is not None
        kafka = self.config.kafka
        partitions = {t.name: t.partitions for t in kafka.topics}
        consumed = [partitions[t] for t in service.consumes if t in partitions]
        # The cluster CA for the workload's copy; where no operator runs it never exists, so the copy
        # is declared without it (CA_NOT_YET_ISSUED) and the gap is reported by name.
        ca = self._kafka_cluster_ca(f"{service.name}-kafka-ca") if kafka.tls else None
        return KafkaWiring(
            access=self.kafka_cluster.access(ca_cert=CA_NOT_YET_ISSUED if kafka.tls and ca is None else ca),
            consumes=service.consumes, partitions=min(consumed) if consumed else None, produces=service.produces,
            reads=service.reads, effects_journal=service.effects_journal, auto_offset_reset=service.auto_offset_reset,
        )

    def _rabbitmq_wiring(self, service: WorkloadConfig) -> RabbitmqWiring:
        assert self.rabbitmq_cluster is not None
        limits = {t.name: t.delivery_limit for t in self.config.rabbitmq.topics}
        return RabbitmqWiring(
            access=self.rabbitmq_cluster.access, consumes=service.consumes, produces=service.produces,
            reads=service.reads, effects_journal=service.effects_journal,
            # One limit per process: the strictest among the topics it consumes.
            delivery_limit=min([limits[t] for t in service.consumes if t in limits] or [5]),
        )

    def _nats_wiring(self, service: WorkloadConfig) -> NatsWiring:
        nats = self.nats_jetstream
        assert nats is not None
        cfg = self.config.nats
        # The config check guarantees a stream per topic (config.nats_stream_for); never a bare next().
        streams = [stream for topic in service.consumes if (stream := nats_stream_for(cfg, topic))]
        ca: pulumi.Input[str] | None = None
        if cfg.tls and nats.ca_cert is None:
            # Only a running cert-manager issues the NATS CA: the copy is declared without it, by name.
            self.report_gap(f"Secret {service.name}-nats-ca: ca.crt (only a running cert-manager issues the NATS CA)")
            ca = CA_NOT_YET_ISSUED
        return NatsWiring(
            access=nats.access(ca_cert=ca), consumes=service.consumes, produces=service.produces,
            reads=service.reads, effects_journal=service.effects_journal,
            max_deliver=min([s.max_deliver for s in streams] or [5]), password=nats.password_of(service.name),
        )

    # --- observability -------------------------------------------------------------------

    def _monitoring_stack(self) -> None:
        cfg = self.config.observability
        # node-exporter needs the host's network, PID namespace and filesystem: `privileged`.
        namespace = self._namespace("monitoring", open_ports=[observability.WEBHOOK_PORT], pod_security="privileged")
        cert_manager = self._cert_manager()
        self.monitoring = observability.MonitoringStack(
            "monitoring",
            observability.MonitoringStackArgs(
                namespace=namespace.name,
                source=self.source,
                templating=self.templating,
                retention=cfg.retention,
                retention_size=cfg.retention_size,
                storage=observability.MonitoringStorage(cfg.storage.type, cfg.storage.size, cfg.storage.storage_class),
                prometheus_replicas=cfg.prometheus_replicas,
                prometheus_memory=cfg.prometheus_memory,
                alertmanager_replicas=cfg.alertmanager_replicas,
                scrape_interval=cfg.scrape_interval,
                protect=self.config.protect_stateful,
                cert_manager=cert_manager,
            ),
            self._opts([namespace, cert_manager]),
        )
        self.monitoring_namespace = namespace
        self.outputs["observability"] = {
            "grafana_url": self.monitoring.grafana_url,
            "grafana_admin_user": "admin",
            "grafana_admin_password": self.monitoring.grafana_admin_password,
            "prometheus_url": self.monitoring.prometheus_url,
            "alertmanager_url": self.monitoring.alertmanager_url,
        }

    def _monitors(self) -> None:
        assert self.monitoring is not None
        cfg, alerts = self.config, self.config.observability.alerts
        namespaces = self.outputs["namespaces"]
        targets = observability.ScrapeTargets(
            monitoring=namespaces["monitoring"],
            kafka=namespaces.get("kafka"),
            kafka_cluster=cfg.kafka.cluster_name,
            rabbitmq=namespaces.get("rabbitmq"),
            rabbitmq_cluster=cfg.rabbitmq.cluster_name,
            knative_serving=namespaces.get("knative-serving"),
            knative_eventing=namespaces.get("knative-eventing"),
            kourier=namespaces.get("kourier-system"),
        )
        thresholds = AlertThresholdArgs(
            consumer_lag=alerts.consumer_lag,
            consumer_lag_for=alerts.consumer_lag_for,
            queue_depth=alerts.queue_depth,
            error_ratio=alerts.error_ratio,
            error_ratio_for=alerts.error_ratio_for,
            broker_down_for=alerts.broker_down_for,
            delivery_failure_ratio=alerts.delivery_failure_ratio,
            kafka=cfg.kafka.enabled,
            rabbitmq=(NAMESPACES["rabbitmq"], f"{cfg.rabbitmq.cluster_name}-server") if cfg.rabbitmq.enabled else None,
            nats=(NAMESPACES["nats"], cfg.nats.release_name) if cfg.nats.enabled else None,
            keda=cfg.keda.enabled,
            knative=cfg.knative.enabled,
        )
        monitors = observability.PlatformMonitors(
            "platform-monitors",
            observability.PlatformMonitorsArgs(targets=targets, thresholds=thresholds, stack=self.monitoring),
            self._opts([self.monitoring, self.monitoring_namespace]),
        )
        self.outputs["observability"]["dashboards"] = [c.metadata.apply(lambda m: m["name"])
                                                       for c in monitors.dashboards]

    # --- Knative ----------------------------------------------------------------------------

    def _knative(self) -> None:
        cfg = self.config.knative
        kafka_broker = cfg.broker_class == knative.KAFKA_BROKER
        webhook = [knative.WEBHOOK_PORT]
        operator_ns = self._namespace("knative-operator", open_ports=webhook)
        # Workload namespaces reach the autoscaler (queue-proxy stats) and the broker ingress.
        serving_ns = self._namespace("knative-serving", open_ports=[*webhook, 8080])
        eventing_ns = self._namespace("knative-eventing", open_ports=[*webhook, 8080])
        # Kourier's gateway is the entry point for all Knative Service traffic.
        kourier_ns = self._namespace("kourier-system", open_ports=[8080, 8081, 8443])
        # Only push services run here; each one's NetworkPolicy admits exactly the Broker's data plane.
        events_ns = self._namespace("events", name=cfg.namespace, allow_platform_ingress=False)
        operator = knative.KnativeOperator(
            "knative-operator", knative.KnativeOperatorArgs(namespace=operator_ns.name, source=self.source,
                                                           templating=self.templating),
            self._opts([operator_ns]),
        )
        serving = knative.KnativeServing(
            "knative-serving",
            knative.KnativeServingArgs(namespace=serving_ns.name, replicas=cfg.high_availability,
                                       scale_to_zero=cfg.scale_to_zero, operator=operator.chart),
            self._opts([serving_ns, kourier_ns, operator]),
        )
        eventing = knative.KnativeEventing(
            "knative-eventing",
            knative.KnativeEventingArgs(
                namespace=eventing_ns.name, replicas=cfg.high_availability, default_broker_class=cfg.broker_class,
                source=self.source, kafka=kafka_broker or bool(cfg.kafka_sources), kafka_broker=kafka_broker,
                operator=operator.chart,
            ),
            self._opts([eventing_ns, operator]),
        )
        self.outputs["unavailable_artifacts"] += eventing.unavailable_artifacts
        if self.config.target == "local":
            # Broker, PingSource and KafkaSource are kinds the Knative operator installs when it
            # runs; on the simulated cluster it never runs, so they do not exist there.
            pulumi.log.info("local target: Knative Broker and sources left out (their CRDs come from the "
                            "running Knative operator)", resource=self)
            self.outputs["knative"] = {"broker_class": cfg.broker_class, "namespace": events_ns.name,
                                       "ingress_gateway": serving.gateway, "left_out_on_local": LOCAL_KNATIVE_LEFT_OUT}
            return
        delivery = knative.Delivery(cfg.delivery.retry, cfg.delivery.backoff_policy, cfg.delivery.backoff_delay)
        broker_names = [cfg.broker_name, *([cfg.dead_letter_broker] if cfg.push_services else [])]
        backends: dict[str, tuple[dict[str, Any], list[pulumi.Resource]]] = {
            name: ({}, [events_ns, *eventing.ready]) for name in broker_names}
        if kafka_broker:
            config, topics = self._kafka_broker_backend(eventing_ns, broker_names)
            for name, topic in topics.items():
                backends[name] = ({"config": config.reference, "external_topic": topic.topic_name},
                                  [*backends[name][1], config, topic])
        brokers: dict[str, knative.Broker] = {}
        for name in broker_names:
            broker_args, broker_deps = backends[name]
            brokers[name] = knative.Broker(
                "knative-broker" if name == cfg.broker_name else f"knative-broker-{name}",
                knative.BrokerArgs(namespace=events_ns.name, broker_name=name, broker_class=cfg.broker_class,
                                   # The dead-letter Broker keeps what it is given: nothing to deliver.
                                   delivery=delivery if name == cfg.broker_name else None, depends_on=broker_deps,
                                   # Without its data plane a Kafka Broker never becomes Ready; waiting
                                   # would only turn the warning above into a timeout.
                                   wait_ready=not eventing.unavailable_artifacts, **broker_args),
                self._opts(),
            )
        broker = brokers[cfg.broker_name]
        broker_sink = knative.Sink(name=cfg.broker_name, kind="Broker", api_version=knative.EVENTING_API)
        for ping in cfg.ping_sources:
            knative.PingSource(
                f"knative-ping-{ping.name}",
                knative.PingSourceArgs(namespace=events_ns.name, source_name=ping.name, schedule=ping.schedule,
                                       sink=broker_sink, data=ping.data, depends_on=[broker]),
                self._opts(),
            )
        for source in cfg.kafka_sources:
            self._kafka_source(source, events_ns, broker_sink, [broker, *eventing.ready])
        push_services = [self._push_service(service, events_ns, brokers) for service in cfg.push_services]
        if push_services:
            self._dead_letter_log(events_ns, brokers)
        self.outputs["knative"] = {
            "broker_url": broker.url,
            "broker_class": cfg.broker_class,
            # The in-memory channel behind MTChannelBasedBroker loses events on any pod restart.
            "broker_durable": kafka_broker,
            "namespace": events_ns.name,
            "ingress_gateway": serving.gateway,
            "unavailable_artifacts": eventing.unavailable_artifacts,
            "push_services": [service.args.service_name for service in push_services],
            **({"dead_letter_broker_url": brokers[cfg.dead_letter_broker].url} if cfg.push_services else {}),
        }

    def _dead_letter_log(self, events_ns: PlatformNamespace, brokers: dict[str, knative.Broker]) -> PushService:
        """The dead-letter Broker's subscriber: every dead letter logged and counted by service."""
        cfg = self.config.knative
        return PushService(
            "dead-letter-log",
            PushServiceArgs(
                namespace=events_ns.name, namespace_name=cfg.namespace, service_name="dead-letter-log",
                image=self.config.workloads.image,
                command=["python", "-m", "event_platform.apps.runtime.dead_letter_log"],
                environment=self.config.environment, broker=cfg.dead_letter_broker, broker_class=cfg.broker_class,
                filter={}, role="dead-letter-log", replicas=2 if self.prod else 1,
                delivery=knative.Delivery(cfg.delivery.retry, cfg.delivery.backoff_policy, cfg.delivery.backoff_delay),
                eventing_namespace=NAMESPACES["knative-eventing"], monitoring_namespace=NAMESPACES["monitoring"],
                monitor_labels=dict(observability.SELECTOR_LABELS) if self.monitoring else None,
                depends_on=list(brokers.values()),
            ),
            self._opts([events_ns]),
        )

    def _push_service(self, service: KnativePushServiceConfig, events_ns: PlatformNamespace,
                      brokers: dict[str, knative.Broker]) -> PushService:
        cfg = self.config.knative
        dead_letters = knative.Sink(name=cfg.dead_letter_broker, kind="Broker", api_version=knative.EVENTING_API)
        delivery = knative.Delivery(service.delivery.retry, service.delivery.backoff_policy,
                                    service.delivery.backoff_delay, dead_letter_sink=dead_letters,
                                    timeout=service.timeout)
        return PushService(
            service.name,
            PushServiceArgs(
                namespace=events_ns.name, namespace_name=cfg.namespace, service_name=service.name,
                image=self.config.workloads.image, command=["python", "-m", service.module],
                environment=self.config.environment, broker=cfg.broker_name, broker_class=cfg.broker_class,
                filter=dict(service.filter), delivery=delivery, replicas=service.replicas, cpu=service.cpu,
                memory=service.memory, heartbeat=Heartbeat(service.heartbeat) if service.heartbeat else None,
                extra_env=dict(service.env), eventing_namespace=NAMESPACES["knative-eventing"],
                monitoring_namespace=NAMESPACES["monitoring"],
                monitor_labels=dict(observability.SELECTOR_LABELS) if self.monitoring else None,
                depends_on=list(brokers.values()),
            ),
            self._opts([events_ns]),
        )

    def _kafka_credentials(self, name: str, user_name: str, namespace: pulumi.Input[str],
                           topics: list[TopicAccess], group: str, pattern: str) -> pulumi.Output[str] | None:
        """Knative's credentials for the platform's Kafka (knative.kafka_credentials)."""
        assert self.kafka_cluster is not None
        tls = self.config.kafka.tls
        access = self.kafka_cluster.access(ca_cert=self._kafka_cluster_ca(f"{user_name}-kafka-auth") if tls else None)
        if not access.scram and not access.tls:
            return None
        return knative.kafka_credentials(self, name, user_name, namespace, access, self.kafka_cluster, topics, group,
                                         "prefix" if pattern == "prefix" else "literal")

    @property
    def operators_run(self) -> bool:
        """False in render mode and on the local target (kwok runs no container): nothing an
        operator or cert-manager would create at run time (CAs, generated Secrets) ever exists."""
        return self.config.target == "cluster"

    def report_gap(self, gap: str) -> None:
        """An object declared without what only a running operator creates: named in a warning and
        in the ``render_gaps`` (render) or ``local_gaps`` (local target) output."""
        self.outputs.setdefault(f"{self.config.target}_gaps", []).append(gap)
        pulumi.log.warn(f"{self.config.target} target: {gap}", resource=self)

    def _kafka_cluster_ca(self, needed_by: str) -> pulumi.Output[str] | None:
        """Strimzi's cluster CA certificate, read once the Kafka resource exists (never copied by hand).

        None where no operator runs (``operators_run``): ``needed_by`` is declared without it and
        the gap reported by name.
        """
        if not self.operators_run:
            self.report_gap(f"Secret {needed_by}: ca.crt (Strimzi's cluster CA exists only once the operator has run)")
            return None
        if not hasattr(self, "_cluster_ca"):
            assert self.kafka_cluster is not None
            name = f"{self.config.kafka.cluster_name}-cluster-ca-cert"
            # The id is only known once the Kafka resource is created, so a preview never reads it.
            secret_id = self.kafka_cluster.kafka.id.apply(lambda _: f"{NAMESPACES['kafka']}/{name}")
            ca = k8s.core.v1.Secret.get("kafka-cluster-ca", secret_id, opts=self._opts([self.kafka_cluster]))
            self._cluster_ca = pulumi.Output.secret(
                ca.data.apply(lambda d: base64.b64decode((d or {}).get("ca.crt", "")).decode())
            )
        return self._cluster_ca

    def _kafka_broker_backend(self, eventing_ns: PlatformNamespace,
                              broker_names: list[str]) -> tuple[knative.KafkaBrokerConfig, dict[str, KafkaTopic]]:
        """One Strimzi topic per Kafka Broker (the first is the main one, the second the
        dead-letter Broker); one ConfigMap and one KafkaUser, allowed exactly those topics."""
        assert self.kafka_cluster is not None
        cfg, kafka = self.config.knative, self.config.kafka
        replicas = cfg.broker_topic_replicas or kafka.replication_factor
        topics: dict[str, KafkaTopic] = {}
        for name in broker_names:
            main = name == cfg.broker_name
            topics[name] = KafkaTopic(
                "knative-broker-topic" if main else f"knative-broker-{name}-topic",
                KafkaTopicArgs(namespace=self.kafka_namespace.name, cluster_name=kafka.cluster_name,
                               topic_name=f"knative-broker-{cfg.namespace}-{name}",
                               # Dead letters are few; they are kept longer, for people to look at.
                               partitions=cfg.broker_topic_partitions if main else 1, replicas=replicas,
                               min_insync_replicas=kafka.min_insync_replicas,
                               retention_ms=cfg.broker_topic_retention_ms if main else cfg.dead_letter_retention_ms,
                               protect=self.config.protect_stateful, cluster=self.kafka_cluster.kafka),
                self._opts([self.kafka_cluster]),
            )
        auth = self._kafka_credentials(
            "knative-broker-user", "knative-broker", eventing_ns.name,
            [TopicAccess(topic.topic_name, ["Read", "Write", "Describe"]) for topic in topics.values()],
            "knative-trigger-", "prefix",
        )
        # Not `kafka-broker-config`: the operator owns that one (eventing-kafka-controller.yaml).
        config = knative.KafkaBrokerConfig(
            "event-platform-kafka-broker",
            knative.KafkaBrokerConfigArgs(namespace=NAMESPACES["knative-eventing"],
                                           bootstrap_servers=self.kafka_cluster.bootstrap_servers,
                                           topic_partitions=cfg.broker_topic_partitions, topic_replicas=replicas,
                                           auth_secret=auth),
            self._opts([eventing_ns]),
        )
        return config, topics

    def _kafka_source(self, source: KnativeKafkaSourceConfig, events_ns: PlatformNamespace, sink: knative.Sink,
                      depends_on: list[pulumi.Resource]) -> None:
        assert self.kafka_cluster is not None
        auth = self._kafka_credentials(
            f"knative-source-{source.name}-user", f"knative-source-{source.name}", events_ns.name,
            [TopicAccess(t, ["Read", "Describe"]) for t in source.topics], source.consumer_group, "literal",
        )
        knative.KafkaSource(
            f"knative-kafka-source-{source.name}",
            knative.KafkaSourceArgs(
                namespace=events_ns.name, source_name=source.name,
                bootstrap_servers=[self.kafka_cluster.bootstrap_servers], topics=source.topics,
                consumer_group=source.consumer_group, sink=sink, initial_offset=source.initial_offset,
                credentials=None if auth is None else knative.KafkaCredentials(
                    auth, sasl=self.config.kafka.authentication == "scram-sha-512", tls=self.config.kafka.tls),
                depends_on=depends_on,
            ),
            self._opts(),
        )
