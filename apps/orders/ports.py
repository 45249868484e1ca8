"""Effect ports: the external systems the saga talks to, behind interfaces.

Handlers only see these protocols. The simulators below stand in for a real payment gateway,
carrier and mail provider (in production an HTTP client goes here, passing `idempotency_key`
on as the provider's idempotency key). When SIMULATION_DIR is set, each simulator appends every
request it receives to `<dir>/<system>.jsonl`, so tests can count exactly what happened outside.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from event_platform.apps.orders.events import Address

AnswerT = TypeVar("AnswerT", bound=BaseModel)


class IdempotentRequest(BaseModel):
    """A request to an external system, carrying the key it deduplicates repeats by."""

    idempotency_key: str


class ChargeRequest(IdempotentRequest):
    order_id: str
    amount_cents: int
    payment_token: str


class ChargeResult(BaseModel):
    model_config = ConfigDict(frozen=True)
    approved: bool
    payment_id: str = ""
    decline_reason: str = ""


class ShipmentRequest(IdempotentRequest):
    order_id: str
    address: Address


class ShipmentBooking(BaseModel):
    model_config = ConfigDict(frozen=True)
    tracking_id: str


class Notification(IdempotentRequest):
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
    repeats, so tests can tell effects (first requests) from redundant requests.

    The record file is the provider's memory, shared by every instance of a service (replicas,
    restarts) like a real provider's database: each call re-reads it under an exclusive lock.
    """

    def __init__(self, directory: Path | None, system: str, latency_s: float = 0.0) -> None:
        self._path = directory / f"{system}.jsonl" if directory is not None else None
        self._latency_s = latency_s
        self._lock = threading.Lock()
        self._answers: dict[str, str] = {}
        self._read_up_to = 0

    def _perform(self, request: IdempotentRequest,
                 answer_type: type[AnswerT], answer: Callable[[], AnswerT]) -> AnswerT:
        time.sleep(self._latency_s)
        with self._lock, self._shared_memory() as record:
            earlier = self._answers.get(request.idempotency_key)
            result = answer_type.model_validate_json(earlier) if earlier is not None else answer()
            self._answers.setdefault(request.idempotency_key, result.model_dump_json())
            record(request, result, earlier is not None)
        return result

    @contextmanager
    def _shared_memory(self) -> Iterator[Callable[[BaseModel, BaseModel, bool], None]]:
        if self._path is None:
            yield lambda request, result, repeated: None
            return
        fd = os.open(self._path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._catch_up(fd)

            def record(request: BaseModel, result: BaseModel, repeated: bool) -> None:
                entry = {**request.model_dump(mode="json"), "answer": result.model_dump_json(), "repeated": repeated}
                os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode())
                os.fsync(fd)
                self._read_up_to = os.fstat(fd).st_size

            yield record
        finally:
            os.close(fd)  # releases the lock

    def _catch_up(self, fd: int) -> None:
        size = os.fstat(fd).st_size
        if size <= self._read_up_to:
            return
        for line in os.pread(fd, size - self._read_up_to, self._read_up_to).decode().splitlines():
            entry = json.loads(line)
            self._answers.setdefault(entry["idempotency_key"], entry["answer"])
        self._read_up_to = size


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
