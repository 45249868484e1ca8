"""The RabbitMQ implementation of `event_platform.apps.runtime.adapter.Broker`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from event_platform.apps.runtime.adapter import (
    Broker,
)
from event_platform.apps.runtime.bindings import AmqpCodec
from event_platform.apps.runtime.envelope import ContentMode
from event_platform.apps.runtime.events import EventRegistry
from event_platform.apps.runtime.rabbitmq import properties as amqp_properties
from event_platform.apps.runtime.rabbitmq.consumer import RabbitMQConsumer
from event_platform.apps.runtime.rabbitmq.log import RabbitMQEffectsJournal, RabbitMQLogReader
from event_platform.apps.runtime.rabbitmq.publisher import RabbitMQPublisher
from event_platform.apps.runtime.settings import RabbitMQSettings


class RabbitMQBroker(Broker):
    name = "rabbitmq"

    def __init__(self, settings: RabbitMQSettings, *, dead_letter_topic: Callable[[str], str] | None = None,
                 prefetch: int | None = None) -> None:
        self.settings = settings
        self._dead_letter_topic: Callable[[str], str] = dead_letter_topic or (lambda group: f"{group}.dlq")
        self._prefetch = prefetch or settings.prefetch
        amqp_properties.install()  # deliveries' properties decoded in half of pika's own time

    def codec(self, registry: EventRegistry, mode: ContentMode = ContentMode.BINARY) -> AmqpCodec:
        return AmqpCodec(registry, mode)

    def consumer(
        self, group: str, topics: Sequence[str], on_assigned: Callable[[], None] | None = None
    ) -> RabbitMQConsumer:
        return RabbitMQConsumer(self.settings, group, topics, dead_letter_topic=self._dead_letter_topic(group),
                                prefetch=self._prefetch, on_assigned=on_assigned)

    def publisher(self) -> RabbitMQPublisher:
        return RabbitMQPublisher(self.settings)

    def reader(self, topics: Sequence[str]) -> RabbitMQLogReader:
        return RabbitMQLogReader(self.settings, topics)

    def journal(self, name: str) -> RabbitMQEffectsJournal:
        return RabbitMQEffectsJournal(self.settings, name)
