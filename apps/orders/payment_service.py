"""payment-service: charges the customer once stock is reserved.

At most one charge per order, even across redeliveries and restarts: the gateway call goes
through the effects journal keyed by order id (and that key is the gateway's idempotency key).

    python -m event_platform.apps.orders.payment_service
"""

from __future__ import annotations

from collections.abc import Sequence

from event_platform.apps.orders import topics
from event_platform.apps.orders.config import SimulationSettings
from event_platform.apps.orders.events import ORDER_EVENTS, PaymentAuthorizedV1, PaymentDeclinedV1, StockReservedV1
from event_platform.apps.orders.ports import ChargeRequest, ChargeResult, PaymentGateway, SimulatedGateway
from event_platform.apps.runtime import app
from event_platform.apps.runtime.effects import EffectGuard
from event_platform.apps.runtime.envelope import Envelope
from event_platform.apps.runtime.events import EventPayload
from event_platform.apps.runtime.service import Emit, Service
from event_platform.apps.runtime.settings import load

SOURCE = "/services/payment"


def charge_request(event: StockReservedV1) -> ChargeRequest:
    return ChargeRequest(
        idempotency_key=f"charge:{event.order_id}",
        order_id=event.order_id,
        amount_cents=event.order.total_cents,
        payment_token=event.order.payment_token,
    )


def decide(event: StockReservedV1, result: ChargeResult) -> EventPayload:
    amount = event.order.total_cents
    if result.approved:
        return PaymentAuthorizedV1(order_id=event.order_id, payment_id=result.payment_id,
                                   amount_cents=amount, order=event.order)
    return PaymentDeclinedV1(order_id=event.order_id, amount_cents=amount, reason=result.decline_reason,
                             order=event.order)


class PaymentService(Service):
    name = "payment-service"
    topics = (topics.INVENTORY,)
    registry = ORDER_EVENTS

    def __init__(self, gateway: PaymentGateway, effects: EffectGuard) -> None:
        self._gateway = gateway
        self._effects = effects

    def handles(self, event_type: str) -> bool:
        return event_type == StockReservedV1.EVENT_TYPE

    def handle(self, event: Envelope) -> Sequence[Emit]:
        assert isinstance(event.payload, StockReservedV1)
        request = charge_request(event.payload)
        result = self._effects.once(request.idempotency_key, ChargeResult, lambda: self._gateway.charge(request))
        return [Emit(topics.PAYMENTS, event.caused(decide(event.payload, result), SOURCE))]


def build(context: app.ServiceContext) -> tuple[Service, EffectGuard | None]:
    simulation = load(SimulationSettings)
    effects = context.effect_guard()
    gateway = SimulatedGateway(simulation.simulation_dir, "payments", simulation.latency_s)
    return PaymentService(gateway, effects), effects


if __name__ == "__main__":
    raise SystemExit(app.run(build))
