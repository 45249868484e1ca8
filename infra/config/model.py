"""The platform's configuration model: one pydantic model of everything a stack decides, with
the checks that span components (a workload's topics on its broker, Knative on Kafka, ...)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from event_platform.apps.runtime.settings import BrokerKind
from event_platform.apps.runtime.topology import stream_name
from event_platform.infra.wiring import ScalingPlan, wiring_problems

Environment = Literal["dev", "prod"]

_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_QUANTITY = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$"


class Strict(BaseModel):
    """Unknown keys are mistakes (usually typos), never silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Storage(Strict):
    type: Literal["ephemeral", "persistent"] = Field(
        description="ephemeral (emptyDir; data lost with the pod) or persistent (a PVC per replica)"
    )
    size: str = Field(pattern=_QUANTITY, description="volume size as a Kubernetes quantity, e.g. 10Gi")
    storage_class: str | None = Field(default=None, description="StorageClass; the cluster default when unset")
    delete_claim: bool = Field(description="delete PVCs when the cluster is deleted (dev only)")


class ArtifactsConfig(Strict):
    mirror: str | None = Field(
        default=None,
        description="folder laid out like shared/mirror to read charts and manifests from (air-gapped)",
    )


class KafkaTopicConfig(Strict):
    name: str = Field(pattern=_DNS_LABEL, max_length=63)
    partitions: int = Field(ge=1, le=1000)
    replicas: int | None = Field(default=None, ge=1, description="replication factor; cluster default when unset")
    retention_ms: int | None = Field(default=None, ge=-1)
    dead_letter: bool = Field(default=True, description="also create <name>.dlq for dead letters")


class KafkaConfig(Strict):
    enabled: bool = True
    cluster_name: str = Field(pattern=_DNS_LABEL, max_length=40)
    version: str = "4.3.1"
    dual_role: bool = Field(description="one node pool of combined controller+broker nodes (dev)")
    controllers: int = Field(ge=1, le=9, description="KRaft controller replicas (ignored when dual_role)")
    brokers: int = Field(ge=1, le=50)
    storage: Storage
    replication_factor: int = Field(ge=1, description="default replication factor of topics")
    min_insync_replicas: int = Field(ge=1)
    authentication: Literal["none", "scram-sha-512", "tls"] = Field(
        description="client authentication on the listener; none only without authorization"
    )
    tls: bool = Field(description="TLS on the client listener")
    topics: list[KafkaTopicConfig] = Field(default_factory=list)

    # Cross-field checks run on the later field, so the error names the key to change; fields
    # are validated in declaration order, so the earlier ones are in ``info.data``.
    @field_validator("controllers")
    @classmethod
    def _odd_quorum(cls, controllers: int, info: ValidationInfo) -> int:
        if not info.data.get("dual_role") and controllers % 2 == 0:
            raise ValueError(f"controllers {controllers} must be odd so the KRaft quorum survives a split")
        return controllers

    @field_validator("replication_factor")
    @classmethod
    def _replication_fits_the_cluster(cls, factor: int, info: ValidationInfo) -> int:
        brokers = info.data.get("brokers")
        if brokers is not None and factor > brokers:
            raise ValueError(f"replication_factor {factor} exceeds brokers {brokers}: lower it or add brokers")
        return factor

    @field_validator("min_insync_replicas")
    @classmethod
    def _writes_survive_one_broker_down(cls, min_isr: int, info: ValidationInfo) -> int:
        factor = info.data.get("replication_factor")
        if factor is not None and (min_isr > factor or (factor > 1 and min_isr >= factor)):
            raise ValueError(
                f"min_insync_replicas {min_isr} must be below replication_factor {factor} (or both 1), "
                "otherwise one broker down stops all writes"
            )
        return min_isr

    @field_validator("topics")
    @classmethod
    def _topics_fit_the_cluster(cls, topics: list[KafkaTopicConfig], info: ValidationInfo) -> list[KafkaTopicConfig]:
        brokers = info.data.get("brokers")
        for topic in topics:
            if brokers is not None and topic.replicas is not None and topic.replicas > brokers:
                raise ValueError(
                    f"topic {topic.name!r} replicas {topic.replicas} exceeds brokers {brokers}: "
                    "lower the topic's replicas or add brokers"
                )
        names = [t.name for t in topics]
        if len(names) != len(set(names)):
            raise ValueError(f"topic names must be unique, got {names}")
        return topics


class RabbitTopicConfig(Strict):
    """A topic workloads may use on RabbitMQ. The runtime declares its exchange and stream, and each
    consumer group's quorum queue on it (apps/BROKERS.md); listing it here is what lets a workload
    name it and scopes the workload's permissions."""

    name: str = Field(pattern=_DNS_LABEL, max_length=63)
    delivery_limit: int = Field(
        default=5, ge=1, le=1000,
        description="deliveries of one message to a consumer group's queue before it is dead-lettered",
    )


class RabbitmqConfig(Strict):
    enabled: bool = True
    cluster_name: str = Field(pattern=_DNS_LABEL, max_length=40)
    replicas: int = Field(ge=1, le=9)
    storage: Storage
    cpu: str = Field(pattern=r"^[0-9]+m?$")
    memory: str = Field(pattern=_QUANTITY)
    topics: list[RabbitTopicConfig] = Field(default_factory=list)

    @field_validator("replicas")
    @classmethod
    def _odd_quorum(cls, replicas: int) -> int:
        if replicas > 1 and replicas % 2 == 0:
            raise ValueError(f"replicas {replicas} must be odd: quorum queues and pause_minority need a majority")
        return replicas

    @field_validator("storage")
    @classmethod
    def _persistent(cls, storage: Storage) -> Storage:
        if storage.type != "persistent":
            raise ValueError("storage.type must be persistent: quorum queues keep their log on disk")
        return storage


class NatsStreamConfig(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$", max_length=63)
    subjects: list[str] = Field(min_length=1)
    replicas: int | None = Field(default=None, ge=1, le=5)
    max_age: str = Field(default="168h", pattern=r"^[0-9]+(s|m|h)$")
    max_deliver: int = Field(default=5, ge=2, le=1000, description="deliveries before the advisory dead-letters it")


class NatsConfig(Strict):
    enabled: bool = True
    release_name: str = Field(pattern=_DNS_LABEL, max_length=40)
    replicas: int = Field(ge=1, le=9)
    jetstream_storage: Storage
    tls: bool = Field(description="TLS on the client port, certificates from cert-manager (clients get the CA)")
    streams: list[NatsStreamConfig] = Field(default_factory=list)

    @field_validator("replicas")
    @classmethod
    def _odd_quorum(cls, replicas: int) -> int:
        if replicas > 1 and replicas % 2 == 0:
            raise ValueError(f"replicas {replicas} must be odd for the JetStream meta quorum")
        return replicas

    @field_validator("streams")
    @classmethod
    def _streams_fit(cls, streams: list[NatsStreamConfig], info: ValidationInfo) -> list[NatsStreamConfig]:
        servers = info.data.get("replicas")
        for stream in streams:
            if servers is not None and stream.replicas is not None and stream.replicas > servers:
                raise ValueError(f"stream {stream.name!r} replicas {stream.replicas} exceeds NATS servers {servers}")
        return streams


class KedaConfig(Strict):
    enabled: bool = True


_DURATION = r"^[0-9]+(s|m|h|d|w|y)$"
_ISO_DURATION = r"^PT([0-9]+(\.[0-9]+)?[HMS])+$"


class KnativeDeliveryConfig(Strict):
    """How a Broker retries an event before it goes to the dead-letter sink."""

    retry: int = Field(ge=0, le=100, description="redeliveries after the first attempt")
    backoff_policy: Literal["exponential", "linear"] = "exponential"
    backoff_delay: str = Field(pattern=_ISO_DURATION, description="ISO 8601 duration, e.g. PT0.5S")


class KnativeKafkaSourceConfig(Strict):
    name: str = Field(pattern=_DNS_LABEL, max_length=63)
    topics: list[str] = Field(min_length=1, description="existing Kafka topics to read")
    consumer_group: str = Field(min_length=1)
    initial_offset: Literal["earliest", "latest"] = "latest"


class KnativePingSourceConfig(Strict):
    name: str = Field(pattern=_DNS_LABEL, max_length=63)
    schedule: str = Field(min_length=9, description="cron expression, e.g. '*/5 * * * *'")
    data: str = Field(default="{}", description="JSON payload of each event")


_CE_ATTRIBUTE = r"^[a-z0-9]{1,20}$"


class KnativePushServiceConfig(Strict):
    """A runtime service the Broker pushes events to over HTTP (infra/knative_push.py)."""

    name: str = Field(pattern=_DNS_LABEL, max_length=50)
    module: str = Field(pattern=r"^[a-z_][a-z0-9_.]*$", description="python -m <module> runs the service")
    filter: dict[str, str] = Field(
        min_length=1, description="exact CloudEvent attribute matches of its Trigger, e.g. {source: /services/order}"
    )
    delivery: KnativeDeliveryConfig = Field(description="the Trigger's retries before the dead-letter Broker")
    timeout: str | None = Field(default=None, pattern=_ISO_DURATION, description="per delivery attempt, e.g. PT10S")
    replicas: int = Field(default=1, ge=1, le=100)
    cpu: str = Field(default="100m", pattern=r"^[0-9]+m?$")
    memory: str = Field(default="256Mi", pattern=_QUANTITY)
    heartbeat: str | None = Field(
        default=None, description="name of a ping_sources entry whose events it also receives on /heartbeat"
    )
    env: dict[str, str] = Field(default_factory=dict, description="extra non-secret environment variables")

    @field_validator("filter")
    @classmethod
    def _attribute_names(cls, attributes: dict[str, str]) -> dict[str, str]:
        bad = sorted(name for name in attributes if not re.match(_CE_ATTRIBUTE, name))
        if bad:
            raise ValueError(f"{bad} are not CloudEvent attribute names (lower-case letters and digits, at most 20)")
        return attributes


class KnativeConfig(Strict):
    enabled: bool = True
    broker_class: Literal["MTChannelBasedBroker", "Kafka"] = Field(
        description="MTChannelBasedBroker: in-memory channel, NOT durable (dev); Kafka: topic on the platform's Kafka"
    )
    namespace: str = Field(default="events", pattern=_DNS_LABEL, description="namespace of the platform Broker")
    broker_name: str = Field(default="default", pattern=_DNS_LABEL)
    broker_topic_partitions: int = Field(ge=1, le=1000, description="partitions of the Kafka Broker topic")
    broker_topic_replicas: int | None = Field(default=None, ge=1, description="Kafka default when unset")
    broker_topic_retention_ms: int = Field(default=604_800_000, ge=-1)
    delivery: KnativeDeliveryConfig
    high_availability: int = Field(ge=1, le=5, description="replicas of the Knative control and data planes")
    scale_to_zero: bool = Field(description="let idle Knative Services scale to zero")
    kafka_sources: list[KnativeKafkaSourceConfig] = Field(default_factory=list)
    ping_sources: list[KnativePingSourceConfig] = Field(default_factory=list)
    push_services: list[KnativePushServiceConfig] = Field(default_factory=list)
    dead_letter_broker: str = Field(
        default="dead-letters", pattern=_DNS_LABEL,
        description="Broker (same class as the main one) that push services' Triggers dead-letter into",
    )
    dead_letter_retention_ms: int = Field(default=1_209_600_000, ge=-1, description="Kafka class: topic retention")

    @field_validator("push_services")
    @classmethod
    def _push_services_fit(cls, services: list[KnativePushServiceConfig],
                           info: ValidationInfo) -> list[KnativePushServiceConfig]:
        pings = {ping.name for ping in info.data.get("ping_sources") or []}
        problems = []
        for index, service in enumerate(services):
            if service.heartbeat is not None and service.heartbeat not in pings:
                problems.append(f"push_services.{index} ({service.name}): heartbeat {service.heartbeat!r} is not "
                                f"in ping_sources {sorted(pings)}; add it there or drop heartbeat")
        names = [service.name for service in services]
        if len(names) != len(set(names)):
            problems.append(f"push service names must be unique, got {names}")
        if problems:
            raise ValueError("; ".join(problems))
        return services


class AlertThresholds(Strict):
    """Per-environment alert thresholds; see docs/alerts.md for what each alert catches."""

    consumer_lag: int = Field(ge=1, description="messages behind per consumer group and topic")
    consumer_lag_for: str = Field(pattern=_DURATION)
    queue_depth: int = Field(ge=1, description="ready messages in a RabbitMQ queue / pending in a NATS consumer")
    error_ratio: float = Field(gt=0, lt=1, description="failed / received events of a service")
    error_ratio_for: str = Field(pattern=_DURATION)
    broker_down_for: str = Field(pattern=_DURATION)
    delivery_failure_ratio: float = Field(gt=0, lt=1, description="failed / all Knative broker deliveries")


class ObservabilityConfig(Strict):
    enabled: bool = True
    retention: str = Field(pattern=_DURATION, description="how long Prometheus keeps samples")
    retention_size: str | None = Field(default=None, pattern=r"^[0-9]+(B|KB|MB|GB|TB|PB)$")
    storage: Storage
    prometheus_replicas: int = Field(ge=1, le=5)
    prometheus_memory: str = Field(pattern=_QUANTITY, description="memory request and limit of each Prometheus")
    alertmanager_replicas: int = Field(ge=1, le=5)
    scrape_interval: str = Field(default="30s", pattern=_DURATION)
    alerts: AlertThresholds

    @field_validator("retention_size")
    @classmethod
    def _fits_the_volume(cls, size: str | None, info: ValidationInfo) -> str | None:
        storage = info.data.get("storage")
        if size is not None and storage is not None and storage.type == "ephemeral":
            raise ValueError("retention_size needs persistent storage; set storage.type persistent or drop it")
        return size


class WorkloadAutoscaling(Strict):
    min_replicas: int = Field(ge=0, le=100)
    max_replicas: int = Field(ge=1, le=100)
    lag_threshold: int = Field(default=50, ge=1, description="lag (Kafka) / queue length / pending per replica")
    activation_threshold: int = Field(default=1, ge=0, description="above this a scaled-to-zero workload wakes")
    allow_idle_consumers: bool = Field(default=False, description="allow more replicas than partitions")
    cooldown_period_s: int = Field(default=300, ge=0)


class WorkloadConfig(Strict):
    name: str = Field(pattern=_DNS_LABEL, max_length=50)
    module: str = Field(pattern=r"^[a-z_][a-z0-9_.]*$", description="python -m <module> runs the service")
    role: Literal["consumer", "producer"] = "consumer"
    broker: BrokerKind = "kafka"  # the runtime's own list of brokers (BROKER)
    consumes: list[str] = Field(default_factory=list, description="topics (queue, stream) it consumes as a group")
    reads: list[str] = Field(default_factory=list, description="topics it replays without a group (event sourcing)")
    produces: list[str] = Field(default_factory=list)
    effects_journal: bool = Field(default=False, description="keeps a compacted <name>.effects journal topic")
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    http_port: int | None = Field(default=None, ge=1024, le=65535)
    replicas: int = Field(default=1, ge=1, le=100, description="when not autoscaled")
    singleton: bool = Field(default=False, description="exactly one instance (one aggregate); never scaled")
    batch: bool = Field(default=False, description="may scale to zero in prod")
    autoscaling: WorkloadAutoscaling | None = None
    cpu: str = Field(default="100m", pattern=r"^[0-9]+m?$")
    memory: str = Field(default="256Mi", pattern=_QUANTITY)
    env: dict[str, str] = Field(default_factory=dict, description="extra non-secret environment variables")


class GeneratorConfig(Strict):
    enabled: bool = True
    schedule: str = Field(default="*/15 * * * *", description="cron schedule of the load CronJob")
    count: int = Field(default=100, ge=1)
    rate_per_s: int = Field(default=20, ge=1)


class WorkloadsConfig(Strict):
    enabled: bool = True
    namespace: str = Field(default="apps", pattern=_DNS_LABEL)
    image: str = Field(description="the apps image, pinned to a version tag or digest")
    services: list[WorkloadConfig] = Field(default_factory=list)
    generator: GeneratorConfig = Field(default_factory=GeneratorConfig)


class PlatformConfig(Strict):
    """Everything a stack decides. Components get plain typed slices of it, never pulumi.Config."""

    environment: Environment
    target: Literal["cluster", "local", "render"] = Field(
        default="cluster",
        description="cluster: apply to the current kubeconfig context; local: the same, for `make cluster-up`'s "
        "simulated cluster (no waits that need a running container, README 'Try it locally'); "
        "render: write manifests only",
    )
    render_directory: str = Field(default="rendered", description="where target=render writes manifests")
    protect_stateful: bool = Field(description="protect brokers, PVCs, topics and streams from deletion")
    artifacts: ArtifactsConfig = Field(default_factory=ArtifactsConfig)
    kafka: KafkaConfig
    rabbitmq: RabbitmqConfig
    nats: NatsConfig
    keda: KedaConfig
    knative: KnativeConfig
    observability: ObservabilityConfig
    workloads: WorkloadsConfig

    @field_validator("knative")
    @classmethod
    def _kafka_broker_needs_kafka(cls, knative: KnativeConfig, info: ValidationInfo) -> KnativeConfig:
        kafka = info.data.get("kafka")
        if not knative.enabled or kafka is None:
            return knative
        if knative.broker_class == "Kafka" and not kafka.enabled:
            raise ValueError("broker_class Kafka needs the platform's Kafka: enable kafka or use MTChannelBasedBroker")
        if knative.broker_class == "Kafka" and kafka.authentication == "tls":
            raise ValueError(
                "broker_class Kafka supports kafka.authentication scram-sha-512 or none, not tls (client certificates)"
            )
        if knative.kafka_sources and not kafka.enabled:
            raise ValueError("kafka_sources read the platform's Kafka: enable kafka or remove them")
        environment = info.data.get("environment")
        for index, service in enumerate(knative.push_services):
            if environment == "prod" and service.replicas < 2:
                raise ValueError(f"push_services.{index} ({service.name}): prod runs at least 2 replicas "
                                 f"(got {service.replicas}); set replicas: 2")
        topics = {topic.name for topic in kafka.topics}
        for source in knative.kafka_sources:
            missing = [topic for topic in source.topics if topic not in topics]
            if kafka.enabled and missing:
                raise ValueError(f"kafka_sources {source.name!r} reads {missing}, which are not in kafka.topics")
        replicas = knative.broker_topic_replicas
        if replicas is not None and replicas > kafka.brokers:
            raise ValueError(f"broker_topic_replicas {replicas} exceeds Kafka brokers {kafka.brokers}")
        return knative

    @field_validator("workloads")
    @classmethod
    def _workloads_are_wired_soundly(cls, workloads: WorkloadsConfig, info: ValidationInfo) -> WorkloadsConfig:
        """The guardrails of event_platform.infra.wiring, applied to the stack file so they name its keys."""
        if not workloads.enabled:
            return workloads
        problems = []
        for index, service in enumerate(workloads.services):
            where = f"services.{index} ({service.name})"
            problems += [f"{where}: {p}" for p in _workload_problems(service, workloads.image, info.data)]
        if problems:
            raise ValueError("; ".join(problems))
        return workloads


def _workload_problems(service: WorkloadConfig, image: str, platform: dict[str, Any]) -> list[str]:
    kafka = platform.get("kafka")
    environment = platform.get("environment", "dev")
    problems = []
    partitions = None
    broker = platform.get(service.broker)
    if broker is not None and not broker.enabled:
        problems.append(f"its broker {service.broker} is switched off: enable {service.broker} or change broker")
    if service.broker == "kafka" and kafka is not None:
        known = {t.name: t.partitions for t in kafka.topics}
        missing = [t for t in [*service.consumes, *service.reads, *service.produces] if t not in known]
        if missing:
            problems.append(f"topics {missing} are not in kafka.topics; declare them there")
        consumed = [known[t] for t in service.consumes if t in known]
        partitions = min(consumed) if consumed else None
    rabbitmq, nats = platform.get("rabbitmq"), platform.get("nats")
    named = list(dict.fromkeys([*service.consumes, *service.reads, *service.produces]))
    if service.broker == "rabbitmq" and rabbitmq is not None:
        missing = [t for t in named if t not in {topic.name for topic in rabbitmq.topics}]
        if missing:
            problems.append(f"rabbitmq topics {missing} are not declared; add them to rabbitmq.topics "
                            f"(e.g. - name: {missing[0]})")
    if service.broker == "nats" and nats is not None:
        missing = [t for t in named if nats_stream_for(nats, t) is None]
        if missing:
            problems.append(f"nats has no stream for topics {missing}; add them to nats.streams "
                            f"(e.g. - name: {stream_name(missing[0])}, subjects: [{missing[0]}])")
    scaling = service.autoscaling
    if service.singleton and (scaling or service.replicas != 1):
        problems.append("a singleton runs exactly one replica: remove autoscaling and replicas")
    plan = ScalingPlan(
        service=service.name, broker=service.broker, environment=environment, image=image,
        min_replicas=scaling.min_replicas if scaling else service.replicas,
        max_replicas=scaling.max_replicas if scaling else service.replicas,
        activation_threshold=scaling.activation_threshold if scaling else 1,
        consumer_group=service.name, scaler_consumer_group=service.name,
        client_offset_reset=service.auto_offset_reset, scaler_offset_reset=service.auto_offset_reset,
        partitions=partitions if service.role == "consumer" else None,
        allow_idle_consumers=scaling.allow_idle_consumers if scaling else False,
        batch=service.batch or service.singleton,
    )
    problems += [p.removeprefix(f"workload {service.name!r}: ") for p in wiring_problems(plan)]
    return problems


def nats_stream_for(nats: NatsConfig, topic: str) -> NatsStreamConfig | None:
    """The declared stream the runtime will use for `topic`: its name and a subject must match."""
    return next((s for s in nats.streams if s.name == stream_name(topic) and topic in s.subjects), None)


