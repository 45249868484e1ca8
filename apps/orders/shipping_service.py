"""shipping-service: books a shipment for every paid order (once per order).

    python -m event_platform.apps.orders.shipping_service
"""

from __future__ import annotations

from collections.abc import Sequence

from event_platform.apps.orders import topics
from event_platform.apps.orders.config import SimulationSettings
from event_platform.apps.orders.events import ORDER_EVENTS, PaymentAuthorizedV1, ShipmentScheduledV1
from event_platform.apps.orders.ports import Carrier, ShipmentBooking, ShipmentRequest, SimulatedCarrier
from event_platform.apps.runtime import app
from event_platform.apps.runtime.effects import EffectGuard
from event_platform.apps.runtime.envelope import Envelope
from event_platform.apps.runtime.service import Emit, Service
from event_platform.apps.runtime.settings import load

SOURCE = "/services/shipping"


def shipment_request(event: PaymentAuthorizedV1) -> ShipmentRequest:
    return ShipmentRequest(
        idempotency_key=f"shipment:{event.order_id}",
        order_id=event.order_id,
        address=event.order.shipping_address,
    )


def decide(event: PaymentAuthorizedV1, booking: ShipmentBooking) -> ShipmentScheduledV1:
    return ShipmentScheduledV1(order_id=event.order_id, tracking_id=booking.tracking_id,
                               customer_email=event.order.customer_email)


class ShippingService(Service):
    name = "shipping-service"
    topics = (topics.PAYMENTS,)
    registry = ORDER_EVENTS

    def __init__(self, carrier: Carrier, effects: EffectGuard) -> None:
        self._carrier = carrier
        self._effects = effects

    def handles(self, event_type: str) -> bool:
        return event_type == PaymentAuthorizedV1.EVENT_TYPE

    def handle(self, event: Envelope) -> Sequence[Emit]:
        assert isinstance(event.payload, PaymentAuthorizedV1)
        request = shipment_request(event.payload)
        booking = self._effects.once(request.idempotency_key, ShipmentBooking, lambda: self._carrier.book(request))
        return [Emit(topics.SHIPMENTS, event.caused(decide(event.payload, booking), SOURCE))]


def build(context: app.ServiceContext) -> tuple[Service, EffectGuard | None]:
    simulation = load(SimulationSettings)
    effects = context.effect_guard()
    provider = SimulatedCarrier(simulation.simulation_dir, "shipments", simulation.latency_s)
    return ShippingService(provider, effects), effects


if __name__ == "__main__":
    raise SystemExit(app.run(build))
