"""A push service for the reply tests: answers order.confirmed with one event (its reply) and
order.cancelled with two (which a Knative reply cannot carry).

    python -m tests.apps.push.replying_service
"""

from __future__ import annotations

from collections.abc import Sequence

from event_platform.apps.orders.events import ORDER_EVENTS, OrderCancelledV1, OrderConfirmedV1, ShipmentScheduledV1
from event_platform.apps.runtime.envelope import Envelope
from event_platform.apps.runtime.push_app import PushContext, run_push
from event_platform.apps.runtime.service import Emit, Service

SOURCE = "/tests/replying"


class ReplyingService(Service):
    name = "replying"
    topics = ()
    registry = ORDER_EVENTS

    def handle(self, event: Envelope) -> Sequence[Emit]:
        payload = event.payload
        if isinstance(payload, OrderConfirmedV1):
            reply = ShipmentScheduledV1(order_id=payload.order_id, tracking_id=payload.tracking_id,
                                        customer_email=payload.customer_email)
            return [Emit("replies", event.caused(reply, SOURCE))]
        if isinstance(payload, OrderCancelledV1):
            return [Emit("replies", event.caused(payload, SOURCE)), Emit("replies", event.caused(payload, SOURCE))]
        return []


def build(context: PushContext) -> Service:
    return ReplyingService()


if __name__ == "__main__":
    raise SystemExit(run_push(build))
