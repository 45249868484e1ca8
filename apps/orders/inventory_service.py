"""inventory-service: reserves stock for new orders, releases it when payment is declined.

State (units available per SKU, open reservations) is event-sourced from the service's own
`inventory` topic: restored by replaying it on start, and written only through the events the
handler emits, in the same transaction that commits the input offsets.
Stock is one aggregate, so this service runs as a single instance (maxReplicas 1).

    python -m event_platform.apps.orders.inventory_service
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from event_platform.apps.orders import topics
from event_platform.apps.orders.config import InventorySettings
from event_platform.apps.orders.events import (
    ORDER_EVENTS,
    LineItem,
    OrderCreatedV1,
    PaymentDeclinedV1,
    StockRejectedV1,
    StockReleasedV1,
    StockReservedV1,
)
from event_platform.apps.runtime import app
from event_platform.apps.runtime.adapter import Broker
from event_platform.apps.runtime.effects import EffectGuard
from event_platform.apps.runtime.envelope import Codec, Envelope
from event_platform.apps.runtime.events import EventPayload, EventRejected
from event_platform.apps.runtime.service import Emit, Service
from event_platform.apps.runtime.settings import load

SOURCE = "/services/inventory"


@dataclass
class StockLedger:
    available: dict[str, int] = field(default_factory=dict)
    reserved: dict[str, tuple[LineItem, ...]] = field(default_factory=dict)  # order id → lines held
    answered: set[str] = field(default_factory=set)  # orders already reserved or rejected


def decide(ledger: StockLedger, event: EventPayload) -> list[EventPayload]:
    """What the inventory says about an event, given the ledger (no I/O, no mutation)."""
    if isinstance(event, OrderCreatedV1):
        if event.order_id in ledger.answered:
            return []  # a duplicate order.created: already answered
        short = [i.sku for i in event.order.items if ledger.available.get(i.sku, 0) < i.quantity]
        if short:
            return [StockRejectedV1(order_id=event.order_id, customer_email=event.order.customer_email,
                                    missing_skus=tuple(short))]
        return [StockReservedV1(order_id=event.order_id, order=event.order)]
    if isinstance(event, PaymentDeclinedV1) and event.order_id in ledger.reserved:
        return [StockReleasedV1(order_id=event.order_id, customer_email=event.order.customer_email,
                                items=ledger.reserved[event.order_id], reason="payment_declined")]
    return []


def evolve(ledger: StockLedger, event: EventPayload) -> None:
    """Apply one of the inventory's own events to the ledger."""
    if isinstance(event, StockReservedV1):
        for item in event.order.items:
            ledger.available[item.sku] = ledger.available.get(item.sku, 0) - item.quantity
        ledger.reserved[event.order_id] = event.order.items
        ledger.answered.add(event.order_id)
    elif isinstance(event, StockRejectedV1):
        ledger.answered.add(event.order_id)
    elif isinstance(event, StockReleasedV1):
        for item in ledger.reserved.pop(event.order_id, ()):
            ledger.available[item.sku] = ledger.available.get(item.sku, 0) + item.quantity


class InventoryService(Service):
    name = "inventory-service"
    topics = (topics.ORDERS, topics.PAYMENTS)
    registry = ORDER_EVENTS

    def __init__(self, initial_stock: dict[str, int], codec: Codec) -> None:
        self._initial_stock = dict(initial_stock)
        self._codec = codec
        self.ledger = StockLedger(available=dict(initial_stock))

    def handles(self, event_type: str) -> bool:
        return event_type in (OrderCreatedV1.EVENT_TYPE, PaymentDeclinedV1.EVENT_TYPE)

    def handle(self, event: Envelope) -> Sequence[Emit]:
        emitted = decide(self.ledger, event.payload)
        for payload in emitted:
            evolve(self.ledger, payload)
        return [Emit(topics.INVENTORY, event.caused(payload, SOURCE)) for payload in emitted]

    def restore(self, broker: Broker) -> None:
        ledger = StockLedger(available=dict(self._initial_stock))
        for record in broker.replay([topics.INVENTORY]):
            try:
                evolve(ledger, self._codec.decode(record.message).payload)
            except EventRejected:
                continue  # not written by this service (it only emits valid events)
        self.ledger = ledger


def build(context: app.ServiceContext) -> tuple[Service, EffectGuard | None]:
    stock = load(InventorySettings).inventory_initial_stock
    return InventoryService(stock, context.broker.codec(ORDER_EVENTS)), None


if __name__ == "__main__":
    raise SystemExit(app.run(build))
