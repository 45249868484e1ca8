"""Confirmed, persistent publishing through a sliding window of unconfirmed messages."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from typing import Any

import pika
import pika.exceptions
from pika.spec import Basic, BasicProperties

from event_platform.apps.runtime.adapter import (
    BrokerError,
    OutboundRecord,
    Publisher,
)
from event_platform.apps.runtime.rabbitmq.connection import (
    AMQP_ERRORS,
    BATCH,
    CONFIRM_POLL_S,
    LINGER_S,
    SEND_TIMEOUT_S,
    _close_quietly,
    connect,
    declare_topic,
)
from event_platform.apps.runtime.rabbitmq.wire import properties_of, routing_key_of
from event_platform.apps.runtime.settings import RabbitMQSettings

log = logging.getLogger(__name__)


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
