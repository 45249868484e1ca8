"""kill -9 in the middle of the stream: nothing lost, no side effect repeated."""

from __future__ import annotations

import signal

import pytest

from tests.apps.support.pipeline import Pipeline, order

pytestmark = [pytest.mark.broker, pytest.mark.timeout(240)]


def test_payment_service_killed_mid_stream_resumes_without_losing_or_repeating_charges(pipeline: Pipeline) -> None:
    pipeline.start()
    # Slow charges keep a batch open (processed, journaled, not yet committed) most of the time.
    pipeline.kill("payment-service", signal.SIGTERM)
    pipeline.start("payment-service", SIMULATED_LATENCY_MS="40", MAX_POLL_RECORDS="50")
    order_ids = []
    for n in range(60):
        status, reply = pipeline.post_order(order(n))
        assert status == 202, reply
        order_ids.append(reply["order_id"])
    pipeline.wait_for(lambda: len(pipeline.effects("payments")) >= 15, "some charges")

    assert pipeline.kill("payment-service", signal.SIGKILL) == -signal.SIGKILL
    charged_before_restart = set(pipeline.effects("payments"))
    assert len(charged_before_restart) < len(order_ids), "killed too late to be mid-stream"
    pipeline.start("payment-service", SIMULATED_LATENCY_MS="5")

    views = pipeline.wait_terminal(order_ids, timeout_s=120)
    assert {views[o]["status"] for o in order_ids} == {"CONFIRMED"}
    assert pipeline.effects("payments") == dict.fromkeys(order_ids, 1)
    assert pipeline.effects("shipments") == dict.fromkeys(order_ids, 1)
    # The runtime's journal answers redeliveries; only a request cut off between the provider's
    # answer and the journal write may reach the provider again (and its idempotency key holds).
    assert pipeline.redundant_requests("payments") <= 1


def test_a_restarted_inventory_service_rebuilds_its_ledger_from_its_own_events(pipeline: Pipeline) -> None:
    pipeline.start()
    first = [pipeline.post_order(order(n, sku="SKU-2", quantity=2))[1]["order_id"] for n in range(5)]
    pipeline.wait_terminal(first)

    pipeline.kill("inventory-service", signal.SIGKILL)
    pipeline.start("inventory-service", INVENTORY_INITIAL_STOCK='{"SKU-2": 13}')
    # 13 units - 5 orders x 2 = 3 left: one more order of 2 fits, the next does not.
    fits = pipeline.post_order(order(100, sku="SKU-2", quantity=2))[1]["order_id"]
    pipeline.wait_terminal([fits])
    too_many = pipeline.post_order(order(101, sku="SKU-2", quantity=2))[1]["order_id"]
    views = pipeline.wait_terminal([too_many])

    assert views[fits]["status"] == "CONFIRMED"
    assert (views[too_many]["status"], views[too_many]["cancel_reason"]) == ("CANCELLED", "out_of_stock")
