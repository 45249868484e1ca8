"""The RabbitMQ adapter, on pika (BlockingConnection).

Why pika, not aio-pika: the runtime is synchronous (the processor loop, the HTTP API threads,
kafka-python), so a blocking client fits the `Consumer`/`Publisher` interface directly; aio-pika
would need an event-loop thread and a bridge for every call, for no gain in a one-consumer-per-
process design. pika's BlockingConnection is not thread-safe: every adapter object owns its
connection, and the publisher serialises callers with a lock.

Topology (declared idempotently by whoever needs it; `declare_topics` for deploy steps/tests):
- a topic `T` is a durable fanout exchange `T` bound to a durable stream `T` (the log: replays
  for event-sourced state, the effects journal, dead-letter listings);
- consumer group `G` reading `T` owns a quorum queue `G.T` bound to exchange `T`, with an explicit
  `x-delivery-limit` (3.10's default is unlimited) and `x-dead-letter-exchange` `G.dlx`
  (at-least-once dead-lettering) into quorum queue `G.dlx`: a message that keeps killing its
  consumer ends there with its `x-death` history, and the group's consumers move it to the
  dead-letter topic `G.dlq` with `dlq.*` headers (streams would drop `x-death`).

Delivery: publishers use confirms (many in flight, see ConfirmWindow), persistent messages,
`mandatory` (an unroutable message is an error, not a silent drop) and `message_id` = the
CloudEvents id. Consumers ack manually after the batch's outputs were confirmed (`complete`); a
crash before that redelivers the batch. Without transactions a redelivered batch may republish
outputs already confirmed: their event ids are derived from the input's, consumers skip ids they
completed recently, and the domain handlers are idempotent by event (apps/BROKERS.md). A poll
holding a redelivered message reports it as an assignment change, so the processor rebuilds
state and refreshes the effects journal first. Log reads end at a fence (RabbitMQLogReader).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from event_platform.apps.runtime import amqp_properties, deadletter
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
from event_platform.apps.runtime.bindings import CONTENT_TYPE, AmqpCodec
from event_platform.apps.runtime.envelope import ContentMode, HeaderValue, WireMessage, header_text
from event_platform.apps.runtime.events import EventRegistry
from event_platform.apps.runtime.recent import RECENT_IDS, RecentIds
from event_platform.apps.runtime.retry import connect_with_backoff
from event_platform.apps.runtime.settings import RabbitMQSettings
from event_platform.apps.runtime.topology import dead_letter_exchange, group_queue

log = logging.getLogger(__name__)

PERSISTENT = 2
FENCE_HEADER = "x-eventplatform-fence"
STREAM_PREFETCH = 1_000
SEND_TIMEOUT_S = 30.0
BATCH = 500  # queued publishes confirmed together
CONFIRM_POLL_S = 0.001
LINGER_S = 0.005
AMQP_ERRORS = (pika.exceptions.AMQPError, OSError)


# -- connections ---------------------------------------------------------------------------------


def connect(settings: RabbitMQSettings, *, heartbeat_s: int | None = None,
            timeout_s: float | None = None) -> pika.BlockingConnection:
    """A connection, retried with exponential backoff and full jitter for up to `timeout_s`."""
    # pika narrates every connection step at INFO; failures reach us as exceptions anyway.
    logging.getLogger("pika").setLevel(logging.WARNING)
    parameters = pika.URLParameters(settings.url)
    parameters.heartbeat = settings.heartbeat_s if heartbeat_s is None else heartbeat_s
    parameters.blocked_connection_timeout = 30
    parameters.socket_timeout = 5
    return connect_with_backoff(
        lambda: pika.BlockingConnection(parameters), AMQP_ERRORS,
        settings.connect_timeout_s if timeout_s is None else timeout_s,
        lambda error: BrokerError(f"cannot connect to RabbitMQ at {_safe(settings.url)}: {error!r}"))


def _safe(url: str) -> str:
    """The URL without credentials, for messages."""
    return url.split("@", 1)[-1]


def declare_topic(channel: BlockingChannel, topic: str) -> None:
    """Exchange `topic` (fanout) → stream `topic`. Retention is a policy matter (max-age)."""
    channel.exchange_declare(topic, exchange_type="fanout", durable=True)
    channel.queue_declare(topic, durable=True, arguments={"x-queue-type": "stream"})
    channel.queue_bind(topic, topic)


def declare_topics(settings: RabbitMQSettings, topics: Sequence[str]) -> None:
    connection = connect(settings)
    try:
        channel = connection.channel()
        for topic in topics:
            declare_topic(channel, topic)
    except AMQP_ERRORS as error:
        raise BrokerError(f"declaring {list(topics)} failed: {error!r}") from error
    finally:
        _close_quietly(connection)


def _close_quietly(connection: pika.BlockingConnection | None) -> None:
    if connection is None:
        return
    try:
        if connection.is_open:
            connection.close()
    except Exception:  # closing after a broker failure may fail again
        log.debug("closing a RabbitMQ connection failed", exc_info=True)


# -- wire mapping --------------------------------------------------------------------------------


def properties_of(message: WireMessage) -> BasicProperties:
    headers: dict[str, Any] = {}
    content_type = None
    for name, value in message.headers:
        if name == CONTENT_TYPE:
            content_type = header_text(value)
        else:
            headers[name] = header_text(value)
    event_id = headers.get("cloudEvents_id") or headers.get("cloudEvents:id")
    return BasicProperties(delivery_mode=PERSISTENT, content_type=content_type, headers=headers or None,
                           message_id=event_id)


def routing_key_of(message: WireMessage) -> str:
    """The record key travels as the routing key (fanout exchanges ignore it for routing)."""
    return message.key.decode("utf-8", "surrogateescape") if message.key else ""


def wire_of(properties: BasicProperties, body: bytes, routing_key: str) -> WireMessage:
    table = properties.headers or {}
    if _without_broker_headers(tuple(table)) and _TEXT_TYPES.issuperset(map(type, table.values())):
        # The usual delivery, copied in one step: text headers only (as pika decoded them),
        # none of the broker's. This runs for every delivery.
        headers = tuple(table.items())
    else:
        # `x-` headers are broker bookkeeping (x-death, x-delivery-count, x-stream-offset), not
        # the record's headers; other values become text (numbers, timestamps) or stay bytes.
        headers = tuple((name, value if isinstance(value, str) else _value(value))
                        for name, value in table.items() if not name.startswith("x-"))
    if properties.content_type:
        headers += ((CONTENT_TYPE, properties.content_type),)
    death = _first_death(properties) if "x-death" in table else None
    if death is not None and not any(name == deadletter.REASON for name, _ in headers):
        headers += tuple(_death_headers(death))
    key = routing_key.encode("utf-8", "surrogateescape") if routing_key else None
    return WireMessage(body, key, headers)  # positional: keywords cost more per delivery


_TEXT_TYPES = frozenset({str, bytes})


@functools.lru_cache(maxsize=256)
def _without_broker_headers(names: tuple[str, ...]) -> bool:
    """Whether no header name is the broker's (`x-`): decided once per set of names."""
    return not any(name.startswith("x-") for name in names)


def _value(value: Any) -> HeaderValue:
    """A header value pika decoded to something other than text: byte arrays stay bytes, numbers
    and timestamps become their text."""
    return value if isinstance(value, bytes) else str(value)


def _first_death(properties: BasicProperties) -> dict[str, Any] | None:
    deaths = (properties.headers or {}).get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        return deaths[0]
    return None


def _death_headers(death: dict[str, Any]) -> list[tuple[str, HeaderValue]]:
    """`dlq.*` headers for a message the broker dead-lettered (delivery limit exceeded)."""
    queue = header_text(_value(death.get("queue", "?")))
    topic = header_text(_value(death.get("exchange", "?")))
    group = queue[: -len(topic) - 1] if queue.endswith("." + topic) else queue
    when = death.get("time")
    stamp = when.isoformat() if isinstance(when, datetime) else ""
    reason = header_text(_value(death.get("reason", "?"))).replace("_", "-")
    return [
        (deadletter.REASON, reason),
        (deadletter.ERROR, f"RabbitMQ dead-lettered the message from queue {queue} ({reason})"),
        (deadletter.ATTEMPTS, str(death.get("count", 1))),
        (deadletter.FIRST_FAILURE, stamp),
        (deadletter.LAST_FAILURE, stamp),
        (deadletter.SOURCE_TOPIC, topic),
        (deadletter.SOURCE_PARTITION, "0"),
        (deadletter.SOURCE_OFFSET, "-1"),
        (deadletter.CONSUMER_GROUP, group),
    ]


class Refused(BrokerError):
    """The broker nacked a publish or returned it as unroutable: resending would not help."""


class ConfirmWindow:
    """Publisher confirms with many messages in flight, on a BlockingConnection.

    pika's BlockingChannel waits for each confirm before the next publish: one fsync'd round trip
    per message (~600 messages/s on a quorum queue here). This publishes through the blocking
    channel's underlying asynchronous channel and then waits, in `wait`, until the broker has
    confirmed (acked) every message published since, which it does in batches. A nack or a
    returned (unroutable) message fails the wait.
    """

    def __init__(self, connection: pika.BlockingConnection) -> None:
        self._connection = connection
        self.channel = connection.channel()
        self._async = self.channel._impl  # pika's Channel: publishes without waiting
        self._published = 0
        # Published, not yet confirmed, by delivery tag (ascending): what a reconnect resends.
        self._unconfirmed: dict[int, OutboundRecord] = {}
        self._failures: list[str] = []
        selected: list[bool] = []
        self._async.add_on_return_callback(self._on_return)
        self._async.confirm_delivery(self._on_confirm, callback=lambda frame: selected.append(True))
        deadline = time.monotonic() + SEND_TIMEOUT_S
        while not selected and time.monotonic() < deadline:
            connection.process_data_events(time_limit=CONFIRM_POLL_S)
        if not selected:
            raise BrokerError("the broker did not enable publisher confirms")

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        settled = 0
        if method.multiple:
            # Tags are ascending in the dict: pop from the front up to the confirmed one
            # (amortised O(1) per message; scanning every outstanding tag per confirm was not).
            while self._unconfirmed:
                first = next(iter(self._unconfirmed))
                if first > method.delivery_tag:
                    break
                del self._unconfirmed[first]
                settled += 1
        elif self._unconfirmed.pop(method.delivery_tag, None) is not None:
            settled = 1
        if isinstance(method, Basic.Nack):
            self._failures.append(f"the broker nacked {settled} message(s)")

    def _on_return(self, channel: Any, method: Basic.Return, properties: BasicProperties, body: bytes) -> None:
        self._failures.append(f"unroutable: {method.exchange} ({method.reply_text})")

    def publish(self, record: OutboundRecord) -> None:
        message = record.message
        self._async.basic_publish(record.topic, routing_key_of(message), message.value, properties_of(message),
                                  mandatory=True)
        self._published += 1
        self._unconfirmed[self._published] = record

    def unconfirmed(self) -> list[OutboundRecord]:
        return list(self._unconfirmed.values())

    def wait(self, timeout_s: float = 30.0, keep: int = 0) -> None:
        """Return once at most `keep` publishes are unconfirmed (0: all confirmed); BrokerError
        on nack, return or timeout. (A return precedes its message's ack, so no failure can be
        pending once all are acked.)"""
        deadline = time.monotonic() + timeout_s
        # Published frames wait in pika's buffer until its I/O loop runs: always run it once,
        # so a batch goes on the wire (and confirms come in) even when nothing needs waiting for.
        self._connection.process_data_events(time_limit=0)
        while len(self._unconfirmed) > keep and not self._failures:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrokerError(f"{len(self._unconfirmed)} publishes unconfirmed after {timeout_s}s")
            # Confirms reach the async channel's callback, which does not end a blocking wait:
            # poll in short steps instead.
            self._connection.process_data_events(time_limit=min(remaining, CONFIRM_POLL_S))
        failures, self._failures = self._failures, []
        if failures:
            raise Refused("; ".join(failures))


# -- publisher -----------------------------------------------------------------------------------


class RabbitMQPublisher(Publisher):
    """Confirmed, persistent publishing; reconnects (with backoff) after a broker failure.

    `publish` queues and sends in batches of up to BATCH once a batch is full or LINGER_S old,
    keeping up to BATCH more unconfirmed in flight meanwhile (see ConfirmWindow); `flush` sends
    the rest and waits for every confirm; `publish_and_wait` sends at once. A nack or an
    unroutable message surfaces from the next `flush`.
    Heartbeats are off on this connection: between publishes nothing services it (a blocking
    client), and a dead connection is found by the next publish anyway, which reconnects.
    """

    def __init__(self, settings: RabbitMQSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._connection: pika.BlockingConnection | None = None
        self._window: ConfirmWindow | None = None
        self._declared: set[str] = set()
        self._queued: list[OutboundRecord] = []
        self._first_queued_at = 0.0
        self._error: BaseException | None = None

    def publish(self, record: OutboundRecord) -> None:
        with self._lock:
            if not self._queued:
                self._first_queued_at = time.monotonic()
            self._queued.append(record)
            # Sent when a batch is full or its first record has waited LINGER_S (Kafka's
            # linger.ms): a steady trickle is not held back, a burst is confirmed in bulk.
            if len(self._queued) >= BATCH or time.monotonic() - self._first_queued_at >= LINGER_S:
                self._send_queued(self._settings.connect_timeout_s + SEND_TIMEOUT_S, keep=BATCH)

    def publish_and_wait(self, record: OutboundRecord, timeout_s: float = 30.0) -> None:
        with self._lock:
            self._queued.append(record)
            self._send_queued(timeout_s)
            failed, self._error = self._error, None
        if failed is not None:
            raise BrokerError(f"publishing to {record.topic} failed: {failed}") from failed

    def flush(self, timeout_s: float = 30.0) -> None:
        with self._lock:
            self._send_queued(timeout_s)
            failed, self._error = self._error, None
        if failed is not None:
            raise BrokerError(f"a publish failed: {failed}") from failed

    def _send_queued(self, timeout_s: float, keep: int = 0) -> None:
        records, self._queued = self._queued, []
        if not records and (keep > 0 or self._window is None):
            return  # nothing to send, and nothing sent that awaits its confirm
        try:
            self._send(records, timeout_s, keep)
        except BrokerError as error:
            self._error = self._error or error

    def _send(self, records: Sequence[OutboundRecord], timeout_s: float, keep: int = 0) -> None:
        """Publish `records`, then wait until at most `keep` publishes are unconfirmed: `publish`
        keeps up to BATCH in flight (a burst is never stopped to wait for every confirm), `flush`
        waits for all. After a connection or channel failure (broker restarting, queues not yet
        back) reconnect and resend everything unconfirmed, with backoff, until `timeout_s` is
        spent. A resent message may be stored twice: consumers drop repeated event ids. A nack
        or an unroutable message is not retried: it fails at once."""
        deadline = time.monotonic() + timeout_s
        delay = 0.1
        pending = list(records)
        while True:
            window: ConfirmWindow | None = None
            sent = 0
            try:
                window = self._open(max(0.5, deadline - time.monotonic()))
                for topic in {record.topic for record in pending} - self._declared:
                    declare_topic(window.channel, topic)
                    self._declared.add(topic)
                for record in pending:
                    window.publish(record)
                    sent += 1
                window.wait(max(0.5, deadline - time.monotonic()), keep=keep)
                return
            except Refused:
                raise
            except (BrokerError, *AMQP_ERRORS) as error:
                # What the lost connection never confirmed goes out again on the next one.
                pending = (window.unconfirmed() if window is not None else []) + pending[sent:]
                self._drop()
                if time.monotonic() + delay > deadline:
                    raise BrokerError(f"publishing {len(pending)} message(s) failed: {error!r}") from error
                time.sleep(random.uniform(delay / 2, delay))
                delay = min(delay * 2, 2.0)

    def close(self) -> None:
        try:
            self.flush(10.0)
        except BrokerError:
            log.warning("closing the publisher with unconfirmed messages", exc_info=True)
        with self._lock:
            self._drop()

    def _open(self, timeout_s: float) -> ConfirmWindow:
        if self._window is None or not self._window.channel.is_open:
            self._drop()
            self._connection = connect(self._settings, heartbeat_s=0, timeout_s=timeout_s)
            self._window = ConfirmWindow(self._connection)
        return self._window

    def _drop(self) -> None:
        _close_quietly(self._connection)
        self._connection, self._window = None, None
        self._declared.clear()


# -- consumer ------------------------------------------------------------------------------------


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


class RabbitMQLogReader(LogReader):
    """Reads topics' streams from their first offset.

    A stream over AMQP 0-9-1 cannot tell its last offset (3.10 reports no message count for
    streams), so "up to the end as of the call" is made exact with a fence: a marker message
    published (confirmed) straight into each stream, read up to. Readers skip fences. The first
    `catch_up` always fences; later ones return what arrived since, unless `fence=True` (the
    effects journal's refresh). A long-lived follower (the read model) thus writes no fences.
    """

    def __init__(self, settings: RabbitMQSettings, topics: Sequence[str]) -> None:
        self._topics = list(topics)
        self._buffer: deque[InboundRecord | str] = deque()
        self._fences: dict[str, str] = {}
        self._first = True
        self._connection = connect(settings, heartbeat_s=0)
        try:
            self._channel = self._connection.channel()
            self._channel.basic_qos(prefetch_count=STREAM_PREFETCH)
            self._fence_channel = self._connection.channel()
            self._fence_channel.confirm_delivery()
            for topic in self._topics:
                declare_topic(self._channel, topic)
                self._channel.basic_consume(topic, self._on_message(topic), auto_ack=False,
                                            arguments={"x-stream-offset": "first"})
        except AMQP_ERRORS as error:
            _close_quietly(self._connection)
            raise BrokerError(f"reading {self._topics} failed: {error!r}") from error

    def _on_message(self, topic: str) -> Callable[[BlockingChannel, Basic.Deliver, BasicProperties, bytes], None]:
        def on_message(channel: BlockingChannel, method: Basic.Deliver, properties: BasicProperties,
                       body: bytes) -> None:
            channel.basic_ack(method.delivery_tag)
            headers = properties.headers or {}
            fence = headers.get(FENCE_HEADER)
            if fence is not None:
                self._buffer.append(header_text(_value(fence)))
                return
            offset = headers.get("x-stream-offset", -1)
            self._buffer.append(InboundRecord(topic=topic, partition=0, offset=int(offset),
                                              message=wire_of(properties, body, method.routing_key),
                                              timestamp_ms=properties.timestamp))
        return on_message

    def catch_up(self, timeout_s: float = 60.0, fence: bool | None = None) -> Iterator[InboundRecord]:
        try:
            if fence or (fence is None and self._first):
                self._first = False
                yield from self._read_to_fences(timeout_s)
            else:
                self._connection.process_data_events(time_limit=0)
                while self._buffer:
                    item = self._buffer.popleft()
                    if isinstance(item, InboundRecord):
                        yield item
        except AMQP_ERRORS as error:
            raise BrokerError(f"reading {self._topics} failed: {error!r}") from error

    def _read_to_fences(self, timeout_s: float) -> Iterator[InboundRecord]:
        waiting = set()
        for topic in self._topics:
            token = uuid.uuid4().hex
            self._fence_channel.basic_publish("", topic, b"", BasicProperties(
                delivery_mode=PERSISTENT, headers={FENCE_HEADER: token}), mandatory=True)
            waiting.add(token)
        deadline = time.monotonic() + timeout_s
        while waiting:
            if not self._buffer:
                if time.monotonic() > deadline:
                    raise BrokerError(f"reading {self._topics} did not reach the end in {timeout_s}s")
                self._connection.process_data_events(time_limit=0.2)
                continue
            item = self._buffer.popleft()
            if isinstance(item, InboundRecord):
                yield item
            else:
                waiting.discard(item)

    def close(self) -> None:
        # Dispatch what pika holds first: closing a channel rejects undispatched deliveries,
        # which streams refuse (the server then closes the connection with an error).
        if self._connection.is_open:
            with contextlib.suppress(Exception):  # a broken connection cannot fail the close
                self._connection.process_data_events(time_limit=0)
        _close_quietly(self._connection)


# -- effects journal -----------------------------------------------------------------------------


class RabbitMQEffectsJournal(EffectsJournal):
    """Entries as messages of a stream (routing key = idempotency key, body = result)."""

    def __init__(self, settings: RabbitMQSettings, topic: str) -> None:
        self.topic = topic
        self._entries: dict[str, str] = {}
        self._lock = threading.Lock()
        self._reader = RabbitMQLogReader(settings, [topic])
        self._publisher = RabbitMQPublisher(settings)
        self.refresh()

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, result: str) -> None:
        self._publisher.publish_and_wait(OutboundRecord(self.topic, WireMessage(value=result.encode(),
                                                                                key=key.encode())))
        with self._lock:
            self._entries[key] = result

    def refresh(self) -> None:
        for record in self._reader.catch_up(fence=True):
            if record.message.key is not None:
                with self._lock:
                    self._entries[record.message.key.decode()] = record.message.value.decode()

    def close(self) -> None:
        self._reader.close()
        self._publisher.close()


# -- broker --------------------------------------------------------------------------------------


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
