from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from event_platform.apps.runtime.nats import NatsBroker
from event_platform.apps.runtime.settings import NatsSettings
from scripts.brokers.local_nats import LocalNats
from tests.apps.support.servers import NatsUnderTest, start_nats


@pytest.fixture
def jetstream(nats_server: LocalNats) -> Iterator[NatsUnderTest]:
    under_test = NatsUnderTest(nats_server, max_deliver=3)
    yield under_test
    under_test.close()


@pytest.fixture
def adapter(jetstream: NatsUnderTest) -> NatsBroker:
    """The runtime's adapter: max_deliver 3, a 2 s ack wait (redelivery of what a dead consumer held)."""
    return NatsBroker(jetstream.settings, ack_wait_s=2.0, prefetch=50)


@pytest.fixture
def names() -> dict[str, str]:
    """Fresh topic and group names, so tests share the session's server without interfering."""
    suffix = uuid.uuid4().hex[:8]
    return {"topic": f"t-{suffix}", "out": f"out-{suffix}", "group": f"g-{suffix}"}


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[tuple[LocalNats, NatsSettings]]:
    """A server of the test's own, for stopping and restarting it."""
    server = start_nats(tmp_path / "nats")
    yield server, NatsSettings(url=server.url, max_deliver=3, connect_timeout_s=3)
    server.close()
