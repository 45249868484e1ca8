"""The saga's decisions: how each step's outcome ends the order.

Choreographed: each service reacts to the previous step's event; order-service only turns the
terminal outcomes into order.confirmed / order.cancelled. Compensation lives where the state is:
inventory releases stock on payment.declined, and the cancellation follows the release, so a
cancelled order never still holds stock.
"""

from __future__ import annotations

from event_platform.apps.orders.events import (
    OrderCancelledV1,
    OrderConfirmedV1,
    ShipmentScheduledV1,
    StockRejectedV1,
    StockReleasedV1,
)
from event_platform.apps.runtime.events import EventPayload


def decide(event: EventPayload) -> EventPayload | None:
    if isinstance(event, StockRejectedV1):
        return OrderCancelledV1(order_id=event.order_id, customer_email=event.customer_email,
                                reason="out_of_stock", detail=f"missing {', '.join(event.missing_skus)}")
    if isinstance(event, StockReleasedV1):
        return OrderCancelledV1(order_id=event.order_id, customer_email=event.customer_email,
                                reason=event.reason, detail="stock released")
    if isinstance(event, ShipmentScheduledV1):
        return OrderConfirmedV1(order_id=event.order_id, customer_email=event.customer_email,
                                tracking_id=event.tracking_id)
    return None


DECIDES_ON = frozenset(t.EVENT_TYPE for t in (StockRejectedV1, StockReleasedV1, ShipmentScheduledV1))
