"""Fixtures for the workload tests: a real Kafka broker per test session, clean topics per test.

The broker is Apache Kafka (KRaft) from the jars `scripts/brokers/kafka.sh install` caches; it
listens on free loopback ports and keeps its data in a throw-away folder. A missing install is a
set-up error ("run make setup"), never a skip.

Part 2 parametrises the reliability suite over brokers: tests take the `broker` fixture (a
`BrokerUnderTest`) and never import Kafka specifics themselves.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from scripts.brokers.local_kafka import KafkaUnavailable, LocalKafka  # noqa: E402
from tests.apps.support.brokers import BrokerUnderTest, KafkaUnderTest  # noqa: E402


@pytest.fixture(scope="session")
def kafka_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    try:
        server = LocalKafka(data_dir=tmp_path_factory.mktemp("kafka"))
        server.start()
    except KafkaUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(params=["kafka"])
def broker(request: pytest.FixtureRequest, kafka_server: LocalKafka) -> Iterator[BrokerUnderTest]:
    """The broker under test, with a clean slate of pipeline topics (part 2 adds params)."""
    under_test = KafkaUnderTest(kafka_server)
    under_test.reset_topics()
    yield under_test
    under_test.close()


@pytest.fixture(params=["kafka"])
def restartable_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BrokerUnderTest]:
    """A broker of its own, for tests that stop and restart it (same ports, same data)."""
    try:
        server = LocalKafka(data_dir=tmp_path / "kafka")
        server.start()
    except KafkaUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    under_test = KafkaUnderTest(server)
    under_test.reset_topics()
    yield under_test
    under_test.close()
    server.stop()
