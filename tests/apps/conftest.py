"""Fixtures for the workload tests: real brokers per test session, clean topics per test.

Kafka (KRaft) from the jars `scripts/brokers/kafka.sh install` caches, RabbitMQ from Debian
(`scripts/brokers/rabbitmq.sh`) and nats-server with JetStream (`scripts/brokers/nats.sh`); each
listens on free loopback ports and keeps its data in a throw-away folder. A missing install is a
set-up error ("run make setup"), never a skip.

The reliability suite is parametrised over the brokers: tests take the `broker` fixture (a
`BrokerUnderTest`) and never import broker specifics themselves. A broker's server starts the
first time a test needs it.
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
from tests.apps.support.servers import (  # noqa: E402
    NatsUnderTest,
    RabbitMQUnderTest,
    nats_server,  # noqa: F401  (a session fixture)
    rabbitmq_server,  # noqa: F401  (a session fixture)
    start_nats,
    start_rabbitmq,
)

BROKERS = ["kafka", "rabbitmq", "nats"]


@pytest.fixture(scope="session")
def kafka_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    try:
        server = LocalKafka(data_dir=tmp_path_factory.mktemp("kafka"))
        server.start()
    except KafkaUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(params=BROKERS)
def broker(request: pytest.FixtureRequest) -> Iterator[BrokerUnderTest]:
    """The broker under test, with a clean slate of pipeline topics."""
    under_test: BrokerUnderTest
    if request.param == "rabbitmq":
        under_test = RabbitMQUnderTest(request.getfixturevalue("rabbitmq_server"))
    elif request.param == "nats":
        under_test = NatsUnderTest(request.getfixturevalue("nats_server"))
    else:
        under_test = KafkaUnderTest(request.getfixturevalue("kafka_server"))
    under_test.reset_topics()
    yield under_test
    under_test.close()


@pytest.fixture(params=BROKERS)
def restartable_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BrokerUnderTest]:
    """A broker of its own, for tests that stop and restart it (same ports, same data)."""
    under_test: BrokerUnderTest
    if request.param == "rabbitmq":
        rabbitmq = start_rabbitmq(tmp_path / "rabbitmq")
        under_test, stop = RabbitMQUnderTest(rabbitmq), rabbitmq.close
    elif request.param == "nats":
        nats = start_nats(tmp_path / "nats")
        under_test, stop = NatsUnderTest(nats), nats.close
    else:
        try:
            kafka = LocalKafka(data_dir=tmp_path / "kafka")
            kafka.start()
        except KafkaUnavailable as error:
            pytest.fail(str(error), pytrace=False)
        under_test, stop = KafkaUnderTest(kafka), kafka.stop
    under_test.reset_topics()
    yield under_test
    under_test.close()
    stop()
