"""Whole-topic reads (event-sourced state, read models) and the effects journal on them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # type: ignore[import-untyped]
from kafka.errors import KafkaError  # type: ignore[import-untyped]

from event_platform.apps.runtime.adapter import BrokerError, EffectsJournal, InboundRecord, LogReader
from event_platform.apps.runtime.kafka.options import (
    SEND_TIMEOUT_S,
    client_options,
    durable_producer_options,
    inbound_record,
)
from event_platform.apps.runtime.settings import KafkaSettings


class KafkaLogReader(LogReader):
    """Reads whole topics from the beginning up to their current end (read_committed).

    Used for event-sourced state: a service rebuilds its state from its own output topics,
    which its transactions keep exactly in step with its committed input offsets. Keep one open
    and call `catch_up()` again to read only what arrived since.
    """

    def __init__(self, settings: KafkaSettings, topics: Sequence[str]) -> None:
        self._consumer = KafkaConsumer(
            **client_options(settings),
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
        )
        partitions: list[Any] = []
        for topic in topics:
            ids = self._consumer.partitions_for_topic(topic)
            if not ids:
                raise BrokerError(f"topic {topic!r} does not exist (create it with event_platform.apps.orders.topics)")
            partitions.extend(TopicPartition(topic, p) for p in sorted(ids))
        self._partitions = partitions
        self._consumer.assign(partitions)
        self._consumer.seek_to_beginning(*partitions)

    def catch_up(self, timeout_s: float = 60.0) -> Iterator[InboundRecord]:
        try:
            ends = self._consumer.end_offsets(self._partitions)
            deadline = time.monotonic() + timeout_s
            while any(self._consumer.position(tp) < end for tp, end in ends.items()):
                if time.monotonic() > deadline:
                    raise BrokerError(f"reading {sorted({tp.topic for tp in ends})} did not reach the end")
                for records in self._consumer.poll(timeout_ms=200, max_records=2_000).values():
                    for record in records:
                        yield inbound_record(record)
        except KafkaError as error:
            raise BrokerError(f"reading the log failed: {error}") from error

    def close(self) -> None:
        self._consumer.close(autocommit=False)


class KafkaEffectsJournal(EffectsJournal):
    """Journal entries as records of a compacted topic (key = idempotency key, value = result).

    Every instance of a service reads the whole topic, so whoever owns a partition after a
    rebalance also knows what its predecessor already did.
    """

    def __init__(self, settings: KafkaSettings, topic: str) -> None:
        self.topic = topic
        self._entries: dict[str, str] = {}
        self._lock = threading.Lock()
        self._reader = KafkaLogReader(settings, [topic])
        self._producer = KafkaProducer(**client_options(settings), **durable_producer_options())
        self.refresh()

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, result: str) -> None:
        try:
            self._producer.send(self.topic, key=key.encode(), value=result.encode()).get(timeout=SEND_TIMEOUT_S)
        except KafkaError as error:
            raise BrokerError(f"journaling effect {key} failed: {error}") from error
        with self._lock:
            self._entries[key] = result

    def refresh(self) -> None:
        try:
            for record in self._reader.catch_up():
                if record.message.key is not None:
                    with self._lock:
                        self._entries[record.message.key.decode()] = record.message.value.decode()
        except KafkaError as error:
            raise BrokerError(f"reading the effects journal {self.topic} failed: {error}") from error

    def close(self) -> None:
        self._reader.close()
        self._producer.close(timeout=5)
