"""Idempotent, acks=all publishing."""

from __future__ import annotations

from typing import Any

from kafka import KafkaProducer  # type: ignore[import-untyped]
from kafka.errors import KafkaError  # type: ignore[import-untyped]

from apps.runtime.adapter import BrokerError, OutboundRecord, Publisher
from apps.runtime.kafka.options import SEND_TIMEOUT_S, client_options, durable_producer_options, record_headers
from apps.runtime.settings import KafkaSettings


class KafkaPublisher(Publisher):
    def __init__(self, settings: KafkaSettings, **overrides: Any) -> None:
        self._producer = KafkaProducer(**client_options(settings), **durable_producer_options(), **overrides)
        self._error: BaseException | None = None

    def publish(self, record: OutboundRecord) -> None:
        message = record.message
        headers = record_headers(message)
        future = self._producer.send(record.topic, value=message.value, key=message.key, headers=headers)
        future.add_errback(self._remember_error)

    def publish_and_wait(self, record: OutboundRecord, timeout_s: float = SEND_TIMEOUT_S) -> None:
        """Send one record and return only once the broker acknowledged it (acks=all)."""
        message = record.message
        try:
            self._producer.send(
                record.topic, value=message.value, key=message.key, headers=record_headers(message)
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
