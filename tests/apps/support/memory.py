"""An in-memory broker for fast unit tests of the processor (not a substitute for the real
broker tests: it has one partition per topic and no transactions, only their contract)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence

from event_platform.apps.runtime.adapter import (
    Broker,
    BrokerError,
    Consumer,
    EffectsJournal,
    InboundRecord,
    LogReader,
    OutboundRecord,
    Publisher,
)
from event_platform.apps.runtime.envelope import ContentMode, KafkaCodec, WireMessage
from event_platform.apps.runtime.events import EventRegistry


class MemoryBroker(Broker):
    name = "memory"

    def __init__(self) -> None:
        self.topics: dict[str, list[WireMessage]] = defaultdict(list)
        self.committed: dict[tuple[str, str], int] = defaultdict(int)  # (group, topic) → next offset
        self.fail_next_complete = False

    def codec(self, registry: EventRegistry, mode: ContentMode = ContentMode.BINARY) -> KafkaCodec:
        return KafkaCodec(registry, mode)  # CloudEvents Kafka binding: headers + value, like ours

    def append(self, topic: str, message: WireMessage) -> None:
        self.topics[topic].append(message)

    def consumer(self, group: str, topics: Sequence[str],
                 on_assigned: Callable[[], None] | None = None) -> MemoryConsumer:
        return MemoryConsumer(self, group, topics)

    def publisher(self) -> MemoryPublisher:
        return MemoryPublisher(self)

    def reader(self, topics: Sequence[str]) -> MemoryReader:
        return MemoryReader(self, topics)

    def journal(self, name: str) -> MemoryJournal:
        return MemoryJournal()


class MemoryConsumer(Consumer):
    def __init__(self, broker: MemoryBroker, group: str, topics: Sequence[str]) -> None:
        self.broker, self.group, self.topics = broker, group, topics
        self.positions = {t: broker.committed[(group, t)] for t in topics}

    def poll(self, timeout_s: float, max_records: int) -> list[InboundRecord]:
        records = []
        for topic in self.topics:
            log = self.broker.topics[topic]
            start = self.positions[topic]
            for offset in range(start, min(len(log), start + max_records - len(records))):
                records.append(InboundRecord(topic, 0, offset, log[offset]))
            self.positions[topic] = start + len([r for r in records if r.topic == topic])
        return records

    def complete(self, records: Sequence[InboundRecord], outputs: Sequence[OutboundRecord]) -> None:
        if self.broker.fail_next_complete:
            self.broker.fail_next_complete = False
            raise BrokerError("injected failure")
        for output in outputs:
            self.broker.append(output.topic, output.message)
        for record in records:
            key = (self.group, record.topic)
            self.broker.committed[key] = max(self.broker.committed[key], record.offset + 1)

    def is_ready(self) -> bool:
        return True

    def close(self) -> None:
        return None


class MemoryPublisher(Publisher):
    def __init__(self, broker: MemoryBroker) -> None:
        self.broker = broker

    def publish(self, record: OutboundRecord) -> None:
        self.broker.append(record.topic, record.message)

    def publish_and_wait(self, record: OutboundRecord, timeout_s: float = 0) -> None:
        self.publish(record)

    def flush(self, timeout_s: float = 0) -> None:
        return None

    def close(self) -> None:
        return None


class MemoryReader(LogReader):
    def __init__(self, broker: MemoryBroker, topics: Sequence[str]) -> None:
        self.broker, self.topics = broker, topics
        self.positions = dict.fromkeys(topics, 0)

    def catch_up(self, timeout_s: float = 60.0) -> Iterator[InboundRecord]:
        for topic in self.topics:
            log = self.broker.topics[topic]
            for offset in range(self.positions[topic], len(log)):
                yield InboundRecord(topic, 0, offset, log[offset])
            self.positions[topic] = len(log)

    def close(self) -> None:
        return None


class MemoryJournal(EffectsJournal):
    def __init__(self) -> None:
        self.entries: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.entries.get(key)

    def put(self, key: str, result: str) -> None:
        self.entries[key] = result

    def refresh(self) -> None:
        return None

    def close(self) -> None:
        return None
