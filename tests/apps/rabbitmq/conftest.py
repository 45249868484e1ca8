from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from event_platform.apps.runtime.rabbitmq import RabbitMQBroker
from event_platform.apps.runtime.settings import RabbitMQSettings
from scripts.brokers.local_rabbitmq import LocalRabbitMQ
from tests.apps.support.servers import RabbitMQUnderTest, start_rabbitmq


@pytest.fixture
def rabbitmq(rabbitmq_server: LocalRabbitMQ) -> Iterator[RabbitMQUnderTest]:
    under_test = RabbitMQUnderTest(rabbitmq_server, delivery_limit=2)
    yield under_test
    under_test.close()


@pytest.fixture
def adapter(rabbitmq: RabbitMQUnderTest) -> RabbitMQBroker:
    """The runtime's adapter with a delivery limit of 2 (3 deliveries, then dead-lettered)."""
    return RabbitMQBroker(rabbitmq.settings, prefetch=50)


@pytest.fixture
def names() -> dict[str, str]:
    """Fresh topic and group names, so tests share the session's server without interfering."""
    suffix = uuid.uuid4().hex[:8]
    return {"topic": f"t-{suffix}", "out": f"out-{suffix}", "group": f"g-{suffix}"}


@pytest.fixture
def own_rabbitmq(tmp_path: Path) -> Iterator[tuple[LocalRabbitMQ, RabbitMQSettings]]:
    """A node of the test's own, for stopping and restarting it."""
    server = start_rabbitmq(tmp_path / "rabbitmq")
    yield server, RabbitMQSettings(url=server.url, delivery_limit=2, connect_timeout_s=3)
    server.close()
