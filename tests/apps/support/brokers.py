"""The broker under test, seen through a small broker-neutral interface.

Tests talk to brokers only through `BrokerUnderTest`, so the same suite runs on every broker
(RabbitMQ and NATS implementations: tests/apps/support/servers.py).
"""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from event_platform.apps.orders.topics import TopicSpec, pipeline_topics
from event_platform.apps.runtime.adapter import Broker, InboundRecord
from event_platform.apps.runtime.envelope import Codec, ContentMode, WireMessage
from event_platform.apps.runtime.events import EventRegistry
from event_platform.apps.runtime.kafka import KafkaBroker, KafkaLogReader
from event_platform.apps.runtime.settings import KafkaSettings
from scripts.brokers.local_kafka import LocalKafka


class BrokerUnderTest(ABC):
    name: str
    # Whether a consumed record's (partition, offset) is its position in the topic's log, as
    # read_all reports it (Kafka, NATS); RabbitMQ's queue deliveries carry delivery tags instead.
    log_positions: bool = True

    def codec(self, registry: EventRegistry, mode: ContentMode = ContentMode.BINARY) -> Codec:
        """The broker's CloudEvents binding, as the services use it."""
        return self.runtime_broker().codec(registry, mode)

    @abstractmethod
    def service_env(self) -> dict[str, str]:
        """Environment variables that point a service at this broker."""

    @abstractmethod
    def runtime_broker(self, transactional_id: str | None = None) -> Broker: ...

    @abstractmethod
    def reset_topics(self, specs: Sequence[TopicSpec] | None = None) -> None:
        """Delete and recreate the pipeline topics and forget consumer groups."""

    @abstractmethod
    def publish_raw(self, topic: str, value: bytes, key: bytes | None = None,
                    headers: Sequence[tuple[str, bytes]] = ()) -> None: ...

    @abstractmethod
    def read_all(self, topic: str) -> list[InboundRecord]:
        """Every committed record of `topic` so far."""

    @abstractmethod
    def committed(self, group: str, topic: str) -> int:
        """How many records of `topic` the group has committed (sum over partitions)."""

    @abstractmethod
    def end_offset(self, topic: str) -> int:
        """Sum of end offsets (includes transaction markers on Kafka)."""

    @abstractmethod
    def stop(self) -> None:
        """Take the broker down (clean shutdown), keeping its data and address."""

    @abstractmethod
    def start(self) -> None:
        """Bring a stopped broker back on the same address with the same data."""

    def close(self) -> None:
        return None


class KafkaUnderTest(BrokerUnderTest):
    name = "kafka"

    def __init__(self, server: LocalKafka) -> None:
        self.server = server
        self.settings = KafkaSettings(bootstrap_servers=server.bootstrap_servers)
        self._producer: KafkaProducer | None = None

    def service_env(self) -> dict[str, str]:
        return {"BROKER": "kafka", "KAFKA_BOOTSTRAP_SERVERS": self.server.bootstrap_servers}

    def runtime_broker(self, transactional_id: str | None = None) -> KafkaBroker:
        return KafkaBroker(self.settings, transactional_id=transactional_id, session_timeout_ms=6_000)

    def _admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(bootstrap_servers=self.server.bootstrap_servers)

    def reset_topics(self, specs: Sequence[TopicSpec] | None = None) -> None:
        specs = list(specs or pipeline_topics())
        admin = self._admin()
        try:
            groups = [group["group_id"] for group in admin.list_groups()]
            if groups:
                with contextlib.suppress(KafkaError):  # an empty group may vanish on its own meanwhile
                    admin.delete_groups(groups)
            existing = [t for t in admin.list_topics() if not t.startswith("__")]
            if existing:
                admin.delete_topics(existing)
                self._wait(lambda: not [t for t in admin.list_topics() if t in existing], "topics to go away")
            self._create(admin, {s.name: {"num_partitions": s.partitions, "replication_factor": 1,
                                          "configs": s.config} for s in specs})
        finally:
            admin.close()

    def _create(self, admin: KafkaAdminClient, new: dict[str, dict[str, object]]) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                admin.create_topics(new, wait_for_metadata=True)
                return
            except KafkaError:
                # A just-deleted name can be briefly unavailable; retry what is still missing.
                if time.monotonic() > deadline:
                    raise
                present = set(admin.list_topics())
                new = {name: spec for name, spec in new.items() if name not in present}
                if not new:
                    return
                time.sleep(0.3)

    @staticmethod
    def _wait(condition: object, what: str, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout_s}s for {what}")
            time.sleep(0.2)

    def publish_raw(self, topic: str, value: bytes, key: bytes | None = None,
                    headers: Sequence[tuple[str, bytes]] = ()) -> None:
        if self._producer is None:
            self._producer = KafkaProducer(bootstrap_servers=self.server.bootstrap_servers, acks="all")
        self._producer.send(topic, value=value, key=key, headers=list(headers)).get(timeout=30)

    def read_all(self, topic: str) -> list[InboundRecord]:
        reader = KafkaLogReader(self.settings, [topic])
        try:
            return list(reader.catch_up())
        finally:
            reader.close()

    def committed(self, group: str, topic: str) -> int:
        consumer = KafkaConsumer(bootstrap_servers=self.server.bootstrap_servers, group_id=group,
                                 enable_auto_commit=False)
        try:
            partitions = consumer.partitions_for_topic(topic) or set()
            return sum(consumer.committed(TopicPartition(topic, p)) or 0 for p in partitions)
        finally:
            consumer.close(autocommit=False)

    def end_offset(self, topic: str) -> int:
        consumer = KafkaConsumer(bootstrap_servers=self.server.bootstrap_servers)
        try:
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            return sum(consumer.end_offsets(partitions).values())
        finally:
            consumer.close(autocommit=False)

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.restart()

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)


def wire(value: bytes, key: bytes | None = None) -> WireMessage:
    return WireMessage(value=value, key=key)
