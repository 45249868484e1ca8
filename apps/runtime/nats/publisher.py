"""Publishing with PubAcks credited per burst; the server drops a republished event id."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque

from nats.aio.client import Client as NatsClient

from event_platform.apps.runtime.adapter import (
    BrokerError,
    OutboundRecord,
    Publisher,
)
from event_platform.apps.runtime.nats.connection import MAX_IN_FLIGHT, PUBLISH_TIMEOUT_S, _Loop, connect, ensure_stream
from event_platform.apps.runtime.nats.publish_acks import AckCollector, Burst
from event_platform.apps.runtime.nats.wire import headers_of
from event_platform.apps.runtime.settings import NatsSettings

log = logging.getLogger(__name__)


class NatsPublisher(Publisher):
    """JetStream publishing with every PubAck awaited (stored, de-duplicated by event id).

    `publish` hands records to the event-loop thread in bursts: one cross-thread wake-up drains
    whatever the caller queued meanwhile, so a fast producer pays for the hand-over once per
    burst, not per event. A burst goes out in order with its PubAcks collected on one reply
    subscription (apps/runtime/nats/publish_acks.py), and is settled as a whole once every
    PubAck arrived (any error, or a missing ack within PUBLISH_TIMEOUT_S, fails `flush`).
    Up to MAX_IN_FLIGHT publishes are queued or unacknowledged at a time.
    """

    def __init__(self, settings: NatsSettings) -> None:
        self._replicas = settings.stream_replicas
        self._loop = _Loop("nats-publisher")
        self._client: NatsClient = self._loop.run(connect(settings, "publisher"), settings.connect_timeout_s + 5,
                                                  "connecting")
        self._js = self._client.jetstream()
        self._acks = AckCollector(self._client)
        self._loop.run(self._acks.start(), PUBLISH_TIMEOUT_S, "subscribing to publish acknowledgements")
        self._streams: set[str] = set()
        self._cond = threading.Condition()
        self._queued: deque[OutboundRecord] = deque()
        self._in_flight = 0  # queued or awaiting a PubAck
        self._drain_scheduled = False
        self._error: BaseException | None = None
        self._sending: asyncio.Lock | None = None  # created on the loop: bursts go out in order

    async def _publish(self, record: OutboundRecord) -> None:
        await self._js.publish(record.topic, record.message.value, timeout=PUBLISH_TIMEOUT_S,
                               headers=headers_of(record.message))

    def _ensure_stream(self, topic: str) -> None:
        if topic not in self._streams:
            # Created before the first publish is queued, so queued publishes keep their order.
            self._loop.run(ensure_stream(self._js, topic, self._replicas), PUBLISH_TIMEOUT_S, f"creating {topic}")
            self._streams.add(topic)

    def publish(self, record: OutboundRecord) -> None:
        self._ensure_stream(record.topic)
        with self._cond:
            while self._in_flight >= MAX_IN_FLIGHT:
                if not self._cond.wait(PUBLISH_TIMEOUT_S):
                    self._error = self._error or BrokerError("no publish acknowledgement for too long")
                    break
            self._queued.append(record)
            self._in_flight += 1
            wake = not self._drain_scheduled
            self._drain_scheduled = True
        if wake:
            self._loop.loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        """On the loop: send everything queued so far as one burst."""
        with self._cond:
            records = list(self._queued)
            self._queued.clear()
            self._drain_scheduled = False
        self._loop.loop.create_task(self._send_burst(records))

    async def _send_burst(self, records: list[OutboundRecord]) -> None:
        burst = Burst(len(records))
        error: BaseException | None = None
        try:
            if self._sending is None:
                self._sending = asyncio.Lock()
            # Publishing may wait (the client's buffer is full): the lock keeps a later burst
            # from overtaking this one meanwhile.
            async with self._sending:
                for record in records:
                    await self._acks.publish(burst, record.topic, record.message.value, headers_of(record.message))
            await asyncio.wait_for(burst.settled.wait(), PUBLISH_TIMEOUT_S)
            if burst.error is not None:
                error = BrokerError(burst.error)
        except TimeoutError:
            self._acks.forget(burst)
            error = BrokerError(f"{burst.unacknowledged} of {len(records)} publishes unacknowledged "
                                f"after {PUBLISH_TIMEOUT_S}s")
        except (Exception, asyncio.CancelledError) as failure:  # disconnected, closing
            self._acks.forget(burst)
            error = failure
        with self._cond:
            if error is not None:
                self._error = self._error or error
            self._in_flight -= len(records)
            self._cond.notify_all()

    def publish_and_wait(self, record: OutboundRecord, timeout_s: float = PUBLISH_TIMEOUT_S) -> None:
        self._ensure_stream(record.topic)
        self._loop.run(self._publish(record), timeout_s, f"publishing to {record.topic}")

    def flush(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BrokerError(f"{self._in_flight} publishes unacknowledged after {timeout_s}s")
                self._cond.wait(remaining)
            failed, self._error = self._error, None
        if failed is not None:
            raise BrokerError(f"a publish failed: {failed!r}") from failed

    def close(self) -> None:
        try:
            self.flush(10.0)
        except BrokerError:
            log.warning("closing the publisher with unacknowledged messages", exc_info=True)
        finally:
            _close(self._loop, self._client)


def _close(loop: _Loop, client: NatsClient | None) -> None:
    if client is not None:
        try:
            loop.run(client.close(), 10, "closing the NATS connection")
        except Exception:  # the server may be gone
            log.debug("closing a NATS connection failed", exc_info=True)
    loop.stop()


# -- consumer ------------------------------------------------------------------------------------
