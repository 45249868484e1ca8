"""The query side (CQRS): one view per order, folded from every topic of the saga.

Nothing here is stored: the view is rebuilt from the Kafka logs on start (event sourcing) and
then follows them. Topics are read independently, so events of one order may arrive in any
order across topics; statuses therefore only move forward and terminal states win.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from enum import IntEnum

from pydantic import BaseModel

from event_platform.apps.orders import topics
from event_platform.apps.orders.events import (
    OrderCancelledV1,
    OrderConfirmedV1,
    OrderCreatedV1,
    PaymentAuthorizedV1,
    PaymentDeclinedV1,
    ShipmentScheduledV1,
    StockRejectedV1,
    StockReleasedV1,
    StockReservedV1,
)
from event_platform.apps.runtime.adapter import Broker, BrokerError
from event_platform.apps.runtime.envelope import Codec, Envelope
from event_platform.apps.runtime.events import EventPayload, EventRejected

log = logging.getLogger(__name__)


class OrderStatus(IntEnum):
    PENDING = 0
    RESERVED = 1
    PAID = 2
    PAYMENT_DECLINED = 3
    SHIPPED = 4
    CONFIRMED = 5
    CANCELLED = 6

    @property
    def terminal(self) -> bool:
        return self in (OrderStatus.CONFIRMED, OrderStatus.CANCELLED)


class OrderView(BaseModel):
    order_id: str
    status: str = OrderStatus.PENDING.name
    customer_id: str | None = None
    total_cents: int | None = None
    payment_id: str | None = None
    tracking_id: str | None = None
    cancel_reason: str | None = None
    events: list[str] = []


_STATUS_OF: dict[type[EventPayload], OrderStatus] = {
    OrderCreatedV1: OrderStatus.PENDING,
    StockReservedV1: OrderStatus.RESERVED,
    StockRejectedV1: OrderStatus.PENDING,
    PaymentAuthorizedV1: OrderStatus.PAID,
    PaymentDeclinedV1: OrderStatus.PAYMENT_DECLINED,
    StockReleasedV1: OrderStatus.PAYMENT_DECLINED,
    ShipmentScheduledV1: OrderStatus.SHIPPED,
    OrderConfirmedV1: OrderStatus.CONFIRMED,
    OrderCancelledV1: OrderStatus.CANCELLED,
}


def apply(view: OrderView, event: Envelope) -> OrderView:
    """The view after `event` (pure: returns a new view)."""
    payload = event.payload
    if event.type in view.events:
        return view  # the same fact seen twice changes nothing
    changes: dict[str, object] = {"events": [*view.events, event.type]}
    status = _STATUS_OF.get(type(payload))
    if status is not None and status > OrderStatus[view.status] and not OrderStatus[view.status].terminal:
        changes["status"] = status.name
    if isinstance(payload, OrderCreatedV1):
        changes.update(customer_id=payload.order.customer_id, total_cents=payload.order.total_cents)
    elif isinstance(payload, PaymentAuthorizedV1):
        changes["payment_id"] = payload.payment_id
    elif isinstance(payload, ShipmentScheduledV1 | OrderConfirmedV1):
        changes["tracking_id"] = payload.tracking_id
    elif isinstance(payload, OrderCancelledV1):
        changes["cancel_reason"] = payload.reason
    return view.model_copy(update=changes)


class ReadModel:
    def __init__(self) -> None:
        self._views: dict[str, OrderView] = {}
        self._lock = threading.Lock()

    def apply(self, event: Envelope) -> None:
        order_id = getattr(event.payload, "order_id", None)
        if order_id is None:
            return
        with self._lock:
            current = self._views.get(order_id) or OrderView(order_id=order_id)
            self._views[order_id] = apply(current, event)

    def get(self, order_id: str) -> OrderView | None:
        with self._lock:
            return self._views.get(order_id)

    def all(self) -> list[OrderView]:
        with self._lock:
            return list(self._views.values())

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(Counter(view.status for view in self._views.values()))

    def clear(self) -> None:
        with self._lock:
            self._views.clear()


class Projector:
    """Follows the saga's topics into a ReadModel, on its own thread."""

    TOPICS = (topics.ORDERS, topics.INVENTORY, topics.PAYMENTS, topics.SHIPMENTS)

    def __init__(self, broker: Broker, codec: Codec, model: ReadModel, poll_interval_s: float = 0.1) -> None:
        self.broker = broker
        self.codec = codec
        self.model = model
        self.poll_interval_s = poll_interval_s
        self.caught_up = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="projector", daemon=True)

    def start(self) -> Projector:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._follow()
            except BrokerError as error:
                log.warning("read model lost the broker; rebuilding", extra={"error": str(error)})
                self._stop.wait(1.0)

    def _follow(self) -> None:
        reader = self.broker.reader(self.TOPICS)
        self.model.clear()  # a fresh reader starts from the beginning again
        try:
            while not self._stop.is_set():
                for record in reader.catch_up():
                    try:
                        self.model.apply(self.codec.decode(record.message))
                    except EventRejected:
                        continue  # dead-lettered by the consuming services; nothing to show
                self.caught_up.set()
                self._stop.wait(self.poll_interval_s)
        finally:
            reader.close()
