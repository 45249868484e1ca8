"""Event payloads of the order saga. Every event is keyed by order id, so all events of one
order land on the same partition of each topic and are seen in order."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from event_platform.apps.runtime.events import EventPayload, EventRegistry

SKU = Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,39}$", description="stock keeping unit, e.g. SKU-1")
CancelReason = Literal["out_of_stock", "payment_declined"]


class LineItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str = SKU
    quantity: int = Field(ge=1, le=1_000)
    unit_price_cents: int = Field(ge=0, le=10_000_000)


class Address(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    street: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")


class OrderDetails(BaseModel):
    """What a customer orders; carried along the saga so no step needs to look it up."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: str = Field(min_length=1, max_length=100)
    customer_email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
    items: tuple[LineItem, ...] = Field(min_length=1, max_length=50)
    payment_token: str = Field(min_length=1, max_length=200)
    shipping_address: Address

    @model_validator(mode="after")
    def _one_line_per_sku(self) -> OrderDetails:
        skus = [item.sku for item in self.items]
        if len(skus) != len(set(skus)):
            raise ValueError("each SKU may appear in only one line item; add up the quantities")
        return self

    @property
    def total_cents(self) -> int:
        return sum(item.quantity * item.unit_price_cents for item in self.items)


class OrderCreatedV1(EventPayload):
    EVENT_TYPE = "io.eventplatform.order.created.v1"
    order_id: str
    order: OrderDetails


class OrderConfirmedV1(EventPayload):
    EVENT_TYPE = "io.eventplatform.order.confirmed.v1"
    order_id: str
    customer_email: str
    tracking_id: str


class OrderCancelledV1(EventPayload):
    EVENT_TYPE = "io.eventplatform.order.cancelled.v1"
    order_id: str
    customer_email: str
    reason: CancelReason
    detail: str = ""


class StockReservedV1(EventPayload):
    EVENT_TYPE = "io.eventplatform.inventory.reserved.v1"
    order_id: str
    order: OrderDetails


class StockRejectedV1(EventPayload):
    EVENT_TYPE = "io.eventplatform.inventory.rejected.v1"
    order_id: str
    customer_email: str
    missing_skus: tuple[str, ...]


class StockReleasedV1(EventPayload):
    EVENT_TYPE = "io.eventplatform.inventory.released.v1"
    order_id: str
    customer_email: str
    items: tuple[LineItem, ...]
    reason: CancelReason


class PaymentAuthorizedV1(EventPayload):
    EVENT_TYPE = "io.eventplatform.payment.authorized.v1"
    order_id: str
    payment_id: str
    amount_cents: int
    order: OrderDetails


class PaymentDeclinedV1(EventPayload):
    EVENT_TYPE = "io.eventplatform.payment.declined.v1"
    order_id: str
    amount_cents: int
    reason: str
    order: OrderDetails


class ShipmentScheduledV1(EventPayload):
    EVENT_TYPE = "io.eventplatform.shipment.scheduled.v1"
    order_id: str
    tracking_id: str
    customer_email: str


ORDER_EVENTS = EventRegistry(
    OrderCreatedV1,
    OrderConfirmedV1,
    OrderCancelledV1,
    StockReservedV1,
    StockRejectedV1,
    StockReleasedV1,
    PaymentAuthorizedV1,
    PaymentDeclinedV1,
    ShipmentScheduledV1,
)
