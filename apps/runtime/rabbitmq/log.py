"""Reading a topic's stream from the start (to a fence), and the effects journal kept on one."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence

from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from event_platform.apps.runtime.adapter import (
    BrokerError,
    EffectsJournal,
    InboundRecord,
    LogReader,
    OutboundRecord,
)
from event_platform.apps.runtime.envelope import WireMessage, header_text
from event_platform.apps.runtime.rabbitmq.connection import (
    AMQP_ERRORS,
    FENCE_HEADER,
    PERSISTENT,
    STREAM_PREFETCH,
    _close_quietly,
    connect,
    declare_topic,
)
from event_platform.apps.runtime.rabbitmq.publisher import RabbitMQPublisher
from event_platform.apps.runtime.rabbitmq.wire import _value, wire_of
from event_platform.apps.runtime.settings import RabbitMQSettings


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
