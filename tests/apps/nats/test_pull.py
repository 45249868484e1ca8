"""The runtime's JetStream pull requests (apps/runtime/nats/pull.py) against a real server:
stored messages arrive as one batch, a waiting pull hands a new message over at once, and a
refused pull is an error rather than an endless quiet wait."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import nats
import pytest
from nats.aio.msg import Msg
from nats.js import api

from event_platform.apps.runtime.nats import ensure_stream
from event_platform.apps.runtime.nats.pull import Puller, PullFailed
from scripts.brokers.local_nats import LocalNats

pytestmark = [pytest.mark.broker, pytest.mark.timeout(60)]


class Harness:
    def __init__(self, client: Any, topic: str, stream: str, group: str) -> None:
        self.client, self.topic, self.stream, self.group = client, topic, stream, group
        self.batches: list[list[Msg]] = []
        self.puller = Puller(client, stream, group, self.batches.append)

    async def publish(self, count: int) -> None:
        js = self.client.jetstream()
        for n in range(count):
            await js.publish(self.topic, f"event {n}".encode())

    @property
    def delivered(self) -> list[bytes]:
        return [message.data for batch in self.batches for message in batch]


def run(server: LocalNats, test: Callable[[Harness], Awaitable[None]]) -> None:
    async def main() -> None:
        client = await nats.connect(server.url)
        topic = f"pull-{uuid.uuid4().hex[:8]}"
        stream = await ensure_stream(client.jetstream(), topic)
        await client.jetstream().add_consumer(stream, api.ConsumerConfig(
            durable_name="g", ack_policy=api.AckPolicy.EXPLICIT, filter_subject=topic))
        harness = Harness(client, topic, stream, "g")
        await harness.puller.start()
        try:
            await test(harness)
        finally:
            await client.close()

    asyncio.run(main())


async def _stored(h: Harness) -> None:
    await h.publish(25)
    assert await h.puller.pull(10, 0.5) == 10
    assert await h.puller.pull(100, 0.5) == 15
    # A pull over what is stored ends at the server's "no messages", in one piece each.
    assert [len(batch) for batch in h.batches] == [10, 15]
    assert h.delivered == [f"event {n}".encode() for n in range(25)]


async def _waiting(h: Harness) -> None:
    started = time.monotonic()
    pull = asyncio.ensure_future(h.puller.pull(50, 3.0))
    await asyncio.sleep(0.3)  # nothing stored: the pull now waits on the server
    await h.publish(1)
    while not h.batches:
        await asyncio.sleep(0.01)
    handed_over = time.monotonic() - started
    assert h.delivered == [b"event 0"]
    assert handed_over < 1.5, f"the waiting pull held the message back for {handed_over:.2f}s"
    assert await pull == 1


async def _nothing(h: Harness) -> None:
    started = time.monotonic()
    assert await h.puller.pull(10, 0.4) == 0
    assert 0.3 < time.monotonic() - started < 2.0  # ended by the server's request timeout (408)
    assert h.batches == []


async def _refused(h: Harness) -> None:
    await h.client.jetstream().delete_consumer(h.stream, h.group)
    started = time.monotonic()
    with pytest.raises(PullFailed, match="status 503 no responders"):
        await h.puller.pull(1, 5.0)
    assert time.monotonic() - started < 1.0  # answered at once, not after the wait


def test_stored_messages_arrive_in_order_as_one_batch_per_pull(nats_server: LocalNats) -> None:
    run(nats_server, _stored)


def test_a_waiting_pull_hands_a_new_message_over_as_it_arrives(nats_server: LocalNats) -> None:
    run(nats_server, _waiting)


def test_a_pull_with_nothing_stored_ends_after_its_wait(nats_server: LocalNats) -> None:
    run(nats_server, _nothing)


def test_a_pull_for_a_deleted_consumer_fails(nats_server: LocalNats) -> None:
    run(nats_server, _refused)
