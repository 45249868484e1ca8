"""order-service's HTTP API: the command side (POST /orders) and the query side (GET).

    POST /orders          body: OrderDetails JSON; optional header Idempotency-Key
                          → 202 {"order_id": ...} once order.created is durably in Kafka
    GET  /orders/<id>     → the order's view (404 until the read model has seen it)
    GET  /orders          → {"counts": {status: n}, "orders": [...]}
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import ValidationError

from event_platform.apps.orders import topics
from event_platform.apps.orders.events import OrderCreatedV1, OrderDetails
from event_platform.apps.orders.read_model import ReadModel
from event_platform.apps.runtime.adapter import BrokerError
from event_platform.apps.runtime.envelope import Envelope
from event_platform.apps.runtime.publisher import EventPublisher

log = logging.getLogger(__name__)
SOURCE = "/services/order"
MAX_BODY_BYTES = 64 * 1024


def order_created(details: OrderDetails, idempotency_key: str | None) -> Envelope:
    """A new order's first event. With an Idempotency-Key, a retried POST yields the same order
    id and event id, which inventory-service recognises as already answered."""
    if idempotency_key:
        seed = uuid.uuid5(uuid.NAMESPACE_URL, f"order/{details.customer_id}/{idempotency_key}")
    else:
        seed = uuid.uuid4()
    order_id = f"ord_{seed.hex[:20]}"
    return Envelope(
        payload=OrderCreatedV1(order_id=order_id, order=details),
        source=SOURCE,
        id=str(seed),
        key=order_id,
        subject=order_id,
    )


def problems_of(error: ValidationError) -> list[dict[str, str]]:
    """Field → problem, for clients. A collection's "too short" that only follows from its own
    invalid elements (pydantic drops them before counting) would mislead, so it is left out."""
    errors = error.errors()
    locations = [e["loc"] for e in errors]

    def consequential(e: Any) -> bool:
        return e["type"] == "too_short" and any(loc[: len(e["loc"])] == e["loc"] and loc != e["loc"]
                                                 for loc in locations)

    return [{"field": ".".join(map(str, e["loc"])), "problem": e["msg"]} for e in errors if not consequential(e)]


class OrderApi:
    def __init__(self, port: int, publisher: EventPublisher, model: ReadModel) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                api.post(self)

            def do_GET(self) -> None:
                api.get(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.publisher = publisher
        self.model = model
        self._server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="order-api", daemon=True)

    def start(self) -> OrderApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def post(self, request: BaseHTTPRequestHandler) -> None:
        if request.path.rstrip("/") != "/orders":
            return _reply(request, 404, {"error": "not found"})
        length = int(request.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            return _reply(request, 413, {"error": f"body larger than {MAX_BODY_BYTES} bytes"})
        try:
            details = OrderDetails.model_validate_json(request.rfile.read(length))
        except ValidationError as error:
            return _reply(request, 422, {"error": "invalid order", "problems": problems_of(error)})
        event = order_created(details, request.headers.get("Idempotency-Key"))
        try:
            self.publisher.publish_and_wait(topics.ORDERS, event)
        except BrokerError as error:
            log.warning("could not accept order", extra={"error": str(error)})
            return _reply(request, 503, {"error": "orders cannot be accepted right now; retry"})
        order_id = event.payload.order_id  # type: ignore[attr-defined]
        _reply(request, 202, {"order_id": order_id, "event_id": event.id}, location=f"/orders/{order_id}")

    def get(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?")[0].rstrip("/")
        if path == "/orders":
            views = [view.model_dump() for view in self.model.all()]
            return _reply(request, 200, {"counts": self.model.counts(), "orders": views})
        if path.startswith("/orders/"):
            view = self.model.get(path.removeprefix("/orders/"))
            if view is None:
                return _reply(request, 404, {"error": "unknown order (or not projected yet)"})
            return _reply(request, 200, view.model_dump())
        _reply(request, 404, {"error": "not found"})


def _reply(request: BaseHTTPRequestHandler, status: int, body: object, location: str | None = None) -> None:
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(data)))
    if location:
        request.send_header("Location", location)
    request.end_headers()
    request.wfile.write(data)
