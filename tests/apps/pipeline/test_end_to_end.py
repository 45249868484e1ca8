"""The whole order saga on a real broker: N orders in → exactly the expected outcomes."""

from __future__ import annotations

import pytest

from tests.apps.support.pipeline import Pipeline, order

pytestmark = [pytest.mark.broker, pytest.mark.timeout(240)]


def test_orders_end_confirmed_or_cancelled_with_each_effect_exactly_once(pipeline: Pipeline) -> None:
    pipeline.start()
    expected: dict[str, tuple[str, str | None]] = {}
    for n in range(30):
        if n % 10 == 3:
            body, outcome = order(n, token="tok_declined"), ("CANCELLED", "payment_declined")
        elif n % 10 == 7:
            body, outcome = order(n, sku="SKU-RARE"), ("CANCELLED", "out_of_stock")
        else:
            body, outcome = order(n), ("CONFIRMED", None)
        status, reply = pipeline.post_order(body)
        assert status == 202, reply
        expected[reply["order_id"]] = outcome

    views = pipeline.wait_terminal(list(expected))

    assert {o: (views[o]["status"], views[o]["cancel_reason"]) for o in expected} == expected
    confirmed = {o for o, (status, _) in expected.items() if status == "CONFIRMED"}
    declined = {o for o, (_, reason) in expected.items() if reason == "payment_declined"}
    assert pipeline.effects("payments") == dict.fromkeys(confirmed | declined, 1)
    assert pipeline.effects("shipments") == dict.fromkeys(confirmed, 1)
    pipeline.wait_for(lambda: len(pipeline.effects("mail")) == len(expected), "one mail per order")
    assert pipeline.effects("mail") == dict.fromkeys(expected, 1)
    for system in ("payments", "shipments", "mail"):
        assert pipeline.redundant_requests(system) == 0
    assert all(views[o]["tracking_id"] for o in confirmed)
