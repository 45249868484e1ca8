"""A group's durable pull consumer: explicit acks after processing, max-deliveries dead letters."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import api

from event_platform.apps.runtime import deadletter
from event_platform.apps.runtime.adapter import (
    BrokerError,
    Consumer,
    InboundRecord,
    OutboundRecord,
)
from event_platform.apps.runtime.nats.connection import (
    ADVISORY,
    FETCH_BATCH,
    FETCH_WAIT_S,
    ID_HEADER,
    MSG_ID,
    PUBLISH_TIMEOUT_S,
    _Loop,
    connect,
    ensure_stream,
)
from event_platform.apps.runtime.nats.publisher import _close
from event_platform.apps.runtime.nats.pull import Puller
from event_platform.apps.runtime.nats.wire import publish_all, wire_of
from event_platform.apps.runtime.recent import RECENT_IDS, RecentIds
from event_platform.apps.runtime.settings import NatsSettings

log = logging.getLogger(__name__)


class NatsConsumer(Consumer):
    def __init__(
        self,
        settings: NatsSettings,
        group: str,
        topics: Sequence[str],
        *,
        dead_letter_topic: str,
        ack_wait_s: float,
        prefetch: int,
        on_assigned: Callable[[], None] | None = None,
    ) -> None:
        self._settings = settings
        self._group = group
        self._topics = list(topics)
        self._dead_letter_topic = dead_letter_topic
        self._ack_wait_s = ack_wait_s
        self._prefetch = prefetch
        self._on_assigned = on_assigned
        self._cond = threading.Condition()
        self._pending: deque[tuple[str, Msg]] = deque()  # fetched, not yet polled
        self._held: dict[tuple[str, int], Msg] = {}  # polled, not yet completed
        self._recent = RecentIds(RECENT_IDS)
        self._closing = False
        self._streams: set[str] = set()
        self._fetchers: list[asyncio.Task[None]] = []
        self._may_fetch = asyncio.Event()  # set (on the loop) when the processor gave room back
        self._failure: str | None = None
        self._loop = _Loop(f"nats-consumer-{group}")
        self._client: NatsClient | None = None
        try:
            self._loop.run(self._start(), settings.connect_timeout_s + 30, f"subscribing group {group} to {topics}")
        except BrokerError:
            _close(self._loop, self._client)
            raise
        if on_assigned is not None:
            on_assigned()

    def consumer_config(self, topic: str) -> api.ConsumerConfig:
        # Redelivery after an ack timeout waits ack_wait, then twice that, ... (held messages are
        # kept alive by +WPI, so this only applies to a consumer that died or hung).
        steps = min(self._settings.max_deliver - 1, 5)
        backoff = [self._ack_wait_s * 2**step for step in range(steps)]
        return api.ConsumerConfig(
            durable_name=self._group, ack_policy=api.AckPolicy.EXPLICIT, deliver_policy=api.DeliverPolicy.ALL,
            filter_subject=topic, max_deliver=self._settings.max_deliver, ack_wait=backoff[0], backoff=backoff,
            max_ack_pending=max(1_000, 2 * self._prefetch), max_waiting=512,
        )

    async def _start(self) -> None:
        self._client = await connect(self._settings, f"{self._group}-consumer")
        js = self._js = self._client.jetstream()
        await ensure_stream(js, self._dead_letter_topic, self._settings.stream_replicas)
        for topic in self._topics:
            stream = await ensure_stream(js, topic, self._settings.stream_replicas)
            config = self.consumer_config(topic)
            try:
                await js.add_consumer(stream, config)
            except nats.js.errors.BadRequestError as error:
                # The durable exists with other settings (a changed deployment): keep its position.
                log.warning("consumer exists with different settings; using it as it is",
                            extra={"stream": stream, "consumer": self._group, "error": str(error)})
            puller = Puller(self._client, stream, self._group, partial(self._fetched, topic))
            await puller.start()
            await self._client.subscribe(ADVISORY.format(stream=stream, consumer=self._group),
                                         cb=self._on_max_deliveries)
            self._fetchers.append(asyncio.get_running_loop().create_task(self._fetch_forever(puller)))
        asyncio.get_running_loop().create_task(self._keep_alive())

    async def _fetch_forever(self, puller: Puller) -> None:
        while not self._closing:
            with self._cond:
                room = self._prefetch - len(self._pending) - len(self._held)
                # While the processor works on a batch, fetching would only compete with it for
                # the GIL (measured: ~15% of consumer throughput): fetch while it waits instead.
                busy = bool(self._held)
            if room <= 0 or busy:
                # Woken by `_complete` (or closing) rather than polling: a timer every
                # millisecond cost a few percent of the processor's CPU in GIL hand-overs.
                self._may_fetch.clear()
                await self._may_fetch.wait()
                continue
            try:
                await puller.pull(min(room, FETCH_BATCH), FETCH_WAIT_S)
            except Exception as error:  # refused, or connection trouble (the client reconnects)
                if self._closing:
                    return
                self._failure = repr(error)
                await asyncio.sleep(0.5)
                continue
            self._failure = None if self._client is not None and self._client.is_connected else "disconnected"

    def _fetched(self, topic: str, messages: list[Msg]) -> None:
        """On the loop: messages a pull brought, for `poll`."""
        with self._cond:
            self._pending.extend((topic, message) for message in messages)
            self._cond.notify_all()

    async def _keep_alive(self) -> None:
        """Tell the server every held message is still being worked on (resets its ack timer)."""
        while not self._closing:
            await asyncio.sleep(max(0.5, self._ack_wait_s / 3))
            with self._cond:
                held = [message for _, message in self._pending] + list(self._held.values())
            for message in held:
                try:
                    await message.in_progress()
                except Exception:  # acked meanwhile, or disconnected: nothing to keep alive
                    continue

    async def _on_max_deliveries(self, advisory_message: Msg) -> None:
        """Dead-letter a message delivered max_deliver times (its consumer kept dying on it)."""
        try:
            advisory = json.loads(advisory_message.data)
            stream, sequence = advisory["stream"], int(advisory["stream_seq"])
            original = await self._js.get_msg(stream, sequence)
            topic = original.subject or stream
            now = datetime.now(UTC).isoformat()
            headers = {k: v for k, v in (original.headers or {}).items() if not k.startswith(deadletter.PREFIX)}
            headers.update({
                deadletter.REASON: "max-deliveries",
                deadletter.ERROR: f"delivered {advisory.get('deliveries')} times to {self._group} without an ack",
                deadletter.ATTEMPTS: str(advisory.get("deliveries", "")),
                deadletter.FIRST_FAILURE: now,
                deadletter.LAST_FAILURE: now,
                deadletter.SOURCE_TOPIC: topic,
                deadletter.SOURCE_PARTITION: "0",
                deadletter.SOURCE_OFFSET: str(sequence),
                deadletter.CONSUMER_GROUP: self._group,
                MSG_ID: f"max-deliveries:{stream}:{sequence}:{self._group}",
            })
            await self._js.publish(self._dead_letter_topic, original.data or b"", timeout=PUBLISH_TIMEOUT_S,
                                   headers=headers)
            log.error("dead-lettered after max deliveries",
                      extra={"at": f"{topic}/0@{sequence}", "topic": self._dead_letter_topic})
        except Exception:  # an advisory we cannot act on must not kill the subscription
            log.exception("handling a max-deliveries advisory failed")

    def poll(self, timeout_s: float, max_records: int) -> list[InboundRecord]:
        with self._cond:
            if not self._pending:
                self._cond.wait(timeout_s)
            taken = [self._pending.popleft() for _ in range(min(max_records, len(self._pending)))]
        records: list[InboundRecord] = []
        redelivered = False
        for topic, message in taken:
            event_id = (message.headers or {}).get(ID_HEADER)
            if event_id is not None and event_id in self._recent:
                self._loop.submit(message.ack())  # completed here already: a duplicate
                continue
            delivered, sequence, timestamp_ms = _delivery_of(message)
            redelivered = redelivered or delivered > 1
            self._held[(topic, sequence)] = message
            records.append(InboundRecord(topic=topic, partition=0, offset=sequence,
                                         message=wire_of(message.data, message.headers), timestamp_ms=timestamp_ms))
        if redelivered and self._on_assigned is not None:
            self._on_assigned()
        return records

    def complete(self, records: Sequence[InboundRecord], outputs: Sequence[OutboundRecord]) -> None:
        with self._cond:
            messages = [self._held.pop((r.topic, r.offset)) for r in records if (r.topic, r.offset) in self._held]
        self._loop.run(self._complete(messages, outputs), 60, f"completing {len(records)} records")
        for message in messages:
            event_id = (message.headers or {}).get(ID_HEADER)
            if event_id is not None:
                self._recent.add(event_id)

    async def _complete(self, messages: Sequence[Msg], outputs: Sequence[OutboundRecord]) -> None:
        for topic in {output.topic for output in outputs} - self._streams:
            await ensure_stream(self._js, topic, self._settings.stream_replicas)
            self._streams.add(topic)
        try:
            await publish_all(self._js, outputs)
            for message in messages:
                await message.ack()
            assert self._client is not None
            await self._client.flush(int(PUBLISH_TIMEOUT_S))  # the acks reached the server
        finally:
            self._may_fetch.set()

    def is_ready(self) -> bool:
        return self._client is not None and self._client.is_connected and self._failure is None

    def close(self) -> None:
        self._closing = True
        try:
            self._loop.run(self._give_back(), 10, "returning unfinished messages")
        except BrokerError:
            log.warning("could not return unfinished messages; they come back after the ack wait")
        _close(self._loop, self._client)

    async def _give_back(self) -> None:
        """Nak what this instance holds, so another gets it now rather than after the ack wait.
        The fetches still open are awaited first: what they bring must be returned too."""
        self._may_fetch.set()  # fetchers waiting for room see `_closing` and end
        if self._fetchers:
            await asyncio.wait(self._fetchers, timeout=FETCH_WAIT_S + 1)
        with self._cond:
            messages = [message for _, message in self._pending] + list(self._held.values())
            self._pending.clear()
            self._held.clear()
        for message in messages:
            try:
                await message.nak()
            except Exception:
                continue
        if self._client is not None and self._client.is_connected:
            await self._client.flush(5)


def _delivery_of(message: Msg) -> tuple[int, int, int]:
    """(times delivered, stream sequence, timestamp ms) from the ack subject. The common
    `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ns>.<pending>` form is split here
    (nats-py's `metadata` builds dataclasses and a datetime per message); others go through it."""
    tokens = (message.reply or "").split(".")
    if len(tokens) == 9:
        return int(tokens[4]), int(tokens[5]), int(tokens[7]) // 1_000_000
    metadata = message.metadata
    stamp = int(metadata.timestamp.timestamp() * 1000) if metadata.timestamp else 0
    return metadata.num_delivered, metadata.sequence.stream, stamp


# -- log reader ----------------------------------------------------------------------------------
