"""Effect ports: the external systems the saga talks to, behind interfaces.

Handlers only see these protocols. The simulators below stand in for a real payment gateway,
carrier and mail provider (in production an HTTP client goes here, passing `idempotency_key`
on as the provider's idempotency key). When SIMULATION_DIR is set, each simulator appends every
request it receives to `<dir>/<system>.jsonl`, so tests can count exactly what happened outside.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from apps.orders.events import Address

AnswerT = TypeVar("AnswerT", bound=BaseModel)


class ChargeRequest(BaseModel):
    idempotency_key: str
    order_id: str
    amount_cents: int
    payment_token: str


class ChargeResult(BaseModel):
    model_config = ConfigDict(frozen=True)
    approved: bool
    payment_id: str = ""
    decline_reason: str = ""


class ShipmentRequest(BaseModel):
    idempotency_key: str
    order_id: str
    address: Address


class ShipmentBooking(BaseModel):
    model_config = ConfigDict(frozen=True)
    tracking_id: str


class Notification(BaseModel):
    idempotency_key: str
    order_id: str
    to: str
    subject: str


class NotificationReceipt(BaseModel):
    model_config = ConfigDict(frozen=True)
    message_id: str


class GatewayUnavailable(Exception):
    """The provider did not answer; retrying later may succeed."""


class PaymentGateway(Protocol):
    def charge(self, request: ChargeRequest) -> ChargeResult: ...


class Carrier(Protocol):
    def book(self, request: ShipmentRequest) -> ShipmentBooking: ...


class Mailer(Protocol):
    def send(self, notification: Notification) -> NotificationReceipt: ...


class SimulatedProvider:
    """What every simulated external system shares: it honours idempotency keys the way
    payment providers do (a repeated key gets the first answer back and changes nothing) and,
    given a directory, records every request it receives as one fsynced JSON line, marking
    repeats, so tests can tell effects (first requests) from redundant requests."""

    def __init__(self, directory: Path | None, system: str, latency_s: float = 0.0) -> None:
        self._path = directory / f"{system}.jsonl" if directory is not None else None
        self._latency_s = latency_s
        self._lock = threading.Lock()
        self._answers: dict[str, str] = {}
        if self._path is not None and self._path.exists():  # the provider outlives our restarts
            for line in self._path.read_text().splitlines():
                entry = json.loads(line)
                self._answers.setdefault(entry["idempotency_key"], entry["answer"])

    def _perform(self, request: ChargeRequest | ShipmentRequest | Notification,
                 answer_type: type[AnswerT], answer: Callable[[], AnswerT]) -> AnswerT:
        time.sleep(self._latency_s)
        key = request.idempotency_key
        with self._lock:
            earlier = self._answers.get(key)
            result = answer_type.model_validate_json(earlier) if earlier is not None else answer()
            self._answers.setdefault(key, result.model_dump_json())
            self._record(request, result, repeated=earlier is not None)
        return result

    def _record(self, request: BaseModel, result: BaseModel, *, repeated: bool) -> None:
        if self._path is None:
            return
        entry = {**request.model_dump(mode="json"), "answer": result.model_dump_json(), "repeated": repeated}
        line = (json.dumps(entry, sort_keys=True) + "\n").encode()
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)


class SimulatedGateway(SimulatedProvider):
    """Declines tokens starting with `tok_decline`; `tok_unavailable` never gets an answer
    (a poison event for the retry/dead-letter path); everything else is approved."""

    def charge(self, request: ChargeRequest) -> ChargeResult:
        if request.payment_token.startswith("tok_unavailable"):
            time.sleep(self._latency_s)
            raise GatewayUnavailable(f"payment provider timed out for order {request.order_id}")
        return self._perform(request, ChargeResult, lambda: _charge(request))


def _charge(request: ChargeRequest) -> ChargeResult:
    if request.payment_token.startswith("tok_decline"):
        return ChargeResult(approved=False, decline_reason="card_declined")
    return ChargeResult(approved=True, payment_id="pay_" + uuid.uuid4().hex[:16])


class SimulatedCarrier(SimulatedProvider):
    def book(self, request: ShipmentRequest) -> ShipmentBooking:
        return self._perform(request, ShipmentBooking,
                             lambda: ShipmentBooking(tracking_id="TRK" + uuid.uuid4().hex[:12]))


class SimulatedMailer(SimulatedProvider):
    def send(self, notification: Notification) -> NotificationReceipt:
        return self._perform(notification, NotificationReceipt,
                             lambda: NotificationReceipt(message_id=str(uuid.uuid4())))
