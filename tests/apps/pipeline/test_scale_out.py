"""Two instances of a consumer share its partitions; one joins, one dies: still once each."""

from __future__ import annotations

import signal

import pytest

from tests.apps.support.pipeline import Pipeline, order

pytestmark = [pytest.mark.broker, pytest.mark.timeout(240)]


def test_charges_stay_exactly_once_across_a_scale_out_and_a_killed_replica(pipeline: Pipeline) -> None:
    pipeline.start()
    # The replacement inventory-service writes structured-mode CloudEvents: readers accept both.
    pipeline.kill("inventory-service", signal.SIGTERM)
    pipeline.start("inventory-service", CONTENT_MODE="structured")
    pipeline.kill("payment-service", signal.SIGTERM)
    pipeline.start("payment-service", SIMULATED_LATENCY_MS="100", MAX_POLL_RECORDS="10")
    order_ids = [pipeline.post_order(order(n))[1]["order_id"] for n in range(60)]
    pipeline.wait_for(lambda: len(pipeline.effects("payments")) >= 10, "charging under way")

    second = pipeline.start_replica("payment-service", "payment-b", SIMULATED_LATENCY_MS="100", MAX_POLL_RECORDS="10")
    pipeline.wait_for(lambda: pipeline.services[second].ready(), "the second replica to get partitions")
    pipeline.wait_for(lambda: len(pipeline.effects("payments")) >= 35, "both replicas charging")
    assert pipeline.kill("payment-service", signal.SIGKILL) == -signal.SIGKILL

    views = pipeline.wait_terminal(order_ids, timeout_s=120)
    assert {views[o]["status"] for o in order_ids} == {"CONFIRMED"}
    assert pipeline.effects("payments") == dict.fromkeys(order_ids, 1)
    assert pipeline.effects("shipments") == dict.fromkeys(order_ids, 1)
    assert pipeline.redundant_requests("payments") <= 1
    assert pipeline.services[second].metric("events_in_total", type="io.eventplatform.inventory.reserved.v1") > 0
