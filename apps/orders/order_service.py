"""order-service: accepts orders over HTTP, ends each saga, serves the order read model.

Three parts in one process: the HTTP API (command + query side), the saga processor (consumer
group `order-service`, turning inventory/shipping outcomes into order.confirmed/cancelled) and
the projector that keeps the read model. Ready when the processor holds partitions and the read
model has caught up with the logs.

    python -m event_platform.apps.orders.order_service
"""

from __future__ import annotations

from collections.abc import Sequence

from event_platform.apps.orders import saga, topics
from event_platform.apps.orders.api import OrderApi
from event_platform.apps.orders.config import OrderApiSettings
from event_platform.apps.orders.events import ORDER_EVENTS
from event_platform.apps.orders.read_model import Projector, ReadModel
from event_platform.apps.runtime import app
from event_platform.apps.runtime.effects import EffectGuard
from event_platform.apps.runtime.envelope import Envelope
from event_platform.apps.runtime.publisher import EventPublisher
from event_platform.apps.runtime.service import Emit, Service
from event_platform.apps.runtime.settings import load

SOURCE = "/services/order"


class OrderSaga(Service):
    name = "order-service"
    topics = (topics.INVENTORY, topics.SHIPMENTS)
    registry = ORDER_EVENTS

    def handles(self, event_type: str) -> bool:
        return event_type in saga.DECIDES_ON

    def handle(self, event: Envelope) -> Sequence[Emit]:
        outcome = saga.decide(event.payload)
        return [] if outcome is None else [Emit(topics.ORDERS, event.caused(outcome, SOURCE))]


def build(context: app.ServiceContext) -> tuple[Service, EffectGuard | None]:
    codec = context.broker.codec(ORDER_EVENTS, context.settings.content_mode)
    model = ReadModel()
    projector = Projector(context.broker, codec, model).start()
    context.readiness_checks.append(projector.caught_up.is_set)
    publisher = EventPublisher(context.broker.publisher(), codec, context.metrics)
    OrderApi(load(OrderApiSettings).api_port, publisher, model).start()
    return OrderSaga(), None


if __name__ == "__main__":
    raise SystemExit(app.run(build))
