"""notification-service: tells the customer how the order ended (one mail per outcome).

    python -m event_platform.apps.orders.notification_service
"""

from __future__ import annotations

from collections.abc import Sequence

from event_platform.apps.orders import topics
from event_platform.apps.orders.config import SimulationSettings
from event_platform.apps.orders.events import ORDER_EVENTS, OrderCancelledV1, OrderConfirmedV1
from event_platform.apps.orders.ports import Mailer, Notification, NotificationReceipt, SimulatedMailer
from event_platform.apps.runtime import app
from event_platform.apps.runtime.effects import EffectGuard
from event_platform.apps.runtime.envelope import Envelope
from event_platform.apps.runtime.events import EventPayload
from event_platform.apps.runtime.service import Emit, Service
from event_platform.apps.runtime.settings import load


def notification_for(event: EventPayload) -> Notification | None:
    if isinstance(event, OrderConfirmedV1):
        subject = f"Your order {event.order_id} is on its way (tracking {event.tracking_id})"
        return Notification(idempotency_key=f"notify:{event.order_id}:confirmed", order_id=event.order_id,
                            to=event.customer_email, subject=subject)
    if isinstance(event, OrderCancelledV1):
        why = "an item is out of stock" if event.reason == "out_of_stock" else "the payment was declined"
        return Notification(idempotency_key=f"notify:{event.order_id}:cancelled", order_id=event.order_id,
                            to=event.customer_email, subject=f"Your order {event.order_id} was cancelled: {why}")
    return None


class NotificationService(Service):
    name = "notification-service"
    topics = (topics.ORDERS,)
    registry = ORDER_EVENTS

    def __init__(self, mailer: Mailer, effects: EffectGuard) -> None:
        self._mailer = mailer
        self._effects = effects

    def handles(self, event_type: str) -> bool:
        return event_type in (OrderConfirmedV1.EVENT_TYPE, OrderCancelledV1.EVENT_TYPE)

    def handle(self, event: Envelope) -> Sequence[Emit]:
        notification = notification_for(event.payload)
        if notification is not None:
            self._effects.once(notification.idempotency_key, NotificationReceipt,
                               lambda: self._mailer.send(notification))
        return []


def build(context: app.ServiceContext) -> tuple[Service, EffectGuard | None]:
    simulation = load(SimulationSettings)
    effects = context.effect_guard()
    provider = SimulatedMailer(simulation.simulation_dir, "mail", simulation.latency_s)
    return NotificationService(provider, effects), effects


if __name__ == "__main__":
    raise SystemExit(app.run(build))
