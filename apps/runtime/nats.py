"""The NATS JetStream adapter, on nats-py.

nats-py is asyncio-only and the runtime is synchronous, so every adapter object runs one
connection on its own event-loop thread and the interface methods wait for its coroutines.

Topology (created on first use, idempotently):
- a topic `T` is a file-backed stream (name = T with `.` → `_`, subject = T) with a two-minute
  duplicate window: every publish carries `Nats-Msg-Id` = the CloudEvents id, so republishing an
  event (a redelivered batch re-emitting its outputs) is dropped by the server;
- consumer group `G` reading `T` is a durable pull consumer `G` on T's stream: explicit acks,
  `max_deliver`, `backoff` (redelivery delays after an ack timeout, starting at the session
  timeout), `max_ack_pending`;
- messages that reach `max_deliver` produce a max-deliveries advisory; every instance of `G`
  listens for it, loads the message from the stream and publishes it (once: its Nats-Msg-Id is
  derived from stream and sequence) with `dlq.*` headers to G's dead-letter topic (a stream).
- the effects journal is a key-value bucket (itself a stream): exact, durable reads and writes.

Consumers fetch in the background up to `prefetch` unacknowledged messages, tell the server
they are still working on what they hold (`+WPI`, like a Kafka heartbeat) so a slow batch is not
redelivered, ack a batch only after its outputs were acknowledged (`complete`), and nak what they
still hold on close so another instance gets it at once. A poll holding a redelivered message
reports it as an assignment change, so the processor rebuilds state and refreshes the journal.

CloudEvents go over the NATS binding (`ce-` headers, binary mode by default); the record key
travels as the `ce-partitionkey` header (the partitioning extension).
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import logging
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.kv import KeyValue

from event_platform.apps.runtime import deadletter
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
from event_platform.apps.runtime.bindings import NatsCodec
from event_platform.apps.runtime.envelope import ContentMode, HeaderValue, WireMessage, header_text
from event_platform.apps.runtime.events import EventRegistry
from event_platform.apps.runtime.jetstream_publish import AckCollector, Burst
from event_platform.apps.runtime.jetstream_pull import Puller
from event_platform.apps.runtime.recent import RECENT_IDS, RecentIds
from event_platform.apps.runtime.retry import connect_with_backoff_async
from event_platform.apps.runtime.settings import NatsSettings
from event_platform.apps.runtime.topology import stream_name

log = logging.getLogger(__name__)

T = TypeVar("T")
KEY_HEADER = "ce-partitionkey"
ID_HEADER = "ce-id"
MSG_ID = "Nats-Msg-Id"
DUPLICATE_WINDOW_S = 120.0
PUBLISH_TIMEOUT_S = 10.0
MAX_IN_FLIGHT = 1_000
FETCH_WAIT_S = 0.5
FETCH_BATCH = 500
ADVISORY = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{consumer}"
NATS_ERRORS = (nats.errors.Error, asyncio.TimeoutError, OSError)


# -- the event-loop thread -------------------------------------------------------------------


class _Loop:
    """An asyncio loop on a daemon thread; `run` waits for a coroutine from any thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float, what: str) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError as error:
            future.cancel()
            raise BrokerError(f"{what} timed out after {timeout_s}s") from error
        except NATS_ERRORS as error:
            raise BrokerError(f"{what} failed: {error!r}") from error

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def stop(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(_cancel_tasks(), self.loop).result(5)
        except Exception:  # stopping anyway
            log.debug("cancelling the loop's tasks failed", exc_info=True)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()


async def _cancel_tasks() -> None:
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def connect(settings: NatsSettings, name: str) -> NatsClient:
    """A connection that reconnects forever on its own; the first connect is retried with
    exponential backoff and full jitter for up to `connect_timeout_s`."""

    async def on_error(error: Exception) -> None:
        log.debug("nats client error", extra={"error": repr(error)})

    async def on_disconnected() -> None:
        log.info("disconnected from NATS")

    async def on_reconnected() -> None:
        log.info("reconnected to NATS")

    options: dict[str, Any] = {
        "servers": settings.url.split(","),
        "name": name,
        "connect_timeout": 2,
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "error_cb": on_error,
        "disconnected_cb": on_disconnected,
        "reconnected_cb": on_reconnected,
    }
    if settings.user:
        options.update(user=settings.user, password=settings.password)
    if settings.credentials_file:
        options["user_credentials"] = str(settings.credentials_file)
    if settings.ca_file:
        options["tls"] = ssl.create_default_context(cafile=str(settings.ca_file))
    # Each attempt is bounded: with unlimited reconnect attempts nats-py retries a first connect forever.
    return await connect_with_backoff_async(
        lambda remaining: asyncio.wait_for(nats.connect(**options), timeout=max(0.5, remaining)), NATS_ERRORS,
        settings.connect_timeout_s, lambda error: BrokerError(f"cannot connect to NATS at {settings.url}: {error!r}"))


async def ensure_stream(js: JetStreamContext, topic: str, replicas: int = 1) -> str:
    """The topic's stream: the platform's (declared through NACK) if it exists, else a new one."""
    name = stream_name(topic)
    try:
        await js.stream_info(name)
    except nats.js.errors.NotFoundError:
        await js.add_stream(api.StreamConfig(
            name=name, subjects=[topic], storage=api.StorageType.FILE, retention=api.RetentionPolicy.LIMITS,
            duplicate_window=DUPLICATE_WINDOW_S, allow_direct=True, num_replicas=replicas,
        ))
    return name


# -- wire mapping --------------------------------------------------------------------------------


def headers_of(message: WireMessage) -> dict[str, str]:
    headers = {name: header_text(value) for name, value in message.headers}
    if message.key is not None:
        headers[KEY_HEADER] = message.key.decode("utf-8", "surrogateescape")
    if ID_HEADER in headers:
        headers[MSG_ID] = headers[ID_HEADER]
    return headers


def wire_of(data: bytes, headers: dict[str, str] | None) -> WireMessage:
    """Header values stay text, as nats-py decoded them (see HeaderValue)."""
    key: bytes | None = None
    pairs: list[tuple[str, HeaderValue]] = []
    for name, value in (headers or {}).items():
        if name == KEY_HEADER:
            key = value.encode("utf-8", "surrogateescape")
        elif not name.startswith("Nats-"):
            pairs.append((name, value))
    return WireMessage(value=data, key=key, headers=tuple(pairs))


async def publish_all(js: JetStreamContext, records: Sequence[OutboundRecord]) -> None:
    """Publish concurrently and return once JetStream acknowledged (stored) every one."""
    acks = [js.publish(r.topic, r.message.value, timeout=PUBLISH_TIMEOUT_S, headers=headers_of(r.message))
            for r in records]
    for result in await asyncio.gather(*acks, return_exceptions=True):
        if isinstance(result, BaseException):
            raise BrokerError(f"publishing failed: {result!r}") from result


# -- publisher -----------------------------------------------------------------------------------


class NatsPublisher(Publisher):
    """JetStream publishing with every PubAck awaited (stored, de-duplicated by event id).

    `publish` hands records to the event-loop thread in bursts: one cross-thread wake-up drains
    whatever the caller queued meanwhile, so a fast producer pays for the hand-over once per
    burst, not per event. A burst goes out in order with its PubAcks collected on one reply
    subscription (apps/runtime/jetstream_publish.py), and is settled as a whole once every
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


class NatsLogReader(LogReader):
    """Reads topics' streams from the first message with ordered consumers; `catch_up` stops at
    each stream's last sequence as of the call (exact, from the stream's state)."""

    def __init__(self, settings: NatsSettings, topics: Sequence[str]) -> None:
        self._topics = list(topics)
        self._positions = dict.fromkeys(self._topics, 0)
        self._subscriptions: dict[str, JetStreamContext.PushSubscription] = {}
        self._loop = _Loop("nats-reader")
        self._client: NatsClient | None = None
        try:
            self._loop.run(self._open(settings), settings.connect_timeout_s + 30, f"reading {self._topics}")
        except BrokerError:
            _close(self._loop, self._client)
            raise

    async def _open(self, settings: NatsSettings) -> None:
        self._client = await connect(settings, "reader")
        self._js = self._client.jetstream()
        for topic in self._topics:
            stream = await ensure_stream(self._js, topic, settings.stream_replicas)
            self._subscriptions[topic] = await self._js.subscribe(
                topic, stream=stream, ordered_consumer=True, deliver_policy=api.DeliverPolicy.ALL)

    async def _ends(self) -> dict[str, int]:
        return {topic: (await self._js.stream_info(stream_name(topic))).state.last_seq for topic in self._topics}

    async def _batch(self, topic: str, end: int, deadline: float) -> list[InboundRecord]:
        subscription = self._subscriptions[topic]
        records: list[InboundRecord] = []
        while self._positions[topic] < end and len(records) < 1_000:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrokerError(f"reading {topic} did not reach sequence {end}")
            message = await subscription.next_msg(timeout=min(remaining, 5.0))
            sequence = message.metadata.sequence.stream
            self._positions[topic] = sequence
            records.append(InboundRecord(topic=topic, partition=0, offset=sequence,
                                         message=wire_of(message.data, message.headers)))
        return records

    def catch_up(self, timeout_s: float = 60.0) -> Iterator[InboundRecord]:
        deadline = time.monotonic() + timeout_s
        ends = self._loop.run(self._ends(), timeout_s, f"reading the state of {self._topics}")
        for topic, end in ends.items():
            while self._positions[topic] < end:
                yield from self._loop.run(self._batch(topic, end, deadline), timeout_s + 5, f"reading {topic}")

    def close(self) -> None:
        _close(self._loop, self._client)


# -- effects journal -----------------------------------------------------------------------------


class NatsEffectsJournal(EffectsJournal):
    """Entries in a JetStream key-value bucket (named after the journal topic). Reads go to the
    server, so every instance sees what any other has journaled; `refresh` has nothing to do."""

    def __init__(self, settings: NatsSettings, topic: str) -> None:
        self.topic = topic
        self._loop = _Loop("nats-journal")
        self._client: NatsClient | None = None
        try:
            self._kv: KeyValue = self._loop.run(self._open(settings), settings.connect_timeout_s + 10,
                                                f"opening the effects journal {topic}")
        except BrokerError:
            _close(self._loop, self._client)
            raise

    async def _open(self, settings: NatsSettings) -> KeyValue:
        self._client = await connect(settings, "journal")
        js = self._client.jetstream()
        bucket = stream_name(self.topic)
        try:
            return await js.key_value(bucket)
        except nats.js.errors.BucketNotFoundError:
            return await js.create_key_value(bucket=bucket, history=1, storage=api.StorageType.FILE,
                                            replicas=settings.stream_replicas)

    @staticmethod
    def _key(key: str) -> str:
        # Bucket keys allow [-/_=.a-zA-Z0-9] only; idempotency keys may hold anything.
        return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")

    async def _get(self, key: str) -> str | None:
        try:
            entry = await self._kv.get(self._key(key))
        except nats.js.errors.KeyNotFoundError:
            return None
        return entry.value.decode() if entry.value is not None else None

    def get(self, key: str) -> str | None:
        return self._loop.run(self._get(key), PUBLISH_TIMEOUT_S + 5, f"reading effect {key}")

    def put(self, key: str, result: str) -> None:
        self._loop.run(self._kv.put(self._key(key), result.encode()), PUBLISH_TIMEOUT_S + 5,
                       f"journaling effect {key}")

    def refresh(self) -> None:
        return None

    def close(self) -> None:
        _close(self._loop, self._client)


# -- broker --------------------------------------------------------------------------------------


class NatsBroker(Broker):
    name = "nats"

    def __init__(self, settings: NatsSettings, *, dead_letter_topic: Callable[[str], str] | None = None,
                 ack_wait_s: float = 10.0, prefetch: int = 500) -> None:
        self.settings = settings
        self._dead_letter_topic: Callable[[str], str] = dead_letter_topic or (lambda group: f"{group}.dlq")
        self.ack_wait_s = ack_wait_s
        self.prefetch = prefetch

    def codec(self, registry: EventRegistry, mode: ContentMode = ContentMode.BINARY) -> NatsCodec:
        return NatsCodec(registry, mode)

    def consumer(
        self, group: str, topics: Sequence[str], on_assigned: Callable[[], None] | None = None
    ) -> NatsConsumer:
        return NatsConsumer(self.settings, group, topics, dead_letter_topic=self._dead_letter_topic(group),
                            ack_wait_s=self.ack_wait_s, prefetch=self.prefetch, on_assigned=on_assigned)

    def publisher(self) -> NatsPublisher:
        return NatsPublisher(self.settings)

    def reader(self, topics: Sequence[str]) -> NatsLogReader:
        return NatsLogReader(self.settings, topics)

    def journal(self, name: str) -> NatsEffectsJournal:
        return NatsEffectsJournal(self.settings, name)
