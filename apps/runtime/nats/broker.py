"""The NATS JetStream implementation of `event_platform.apps.runtime.adapter.Broker`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from event_platform.apps.runtime.adapter import (
    Broker,
)
from event_platform.apps.runtime.bindings import NatsCodec
from event_platform.apps.runtime.envelope import ContentMode
from event_platform.apps.runtime.events import EventRegistry
from event_platform.apps.runtime.nats.consumer import NatsConsumer
from event_platform.apps.runtime.nats.log import NatsEffectsJournal, NatsLogReader
from event_platform.apps.runtime.nats.publisher import NatsPublisher
from event_platform.apps.runtime.settings import NatsSettings


class NatsBroker(Broker):
    name = "nats"

    def __init__(self, settings: NatsSettings, *, dead_letter_topic: Callable[[str], str] | None = None,
                 ack_wait_s: float = 10.0, prefetch: int = 500) -> None:
        self.settings = settings
        self._dead_letter_topic: Callable[[str], str] = dead_letter_topic or (lambda group: f"{group}.dlq")
        self.ack_wait_s = ack_wait_s
        self.prefetch = prefetch

    def codec(self, registry: EventRegistry, mode: ContentMode = ContentMode.BINARY) -> NatsCodec:
        return NatsCodec(registry, mode)

    def consumer(
        self, group: str, topics: Sequence[str], on_assigned: Callable[[], None] | None = None
    ) -> NatsConsumer:
        return NatsConsumer(self.settings, group, topics, dead_letter_topic=self._dead_letter_topic(group),
                            ack_wait_s=self.ack_wait_s, prefetch=self.prefetch, on_assigned=on_assigned)

    def publisher(self) -> NatsPublisher:
        return NatsPublisher(self.settings)

    def reader(self, topics: Sequence[str]) -> NatsLogReader:
        return NatsLogReader(self.settings, topics)

    def journal(self, name: str) -> NatsEffectsJournal:
        return NatsEffectsJournal(self.settings, name)
