"""The Kafka implementation of `event_platform.apps.runtime.adapter.Broker`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kafka.errors import KafkaError  # type: ignore[import-untyped]

from event_platform.apps.runtime.adapter import Broker, BrokerError
from event_platform.apps.runtime.envelope import ContentMode, KafkaCodec
from event_platform.apps.runtime.events import EventRegistry
from event_platform.apps.runtime.kafka.consumer import KafkaConsumerAdapter
from event_platform.apps.runtime.kafka.log import KafkaEffectsJournal, KafkaLogReader
from event_platform.apps.runtime.kafka.publisher import KafkaPublisher
from event_platform.apps.runtime.settings import KafkaSettings


class KafkaBroker(Broker):
    name = "kafka"

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        transactional_id: str | None = None,
        auto_offset_reset: str = "earliest",
        session_timeout_ms: int = 10_000,
        transaction_timeout_ms: int = 30_000,
    ) -> None:
        self.settings = settings
        self.transactional_id = transactional_id
        self.auto_offset_reset = auto_offset_reset
        self.session_timeout_ms = session_timeout_ms
        self.transaction_timeout_ms = transaction_timeout_ms

    def codec(self, registry: EventRegistry, mode: ContentMode = ContentMode.BINARY) -> KafkaCodec:
        return KafkaCodec(registry, mode)

    def consumer(
        self, group: str, topics: Sequence[str], on_assigned: Callable[[], None] | None = None
    ) -> KafkaConsumerAdapter:
        return KafkaConsumerAdapter(
            self.settings,
            group,
            topics,
            transactional_id=self.transactional_id,
            auto_offset_reset=self.auto_offset_reset,
            session_timeout_ms=self.session_timeout_ms,
            transaction_timeout_ms=self.transaction_timeout_ms,
            on_assigned=on_assigned,
        )

    def publisher(self) -> KafkaPublisher:
        return KafkaPublisher(self.settings)

    def reader(self, topics: Sequence[str]) -> KafkaLogReader:
        try:
            return KafkaLogReader(self.settings, topics)
        except KafkaError as error:
            raise BrokerError(f"reading {list(topics)} failed: {error}") from error

    def journal(self, name: str) -> KafkaEffectsJournal:
        return KafkaEffectsJournal(self.settings, name)
