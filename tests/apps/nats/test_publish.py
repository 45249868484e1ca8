"""The runtime's burst publishing (apps/runtime/nats/publish_acks.py) against a real server:
every PubAck is credited to its burst, a de-duplicated publish counts as stored, and a publish
no stream takes is reported, not lost quietly."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import nats
import pytest

from event_platform.apps.runtime.nats import ensure_stream
from event_platform.apps.runtime.nats.publish_acks import AckCollector, Burst
from event_platform.apps.runtime.topology import stream_name
from scripts.brokers.local_nats import LocalNats

pytestmark = [pytest.mark.broker, pytest.mark.timeout(60)]


def run(server: LocalNats, test: Callable[[Any, AckCollector, str], Awaitable[None]]) -> None:
    async def main() -> None:
        client = await nats.connect(server.url)
        topic = f"pub-{uuid.uuid4().hex[:8]}"
        await ensure_stream(client.jetstream(), topic)
        collector = AckCollector(client)
        await collector.start()
        try:
            await test(client, collector, topic)
        finally:
            await client.close()

    asyncio.run(main())


async def send(collector: AckCollector, burst: Burst, subject: str, ids: list[str]) -> None:
    for n, event_id in enumerate(ids):
        await collector.publish(burst, subject, f"event {n}".encode(), {"Nats-Msg-Id": event_id})
    await asyncio.wait_for(burst.settled.wait(), 10)


async def _stored(client: Any, collector: AckCollector, topic: str) -> None:
    ids = [f"id-{n}" for n in range(300)]
    burst = Burst(len(ids))
    await send(collector, burst, topic, ids)
    assert burst.unacknowledged == 0 and burst.error is None
    again = Burst(2)
    await send(collector, again, topic, ids[:2])  # the same ids: de-duplicated, still acknowledged
    assert again.error is None
    info = await client.jetstream().stream_info(stream_name(topic))
    assert info.state.messages == 300


async def _no_stream(client: Any, collector: AckCollector, topic: str) -> None:
    burst = Burst(2)
    await send(collector, burst, f"nobody-{uuid.uuid4().hex[:6]}", ["a", "b"])
    assert burst.error is not None and "503 no responders" in burst.error


def test_every_acknowledgement_is_credited_and_duplicates_count_as_stored(nats_server: LocalNats) -> None:
    run(nats_server, _stored)


def test_a_publish_that_no_stream_takes_is_reported(nats_server: LocalNats) -> None:
    run(nats_server, _no_stream)
