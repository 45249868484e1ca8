"""The broker adapter interface: what the processor needs from any broker.

Kafka (`event_platform.apps.runtime.kafka`), RabbitMQ (`.rabbitmq`) and NATS JetStream (`.nats`)
implement the same three roles; tests/apps/test_broker_contract.py holds every adapter to them:

- `Consumer`: poll inbound records for a consumer group, then `complete` a processed batch,
  publishing its outputs and marking the inputs consumed in one step (Kafka: one transaction;
  brokers without transactions: publish with confirms, then ack; consumers dedup by event id).
- `Publisher`: send events with broker acknowledgement (idempotent, acks=all on Kafka).
- `Broker`: builds both, replays a log from the start (event-sourced state rebuilds), and
  provides the durable effects journal.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

from event_platform.apps.runtime.envelope import Codec, ContentMode, WireMessage
from event_platform.apps.runtime.events import EventRegistry


class InboundRecord(NamedTuple):
    """One delivered record and where it came from (for commits and dead-letter headers)."""

    topic: str
    partition: int
    offset: int
    message: WireMessage
    timestamp_ms: int | None = None

    @property
    def position(self) -> str:
        return f"{self.topic}/{self.partition}@{self.offset}"


class OutboundRecord(NamedTuple):
    topic: str
    message: WireMessage


class BrokerError(Exception):
    """The broker connection or a commit failed; the processor reconnects and redelivers."""


class Consumer(ABC):
    @abstractmethod
    def poll(self, timeout_s: float, max_records: int) -> list[InboundRecord]:
        """Records in delivery order per partition; empty on timeout."""

    @abstractmethod
    def complete(self, records: Sequence[InboundRecord], outputs: Sequence[OutboundRecord]) -> None:
        """Publish `outputs` and mark `records` consumed, atomically where the broker can.

        Raises BrokerError if that did not happen: nothing of the batch may be assumed done.
        """

    @abstractmethod
    def is_ready(self) -> bool:
        """Connected and holding at least one assigned partition (queue, stream)."""

    @abstractmethod
    def close(self) -> None:
        """Leave the group promptly so partitions move to other instances."""


class Publisher(ABC):
    @abstractmethod
    def publish(self, record: OutboundRecord) -> None:
        """Queue a record for sending; failures surface from `flush`."""

    @abstractmethod
    def publish_and_wait(self, record: OutboundRecord, timeout_s: float) -> None:
        """Send one record and return once the broker acknowledged it durably."""

    @abstractmethod
    def flush(self, timeout_s: float) -> None:
        """Block until every queued record is acknowledged; raise BrokerError otherwise."""

    @abstractmethod
    def close(self) -> None: ...


class EffectsJournal(ABC):
    """Durable record of external side effects already performed, keyed by idempotency key.

    Written (and acknowledged) right after an effect succeeds and before the triggering event
    is committed, so a redelivered event finds the recorded result instead of acting twice.
    """

    @abstractmethod
    def get(self, key: str) -> str | None: ...

    @abstractmethod
    def put(self, key: str, result: str) -> None: ...

    @abstractmethod
    def refresh(self) -> None:
        """Catch up with entries other instances wrote (called after each rebalance)."""

    @abstractmethod
    def close(self) -> None: ...


class LogReader(ABC):
    """Reads whole topics (streams) from their beginning; `catch_up` yields what is new since
    the last call, up to the end as of the call, committed records only."""

    @abstractmethod
    def catch_up(self, timeout_s: float = 60.0) -> Iterator[InboundRecord]: ...

    @abstractmethod
    def close(self) -> None: ...


class Broker(ABC):
    name: str

    @abstractmethod
    def codec(self, registry: EventRegistry, mode: ContentMode = ContentMode.BINARY) -> Codec:
        """The CloudEvents protocol binding for this broker's records."""

    @abstractmethod
    def consumer(
        self, group: str, topics: Sequence[str], on_assigned: Callable[[], None] | None = None
    ) -> Consumer: ...

    @abstractmethod
    def publisher(self) -> Publisher: ...

    @abstractmethod
    def reader(self, topics: Sequence[str]) -> LogReader: ...

    def replay(self, topics: Sequence[str]) -> Iterator[InboundRecord]:
        """Every committed record of `topics` from the beginning up to now, then stop."""
        reader = self.reader(topics)
        try:
            yield from reader.catch_up()
        finally:
            reader.close()

    @abstractmethod
    def journal(self, name: str) -> EffectsJournal: ...
