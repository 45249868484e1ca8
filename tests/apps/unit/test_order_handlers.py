"""The order saga's pure decisions and the read model, without a broker."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from event_platform.apps.orders import inventory_service, payment_service, saga, shipping_service
from event_platform.apps.orders.api import order_created
from event_platform.apps.orders.events import (
    ORDER_EVENTS,
    LineItem,
    OrderCancelledV1,
    OrderConfirmedV1,
    OrderCreatedV1,
    OrderDetails,
    PaymentAuthorizedV1,
    PaymentDeclinedV1,
    ShipmentScheduledV1,
    StockRejectedV1,
    StockReleasedV1,
    StockReservedV1,
)
from event_platform.apps.orders.inventory_service import InventoryService, StockLedger
from event_platform.apps.orders.notification_service import notification_for
from event_platform.apps.orders.ports import ChargeResult, ShipmentBooking
from event_platform.apps.orders.read_model import OrderView, apply
from event_platform.apps.runtime.envelope import Envelope, KafkaCodec
from tests.apps.support.memory import MemoryBroker
from tests.apps.support.pipeline import order


def details(**changes: Any) -> OrderDetails:
    return OrderDetails.model_validate({**order(1), **changes})


def created(order_id: str = "o1", **changes: Any) -> OrderCreatedV1:
    return OrderCreatedV1(order_id=order_id, order=details(**changes))


def items(*lines: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"sku": sku, "quantity": q, "unit_price_cents": 100} for sku, q in lines]


def test_an_order_needs_lines_a_valid_address_and_one_line_per_sku() -> None:
    with pytest.raises(ValidationError, match="items"):
        details(items=[])
    with pytest.raises(ValidationError, match="country"):
        details(shipping_address={**order(1)["shipping_address"], "country": "USA"})
    with pytest.raises(ValidationError, match="only one line item"):
        details(items=items(("SKU-1", 1), ("SKU-1", 2)))
    assert details(items=items(("SKU-1", 2), ("SKU-2", 3))).total_cents == 500


def test_inventory_reserves_when_every_line_is_in_stock() -> None:
    ledger = StockLedger(available={"SKU-1": 5})
    [reserved] = inventory_service.decide(ledger, created(items=items(("SKU-1", 5))))
    assert isinstance(reserved, StockReservedV1)
    inventory_service.evolve(ledger, reserved)
    assert ledger.available == {"SKU-1": 0}
    assert inventory_service.decide(ledger, created()) == []  # already answered: a duplicate


def test_inventory_rejects_the_whole_order_when_any_line_is_short() -> None:
    ledger = StockLedger(available={"SKU-1": 5, "SKU-2": 1})
    [rejected] = inventory_service.decide(ledger, created(items=items(("SKU-1", 1), ("SKU-2", 2), ("SKU-3", 1))))
    assert isinstance(rejected, StockRejectedV1)
    assert rejected.missing_skus == ("SKU-2", "SKU-3")
    inventory_service.evolve(ledger, rejected)
    assert ledger.available == {"SKU-1": 5, "SKU-2": 1}


def test_a_declined_payment_releases_exactly_the_reserved_stock() -> None:
    ledger = StockLedger(available={"SKU-1": 5})
    order_created = created(items=items(("SKU-1", 2)))
    for event in inventory_service.decide(ledger, order_created):
        inventory_service.evolve(ledger, event)
    declined = PaymentDeclinedV1(order_id="o1", amount_cents=200, reason="card_declined", order=order_created.order)
    [released] = inventory_service.decide(ledger, declined)
    assert isinstance(released, StockReleasedV1)
    assert released.items == (LineItem(sku="SKU-1", quantity=2, unit_price_cents=100),)
    inventory_service.evolve(ledger, released)
    assert ledger.available == {"SKU-1": 5}
    assert inventory_service.decide(ledger, declined) == []  # released once only


def test_the_inventory_ledger_is_rebuilt_from_its_own_events() -> None:
    broker, codec = MemoryBroker(), KafkaCodec(ORDER_EVENTS)
    live = InventoryService({"SKU-1": 10}, codec)
    for n in range(3):
        for emit in live.handle(Envelope(payload=created(f"o{n}", items=items(("SKU-1", 3))), source="/t")):
            broker.append(emit.topic, codec.encode(emit.event))
    restarted = InventoryService({"SKU-1": 10}, codec)
    restarted.restore(broker)
    assert restarted.ledger == live.ledger
    assert restarted.ledger.available == {"SKU-1": 1}


def test_payment_turns_the_gateway_answer_into_authorized_or_declined() -> None:
    reserved = StockReservedV1(order_id="o1", order=details())
    assert payment_service.charge_request(reserved).idempotency_key == "charge:o1"
    approved = payment_service.decide(reserved, ChargeResult(approved=True, payment_id="pay_1"))
    declined = payment_service.decide(reserved, ChargeResult(approved=False, decline_reason="card_declined"))
    assert isinstance(approved, PaymentAuthorizedV1) and approved.amount_cents == 1250
    assert isinstance(declined, PaymentDeclinedV1) and declined.reason == "card_declined"


def test_shipping_schedules_with_the_carriers_tracking_id() -> None:
    paid = PaymentAuthorizedV1(order_id="o1", payment_id="p", amount_cents=1, order=details())
    assert shipping_service.decide(paid, ShipmentBooking(tracking_id="TRK1")).tracking_id == "TRK1"


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (StockRejectedV1(order_id="o1", customer_email="a@b.co", missing_skus=("SKU-9",)), "out_of_stock"),
        (StockReleasedV1(order_id="o1", customer_email="a@b.co", items=(), reason="payment_declined"),
         "payment_declined"),
    ],
)
def test_the_saga_cancels_when_stock_is_missing_or_released(event: Any, expected: str) -> None:
    outcome = saga.decide(event)
    assert isinstance(outcome, OrderCancelledV1) and outcome.reason == expected


def test_the_saga_confirms_once_shipment_is_scheduled_and_ignores_the_rest() -> None:
    outcome = saga.decide(ShipmentScheduledV1(order_id="o1", tracking_id="T", customer_email="a@b.co"))
    assert isinstance(outcome, OrderConfirmedV1) and outcome.tracking_id == "T"
    assert saga.decide(created()) is None


def test_customers_get_one_notification_per_outcome() -> None:
    confirmed = notification_for(OrderConfirmedV1(order_id="o1", customer_email="a@b.co", tracking_id="T"))
    cancelled = notification_for(OrderCancelledV1(order_id="o1", customer_email="a@b.co", reason="out_of_stock"))
    assert confirmed is not None and cancelled is not None
    assert (confirmed.idempotency_key, cancelled.idempotency_key) == ("notify:o1:confirmed", "notify:o1:cancelled")
    assert "out of stock" in cancelled.subject
    assert notification_for(created()) is None


def test_the_read_model_only_moves_forward_whatever_order_the_topics_arrive_in() -> None:
    def event(payload: Any) -> Envelope:
        return Envelope(payload=payload, source="/t")

    confirmed = event(OrderConfirmedV1(order_id="o1", customer_email="a@b.co", tracking_id="T"))
    view = OrderView(order_id="o1")
    for e in [event(created()), confirmed, event(PaymentAuthorizedV1(order_id="o1", payment_id="p",
                                                                     amount_cents=1, order=details()))]:
        view = apply(view, e)
    assert (view.status, view.tracking_id, view.payment_id, view.total_cents) == ("CONFIRMED", "T", "p", 1250)
    assert apply(view, confirmed) == view


def test_an_idempotency_key_makes_a_retried_post_the_same_order() -> None:
    first, retried = order_created(details(), "key-1"), order_created(details(), "key-1")
    assert (first.id, first.key) == (retried.id, retried.key)
    assert order_created(details(), None).key != order_created(details(), None).key
