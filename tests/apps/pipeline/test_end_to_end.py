"""The whole order saga on a real broker: N orders in → exactly the expected outcomes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest

from tests.apps.support.pipeline import REPO, Pipeline, order

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
        status, reply = pipeline.post_order(body, idempotency_key=f"e2e-{n}")
        assert status == 202, reply
        expected[reply["order_id"]] = outcome
    # A client retrying a POST with the same Idempotency-Key gets the same order, not a second.
    status, retried = pipeline.post_order(order(0), idempotency_key="e2e-0")
    assert status == 202 and retried["order_id"] in expected

    views = pipeline.wait_terminal(list(expected))
    assert len(pipeline.orders()) == len(expected)

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


def test_invalid_orders_are_refused_with_the_fields_to_fix(pipeline: Pipeline) -> None:
    pipeline.start("order-service")
    body = order(1)
    body["items"][0]["quantity"] = 0
    body["shipping_address"]["country"] = "Atlantis"
    status, reply = pipeline.post_order(body)
    assert status == 422
    assert {p["field"] for p in reply["problems"]} == {"items.0.quantity", "shipping_address.country"}


def test_the_load_generator_drives_every_saga_path_and_exits_cleanly(pipeline: Pipeline) -> None:
    pipeline.start()
    api = pipeline.services["order-service"].api_port
    done = subprocess.run(
        [sys.executable, "-m", "event_platform.apps.generator", "--count", "20", "--rate", "50", "--url", f"http://127.0.0.1:{api}"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), "GENERATOR_RUN_ID": "t1"},
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    pipeline.wait_for(lambda: len(pipeline.orders()) == 20, "20 orders in the read model")
    views = pipeline.wait_terminal(list(pipeline.orders()))
    reasons = Counter(view["cancel_reason"] or view["status"] for view in views.values())
    assert reasons == {"CONFIRMED": 15, "payment_declined": 3, "out_of_stock": 2}
