"""Reading a topic's stream from the start, and the effects journal as a key-value bucket."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator, Sequence

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext, api
from nats.js.kv import KeyValue

from event_platform.apps.runtime.adapter import (
    BrokerError,
    EffectsJournal,
    InboundRecord,
    LogReader,
)
from event_platform.apps.runtime.nats.connection import PUBLISH_TIMEOUT_S, _Loop, connect, ensure_stream
from event_platform.apps.runtime.nats.publisher import _close
from event_platform.apps.runtime.nats.wire import wire_of
from event_platform.apps.runtime.settings import NatsSettings
from event_platform.apps.runtime.topology import stream_name


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
