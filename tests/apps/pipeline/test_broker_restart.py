"""The broker goes away mid-run and comes back: every service recovers and the saga finishes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apps.support.brokers import BrokerUnderTest
from tests.apps.support.pipeline import Pipeline, order

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]


@pytest.fixture
def pipeline_on_own_broker(restartable_broker: BrokerUnderTest, tmp_path: Path) -> Iterator[Pipeline]:
    running = Pipeline(restartable_broker, tmp_path / "pipeline")
    yield running
    running.stop_all()


def post_until_accepted(pipeline: Pipeline, n: int, timeout_s: float = 60) -> str:
    """Clients retry a 503 (the API answers so while it cannot reach the broker)."""
    deadline = time.monotonic() + timeout_s
    while True:
        status, reply = pipeline.post_order(order(n), idempotency_key=f"order-{n}")
        if status == 202:
            return str(reply["order_id"])
        assert status == 503 and time.monotonic() < deadline, reply
        time.sleep(0.5)


def test_services_recover_from_a_broker_restart_and_finish_every_order(
    pipeline_on_own_broker: Pipeline, restartable_broker: BrokerUnderTest
) -> None:
    pipeline = pipeline_on_own_broker
    # Slow providers keep every step busy when the broker goes away.
    pipeline.start(SIMULATED_LATENCY_MS="100")
    before = [post_until_accepted(pipeline, n) for n in range(20)]
    pipeline.wait_for(lambda: len(pipeline.effects("payments")) >= 3, "the saga under way")

    restartable_broker.stop()
    inventory = pipeline.services["inventory-service"]
    pipeline.wait_for(lambda: not inventory.ready(), "inventory-service to report not ready", 30)
    restartable_broker.start()
    pipeline.wait_ready(*pipeline.services)
    after = [post_until_accepted(pipeline, n) for n in range(20, 30)]

    order_ids = before + after
    views = pipeline.wait_terminal(order_ids, timeout_s=180)
    assert {views[o]["status"] for o in order_ids} == {"CONFIRMED"}
    assert pipeline.effects("payments") == dict.fromkeys(order_ids, 1)
    assert pipeline.effects("shipments") == dict.fromkeys(order_ids, 1)
    pipeline.wait_for(lambda: len(pipeline.effects("mail")) == len(order_ids), "every mail")
    assert pipeline.effects("mail") == dict.fromkeys(order_ids, 1)
    assert all(service.process.poll() is None for service in pipeline.services.values())
