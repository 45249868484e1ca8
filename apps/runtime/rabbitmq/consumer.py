"""A group's consumer on its quorum queues: manual acks after processing, dead letters moved to
the dead-letter topic."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from event_platform.apps.runtime import deadletter
from event_platform.apps.runtime.adapter import (
    BrokerError,
    Consumer,
    InboundRecord,
    OutboundRecord,
)
from event_platform.apps.runtime.rabbitmq.connection import (
    AMQP_ERRORS,
    SEND_TIMEOUT_S,
    _close_quietly,
    connect,
    declare_topic,
)
from event_platform.apps.runtime.rabbitmq.publisher import ConfirmWindow
from event_platform.apps.runtime.rabbitmq.wire import wire_of
from event_platform.apps.runtime.recent import RECENT_IDS, RecentIds
from event_platform.apps.runtime.settings import RabbitMQSettings
from event_platform.apps.runtime.topology import dead_letter_exchange, group_queue

log = logging.getLogger(__name__)


class RabbitMQConsumer(Consumer):
    def __init__(
        self,
        settings: RabbitMQSettings,
        group: str,
        topics: Sequence[str],
        *,
        dead_letter_topic: str,
        prefetch: int,
        on_assigned: Callable[[], None] | None = None,
    ) -> None:
        self._group = group
        self._on_assigned = on_assigned
        self._buffer: deque[tuple[Basic.Deliver, BasicProperties, bytes]] = deque()
        self._dead: deque[tuple[Basic.Deliver, BasicProperties, bytes]] = deque()
        self._dead_letter_topic = dead_letter_topic
        self._delivery_limit = settings.delivery_limit
        self._recent = RecentIds(RECENT_IDS)
        self._declared: set[str] = set()
        # Delivery tags polled and not yet acknowledged, with their message ids (the event ids).
        self._held: dict[int, str | None] = {}
        self._healthy = False
        self._connection = connect(settings)
        try:
            self._channel = self._connection.channel()
            self._channel.basic_qos(prefetch_count=prefetch)
            self._window = ConfirmWindow(self._connection)
            self._out = self._window.channel
            declare_topic(self._channel, dead_letter_topic)
            dlx = dead_letter_exchange(group)
            self._channel.exchange_declare(dlx, exchange_type="fanout", durable=True)
            self._channel.queue_declare(dlx, durable=True, arguments={"x-queue-type": "quorum"})
            self._channel.queue_bind(dlx, dlx)
            arguments = {
                "x-queue-type": "quorum",
                "x-delivery-limit": settings.delivery_limit,
                "x-dead-letter-exchange": dlx,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",  # required by at-least-once dead-lettering
            }
            for topic in topics:
                declare_topic(self._channel, topic)
                queue = group_queue(group, topic)
                self._channel.queue_declare(queue, durable=True, arguments=arguments)
                self._channel.queue_bind(queue, topic)
            self._wake = self._connection._request_channel_dispatch
            self._cancelled: list[str] = []
            self._channel.add_on_cancel_callback(self._on_cancel)
            for topic in topics:
                self._subscribe(group_queue(group, topic))
            # Its own channel: its delivery tags must not interleave with the batches' (which are
            # acknowledged with `multiple`).
            self._dead_channel = self._connection.channel()
            self._dead_channel.basic_consume(dlx, self._on_dead_letter, auto_ack=False)
        except AMQP_ERRORS as error:
            _close_quietly(self._connection)
            raise BrokerError(f"consumer group {group} could not subscribe to {list(topics)}: {error!r}") from error
        self._healthy = True
        if on_assigned is not None:
            on_assigned()

    def _subscribe(self, queue: str) -> None:
        """Subscribe through the blocking channel (which waits for ConsumeOk and keeps handling
        broker cancellations), then take the deliveries from pika's channel implementation
        straight into the buffer: the blocking channel would wrap each one in an event, queue
        it and dispatch it once more, 3% of a consumer's instructions per delivery.
        `_on_message` still ends a waiting process_data_events, as the blocking channel does."""
        tag = self._channel.basic_consume(queue, self._on_message, auto_ack=False)
        self._channel._impl._consumers[tag] = self._on_message

    def _on_message(self, channel: Any, method: Basic.Deliver, properties: BasicProperties, body: bytes) -> None:
        self._buffer.append((method, properties, body))
        self._wake(-1)  # pika's own signal to end process_data_events (a negative channel number)

    def _on_cancel(self, frame: Any) -> None:
        # The queue was deleted: no more deliveries will come. The next poll fails, and the
        # processor reconnects, which declares the queue again.
        self._cancelled.append(frame.method.consumer_tag)

    def _on_dead_letter(self, channel: BlockingChannel, method: Basic.Deliver, properties: BasicProperties,
                        body: bytes) -> None:
        self._dead.append((method, properties, body))

    def _move_dead_letters(self) -> None:
        """Broker-dead-lettered messages (delivery limit) → the dead-letter topic, with dlq.*."""
        while self._dead:
            method, properties, body = self._dead.popleft()
            message = wire_of(properties, body, method.routing_key)
            if deadletter.dlq_headers(message).get(deadletter.REASON) == "delivery-limit":
                # x-death counts dead-letterings; the deliveries were the limit plus the last one.
                attempts = str(self._delivery_limit + 1)
                message = message._replace(headers=tuple(
                    (name, attempts if name == deadletter.ATTEMPTS else value) for name, value in message.headers))
            if self._dead_letter_topic not in self._declared:
                declare_topic(self._out, self._dead_letter_topic)
                self._declared.add(self._dead_letter_topic)
            self._window.publish(OutboundRecord(self._dead_letter_topic, message))
            self._window.wait(SEND_TIMEOUT_S)
            self._dead_channel.basic_ack(method.delivery_tag)
            log.error("dead-lettered by the broker", extra={
                "reason": deadletter.dlq_headers(message).get(deadletter.REASON),
                "topic": self._dead_letter_topic})

    def poll(self, timeout_s: float, max_records: int) -> list[InboundRecord]:
        if self._cancelled:
            self._healthy = False
            raise BrokerError(f"the broker cancelled consumer {self._cancelled[0]} (its queue was deleted?)")
        try:
            if not self._buffer:
                # Returns as soon as a delivery arrives (or at the time limit).
                self._connection.process_data_events(time_limit=timeout_s)
            if len(self._buffer) < max_records:
                self._connection.process_data_events(time_limit=0)
            self._move_dead_letters()
        except AMQP_ERRORS as error:
            self._healthy = False
            raise BrokerError(f"consuming failed: {error!r}") from error
        records: list[InboundRecord] = []
        redelivered = False
        while self._buffer and len(records) < max_records:
            method, properties, body = self._buffer.popleft()
            event_id = properties.message_id
            if event_id and event_id in self._recent:
                self._channel.basic_ack(method.delivery_tag)  # completed here already: a duplicate
                continue
            if method.redelivered:
                redelivered = True
            self._held[method.delivery_tag] = event_id
            # (topic, partition, offset, message, timestamp), positional: this is per delivery.
            records.append(InboundRecord(method.exchange, 0, method.delivery_tag,
                                         wire_of(properties, body, method.routing_key), properties.timestamp))
        if redelivered and self._on_assigned is not None:
            # Someone held these before and may have changed state or performed effects.
            self._on_assigned()
        return records

    def complete(self, records: Sequence[InboundRecord], outputs: Sequence[OutboundRecord]) -> None:
        try:
            for topic in {output.topic for output in outputs} - self._declared:
                declare_topic(self._out, topic)
                self._declared.add(topic)
            for output in outputs:
                self._window.publish(output)
            self._window.wait(SEND_TIMEOUT_S)
            event_ids = [self._held.get(record.offset) for record in records]
            self._ack([record.offset for record in records])
            self._connection.process_data_events(time_limit=0)  # put the acks on the wire
        except AMQP_ERRORS as error:
            self._healthy = False
            raise BrokerError(f"completing {len(records)} records failed: {error!r}") from error
        for event_id in event_ids:
            if event_id is not None:
                self._recent.add(event_id)

    def _ack(self, tags: Sequence[int]) -> None:
        """One `multiple` ack when the batch is everything held up to its last tag (the usual
        case: batches complete in delivery order), otherwise one ack per delivery."""
        if not tags:
            return
        done, highest = set(tags), max(tags)
        if all(tag in done for tag in self._held if tag <= highest):
            self._channel.basic_ack(highest, multiple=True)
        else:
            for tag in tags:
                self._channel.basic_ack(tag)
        for tag in done:
            self._held.pop(tag, None)

    def is_ready(self) -> bool:
        return self._healthy and self._connection.is_open and self._channel.is_open

    def close(self) -> None:
        # Closing the channel returns every unacknowledged delivery to its queue at once.
        self._buffer.clear()
        _close_quietly(self._connection)


# -- log reader ----------------------------------------------------------------------------------
