"""The Kafka adapter, on kafka-python.

Producers are idempotent with acks=all. Consumers never auto-commit: a processed batch is
completed in one Kafka transaction holding its output records and its input offsets
(consume-transform-produce, exactly-once towards read_committed readers). A batch with no
outputs commits its offsets directly, which is the same guarantee at a fraction of the cost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # type: ignore[import-untyped]
from kafka.consumer.subscription_state import ConsumerRebalanceListener  # type: ignore[import-untyped]
from kafka.errors import KafkaError  # type: ignore[import-untyped]
from kafka.structs import OffsetAndMetadata  # type: ignore[import-untyped]

from apps.runtime.adapter import (
    Broker,
    BrokerError,
    Consumer,
    EffectsJournal,
    InboundRecord,
    LogReader,
    OutboundRecord,
    Publisher,
)
from apps.runtime.envelope import ContentMode, KafkaCodec, WireMessage
from apps.runtime.events import EventRegistry
from apps.runtime.settings import KafkaSettings

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 30.0


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """kafka-python options shared by producers, consumers and admin clients."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "security_protocol": settings.security_protocol.value,
        "reconnect_backoff_max_ms": 2_000,  # a restarted broker is found again within seconds
    }
    if settings.client_id:
        options["client_id"] = settings.client_id
    if settings.sasl_mechanism:
        options["sasl_mechanism"] = settings.sasl_mechanism.value
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = settings.sasl_password
    for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        if (path := getattr(settings, name)) is not None:
            options[name] = str(path)
    return options


def durable_producer_options() -> dict[str, Any]:
    """The durability settings every producer here uses (and the benchmark's baseline too)."""
    return {
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        # send() blocks at most this long for metadata or buffer space, so a caller (an HTTP
        # request, say) learns about an unreachable broker in seconds rather than a minute.
        "max_block_ms": 10_000,
    }


def _headers(message: WireMessage) -> list[tuple[str, bytes]]:
    return list(message.headers)


def _inbound(record: Any) -> InboundRecord:
    return InboundRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        message=WireMessage(value=record.value or b"", key=record.key, headers=tuple(record.headers or ())),
        timestamp_ms=record.timestamp,
    )


class KafkaPublisher(Publisher):
    def __init__(self, settings: KafkaSettings, **overrides: Any) -> None:
        self._producer = KafkaProducer(**client_options(settings), **durable_producer_options(), **overrides)
        self._error: BaseException | None = None

    def publish(self, record: OutboundRecord) -> None:
        message = record.message
        future = self._producer.send(record.topic, value=message.value, key=message.key, headers=_headers(message))
        future.add_errback(self._remember_error)

    def publish_and_wait(self, record: OutboundRecord, timeout_s: float = SEND_TIMEOUT_S) -> None:
        """Send one record and return only once the broker acknowledged it (acks=all)."""
        message = record.message
        try:
            self._producer.send(
                record.topic, value=message.value, key=message.key, headers=_headers(message)
            ).get(timeout=timeout_s)
        except KafkaError as error:
            raise BrokerError(f"publishing to {record.topic} failed: {error}") from error

    def flush(self, timeout_s: float = SEND_TIMEOUT_S) -> None:
        try:
            self._producer.flush(timeout=timeout_s)
        except KafkaError as error:
            raise BrokerError(f"flush failed: {error}") from error
        failed, self._error = self._error, None
        if failed is not None:
            raise BrokerError(f"a publish failed: {failed}") from failed

    def close(self) -> None:
        self._producer.close(timeout=10)

    def _remember_error(self, error: BaseException) -> None:
        self._error = self._error or error


class _AssignmentListener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, on_assigned: Callable[[], None] | None) -> None:
        self._on_assigned = on_assigned

    def on_partitions_revoked(self, revoked: Any) -> None:
        # Nothing to flush: every batch is completed before the next poll can rebalance.
        pass

    def on_partitions_assigned(self, assigned: Any) -> None:
        # Runs on the client's IO loop: only flag work for the processing thread.
        if assigned and self._on_assigned is not None:
            self._on_assigned()


class KafkaConsumerAdapter(Consumer):
    def __init__(
        self,
        settings: KafkaSettings,
        group: str,
        topics: Sequence[str],
        *,
        transactional_id: str | None,
        auto_offset_reset: str = "earliest",
        session_timeout_ms: int = 10_000,
        transaction_timeout_ms: int = 30_000,
        on_assigned: Callable[[], None] | None = None,
    ) -> None:
        options = client_options(settings)
        self._options = options
        try:
            self._consumer = KafkaConsumer(
                **options,
                group_id=group,
                enable_auto_commit=False,
                auto_offset_reset=auto_offset_reset,
                # Skip records of aborted transactions: a crashed upstream step's half-done
                # batch must never be seen downstream.
                isolation_level="read_committed",
                session_timeout_ms=session_timeout_ms,
                heartbeat_interval_ms=max(1_000, session_timeout_ms // 4),
            )
            self._consumer.subscribe(list(topics), listener=_AssignmentListener(on_assigned))
            self._producer: KafkaProducer | None = None
            if transactional_id is not None:
                self._producer = KafkaProducer(
                    **options,
                    **durable_producer_options(),
                    transactional_id=transactional_id,
                    transaction_timeout_ms=transaction_timeout_ms,
                )
                # Fences any earlier producer with this id and aborts its open transaction.
                self._producer.init_transactions()
        except KafkaError as error:
            raise BrokerError(f"connecting consumer group {group} failed: {error}") from error
        self._healthy = True

    def poll(self, timeout_s: float, max_records: int) -> list[InboundRecord]:
        try:
            batches = self._consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        except KafkaError as error:
            self._healthy = False
            raise BrokerError(f"poll failed: {error}") from error
        self._healthy = True
        return [_inbound(record) for records in batches.values() for record in records]

    def complete(self, records: Sequence[InboundRecord], outputs: Sequence[OutboundRecord]) -> None:
        offsets = _next_offsets(records)
        if not offsets and not outputs:
            return
        try:
            if not outputs:
                self._consumer.commit(offsets)
            elif self._producer is None:
                self._publish_then_commit(outputs, offsets)
            else:
                self._commit_transaction(outputs, offsets)
        except KafkaError as error:
            self._healthy = False
            raise BrokerError(f"completing {len(records)} records failed: {error!r}") from error

    def _commit_transaction(self, outputs: Sequence[OutboundRecord], offsets: dict[Any, Any]) -> None:
        assert self._producer is not None
        self._producer.begin_transaction()
        try:
            for output in outputs:
                message = output.message
                self._producer.send(output.topic, value=message.value, key=message.key, headers=_headers(message))
            self._producer.send_offsets_to_transaction(offsets, self._consumer.group_metadata())
            self._producer.commit_transaction()
        except KafkaError:
            self._try_abort()
            raise

    def _publish_then_commit(self, outputs: Sequence[OutboundRecord], offsets: dict[Any, Any]) -> None:
        """At-least-once without transactions: outputs acknowledged before offsets move."""
        producer = self._plain_producer()
        futures = [
            producer.send(o.topic, value=o.message.value, key=o.message.key, headers=_headers(o.message))
            for o in outputs
        ]
        producer.flush(timeout=SEND_TIMEOUT_S)
        for future in futures:
            future.get(timeout=SEND_TIMEOUT_S)
        self._consumer.commit(offsets)

    def _plain_producer(self) -> KafkaProducer:
        if not hasattr(self, "_plain"):
            self._plain = KafkaProducer(**self._options, **durable_producer_options())
        return self._plain

    def _try_abort(self) -> None:
        assert self._producer is not None
        try:
            self._producer.abort_transaction()
        except Exception:  # the original error is the one worth raising
            log.warning("aborting the transaction failed; the next producer with this id will abort it")

    def is_ready(self) -> bool:
        return self._healthy and bool(self._consumer.assignment()) and self._coordinator_connected()

    def _coordinator_connected(self) -> bool:
        # kafka-python has no public "connected" query. Read the group coordinator's connection
        # state without side effects (its coordinator() would mark it dead from this thread).
        try:
            node = self._consumer._coordinator.coordinator_id
            return node is not None and bool(self._consumer._client.connected(node))
        except Exception:  # a probe must answer, not raise
            return False

    def close(self) -> None:
        # Leave the group first so partitions move to other instances without a session timeout.
        for closable in (self._consumer, self._producer, getattr(self, "_plain", None)):
            if closable is None:
                continue
            try:
                if closable is self._consumer:
                    closable.close(autocommit=False)
                else:
                    closable.close(timeout=5)
            except Exception:  # closing after a broker failure may fail again
                log.warning("closing %s failed", type(closable).__name__, exc_info=True)


def _next_offsets(records: Sequence[InboundRecord]) -> dict[Any, Any]:
    """The offsets to commit: one past the highest processed offset per partition."""
    highest: dict[tuple[str, int], int] = {}
    for record in records:
        position = (record.topic, record.partition)
        highest[position] = max(highest.get(position, -1), record.offset)
    return {TopicPartition(t, p): OffsetAndMetadata(o + 1, "", -1) for (t, p), o in highest.items()}


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
                raise BrokerError(f"topic {topic!r} does not exist (create it with apps.orders.topics)")
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
                        yield _inbound(record)
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
