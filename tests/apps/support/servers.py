"""Real RabbitMQ and NATS servers for the workload tests, and their `BrokerUnderTest` views.

Session fixtures start one private instance of each on free loopback ports with throw-away data
(RabbitMQ: own node name, AMQP/management/distribution ports, own epmd port, own mnesia/log/config
and Erlang cookie; NATS: `-a 127.0.0.1 -p <port> -m <monitor> -js -sd <tmp>`), and stop them
after the session. A missing install is a set-up failure naming the fix, never a skip.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import nats
import nats.js.errors
import pika
import pytest

from event_platform.apps.orders.topics import TopicSpec, pipeline_topics
from event_platform.apps.runtime.adapter import InboundRecord, OutboundRecord
from event_platform.apps.runtime.envelope import WireMessage
from event_platform.apps.runtime.nats import NatsBroker, NatsLogReader, NatsPublisher
from event_platform.apps.runtime.rabbitmq import (
    RabbitMQBroker,
    RabbitMQLogReader,
    RabbitMQPublisher,
    declare_topics,
)
from event_platform.apps.runtime.settings import NatsSettings, RabbitMQSettings
from event_platform.apps.runtime.topology import group_queue, stream_name
from scripts.brokers.local_nats import LocalNats, NatsUnavailable
from scripts.brokers.local_rabbitmq import LocalRabbitMQ, RabbitMQUnavailable
from tests.apps.support.brokers import BrokerUnderTest

# -- servers -------------------------------------------------------------------------------------


def start_rabbitmq(data_dir: Path) -> LocalRabbitMQ:
    try:
        server = LocalRabbitMQ(data_dir=data_dir)
        server.start()
    except RabbitMQUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    return server


def start_nats(data_dir: Path) -> LocalNats:
    try:
        server = LocalNats(data_dir=data_dir)
        server.start()
    except NatsUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    return server


@pytest.fixture(scope="session")
def rabbitmq_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRabbitMQ]:
    server = start_rabbitmq(tmp_path_factory.mktemp("rabbitmq"))
    yield server
    server.close()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNats]:
    server = start_nats(tmp_path_factory.mktemp("nats"))
    yield server
    server.close()


# -- RabbitMQ ------------------------------------------------------------------------------------


class RabbitMQUnderTest(BrokerUnderTest):
    name = "rabbitmq"
    log_positions = False  # queue deliveries are numbered by delivery tag, not stream offset

    def __init__(self, server: LocalRabbitMQ, delivery_limit: int = 5) -> None:
        self.server = server
        self.settings = RabbitMQSettings(url=server.url, delivery_limit=delivery_limit)
        self._publisher: RabbitMQPublisher | None = None

    def service_env(self) -> dict[str, str]:
        return {"BROKER": "rabbitmq", "RABBITMQ_URL": self.server.url,
                "RABBITMQ_DELIVERY_LIMIT": str(self.settings.delivery_limit)}

    def runtime_broker(self, transactional_id: str | None = None) -> RabbitMQBroker:
        return RabbitMQBroker(self.settings)

    def management(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(f"{self.server.management_url}/api/{path}", method=method, headers={
            "Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def reset_topics(self, specs: Sequence[TopicSpec] | None = None) -> None:
        """Delete every queue, stream and exchange (but the built-in ones), declare the topics."""
        for queue in self.management("queues"):
            self.management(f"queues/{_quote(queue['vhost'])}/{_quote(queue['name'])}", "DELETE")
        for exchange in self.management("exchanges"):
            if exchange["name"] and not exchange["name"].startswith("amq."):
                self.management(f"exchanges/{_quote(exchange['vhost'])}/{_quote(exchange['name'])}", "DELETE")
        declare_topics(self.settings, [spec.name for spec in (specs or pipeline_topics())])

    def publish_raw(self, topic: str, value: bytes, key: bytes | None = None,
                    headers: Sequence[tuple[str, bytes]] = ()) -> None:
        if self._publisher is None:
            self._publisher = RabbitMQPublisher(self.settings)
        self._publisher.publish_and_wait(OutboundRecord(topic, WireMessage(value, key, tuple(headers))), 30)

    def read_all(self, topic: str) -> list[InboundRecord]:
        reader = RabbitMQLogReader(self.settings, [topic])
        try:
            return list(reader.catch_up())
        finally:
            reader.close()

    def committed(self, group: str, topic: str) -> int:
        """Acknowledged by the group = written to the topic minus what is still in the group's queue."""
        connection = pika.BlockingConnection(pika.URLParameters(self.server.url))
        try:
            waiting = connection.channel().queue_declare(group_queue(group, topic), passive=True).method.message_count
        finally:
            connection.close()
        return self.end_offset(topic) - int(waiting)

    def end_offset(self, topic: str) -> int:
        return len(self.read_all(topic))

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()

    def close(self) -> None:
        if self._publisher is not None:
            self._publisher.close()


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


# -- NATS ----------------------------------------------------------------------------------------


class NatsUnderTest(BrokerUnderTest):
    name = "nats"

    def __init__(self, server: LocalNats, max_deliver: int = 5) -> None:
        self.server = server
        self.settings = NatsSettings(url=server.url, max_deliver=max_deliver)
        self._publisher: NatsPublisher | None = None

    def service_env(self) -> dict[str, str]:
        return {"BROKER": "nats", "NATS_URL": self.server.url, "NATS_MAX_DELIVER": str(self.settings.max_deliver)}

    def runtime_broker(self, transactional_id: str | None = None) -> NatsBroker:
        return NatsBroker(self.settings, ack_wait_s=6.0)

    def _jetstream(self, action: Any) -> Any:
        async def run() -> Any:
            client = await nats.connect(self.server.url)
            try:
                return await action(client.jetstream())
            finally:
                await client.close()

        return asyncio.run(run())

    def reset_topics(self, specs: Sequence[TopicSpec] | None = None) -> None:
        """Delete every stream (key-value buckets included), create the topics' streams."""
        names = [spec.name for spec in (specs or pipeline_topics())]

        async def reset(js: Any) -> None:
            for info in await js.streams_info():
                await js.delete_stream(info.config.name)
            from event_platform.apps.runtime.nats import ensure_stream

            for name in names:
                await ensure_stream(js, name)

        self._jetstream(reset)

    def publish_raw(self, topic: str, value: bytes, key: bytes | None = None,
                    headers: Sequence[tuple[str, bytes]] = ()) -> None:
        if self._publisher is None:
            self._publisher = NatsPublisher(self.settings)
        self._publisher.publish_and_wait(OutboundRecord(topic, WireMessage(value, key, tuple(headers))), 30)

    def read_all(self, topic: str) -> list[InboundRecord]:
        reader = NatsLogReader(self.settings, [topic])
        try:
            return list(reader.catch_up())
        finally:
            reader.close()

    def committed(self, group: str, topic: str) -> int:
        async def floor(js: Any) -> int:
            try:
                info = await js.consumer_info(stream_name(topic), group)
            except nats.js.errors.NotFoundError:
                return 0
            return int(info.ack_floor.stream_seq)

        return int(self._jetstream(floor))

    def end_offset(self, topic: str) -> int:
        async def last(js: Any) -> int:
            return int((await js.stream_info(stream_name(topic))).state.last_seq)

        return int(self._jetstream(last))

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()

    def close(self) -> None:
        if self._publisher is not None:
            self._publisher.close()


def wait_until(condition: Any, what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.1)
