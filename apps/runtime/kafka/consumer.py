"""The consumer side: read_committed, manual commits, one transaction per completed batch."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # type: ignore[import-untyped]
from kafka.consumer.subscription_state import ConsumerRebalanceListener  # type: ignore[import-untyped]
from kafka.errors import KafkaError  # type: ignore[import-untyped]
from kafka.structs import OffsetAndMetadata  # type: ignore[import-untyped]

from event_platform.apps.runtime.adapter import BrokerError, Consumer, InboundRecord, OutboundRecord
from event_platform.apps.runtime.kafka.options import (
    SEND_TIMEOUT_S,
    client_options,
    durable_producer_options,
    inbound_record,
    record_headers,
)
from event_platform.apps.runtime.settings import KafkaSettings

log = logging.getLogger(__name__)


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
        return [inbound_record(record) for records in batches.values() for record in records]

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
                self._producer.send(output.topic, value=message.value, key=message.key, headers=record_headers(message))
            self._producer.send_offsets_to_transaction(offsets, self._consumer.group_metadata())
            self._producer.commit_transaction()
        except KafkaError:
            self._try_abort()
            raise

    def _publish_then_commit(self, outputs: Sequence[OutboundRecord], offsets: dict[Any, Any]) -> None:
        """At-least-once without transactions: outputs acknowledged before offsets move."""
        producer = self._plain_producer()
        futures = [
            producer.send(o.topic, value=o.message.value, key=o.message.key, headers=record_headers(o.message))
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
