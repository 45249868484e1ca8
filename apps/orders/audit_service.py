"""order-audit: writes every order event into the audit log, exactly once per event.

Served on the push path: a Knative Trigger (filter `source: /services/order`) delivers the
order-service's events from the Broker over HTTP (`event_platform.apps.runtime.push`), so this service holds no
broker connection at all.

    python -m event_platform.apps.orders.audit_service
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from event_platform.apps.orders.config import SimulationSettings
from event_platform.apps.orders.events import ORDER_EVENTS
from event_platform.apps.orders.ports import IdempotentRequest, SimulatedProvider
from event_platform.apps.runtime.effects import EffectGuard
from event_platform.apps.runtime.envelope import Envelope
from event_platform.apps.runtime.push_app import PushContext, run_push
from event_platform.apps.runtime.service import Emit, Service
from event_platform.apps.runtime.settings import load

UNAVAILABLE_FILE = "audit.unavailable"


class AuditEntry(IdempotentRequest):
    order_id: str
    event_type: str
    event_id: str
    event_source: str
    event_time: datetime


class AuditReceipt(BaseModel):
    model_config = ConfigDict(frozen=True)
    entry_id: str


class AuditLogUnavailable(Exception):
    """The audit store did not answer; a later attempt may succeed."""


class SimulatedAuditLog(SimulatedProvider):
    """The audit store. A file `audit.unavailable` holding N in the simulation folder makes the
    next N writes fail (an outage the Broker's retries must ride out)."""

    def __init__(self, directory: Path | None, latency_s: float = 0.0) -> None:
        super().__init__(directory, "audit", latency_s)
        self._outage = directory / UNAVAILABLE_FILE if directory is not None else None

    def record(self, entry: AuditEntry) -> AuditReceipt:
        if self._outage_continues():
            raise AuditLogUnavailable(f"audit store unavailable for event {entry.event_id}")
        return self._perform(entry, AuditReceipt, lambda: AuditReceipt(entry_id=f"audit-{entry.event_id}"))

    def _outage_continues(self) -> bool:
        if self._outage is None:
            return False
        with self._lock:
            try:
                remaining = int(self._outage.read_text().strip() or 0)
            except FileNotFoundError:
                return False
            if remaining <= 0:
                return False
            self._outage.write_text(str(remaining - 1))
            return True


class AuditService(Service):
    name = "order-audit"
    topics = ()  # push-served: nothing to subscribe to
    registry = ORDER_EVENTS

    def __init__(self, audit_log: SimulatedAuditLog, effects: EffectGuard) -> None:
        self._log = audit_log
        self._effects = effects

    def handle(self, event: Envelope) -> Sequence[Emit]:
        order_id = getattr(event.payload, "order_id", None) or event.subject or ""
        # The CloudEvents identity of the event (source + id): a redelivered event writes nothing.
        entry = AuditEntry(idempotency_key=f"audit:{event.source}:{event.id}", order_id=order_id,
                           event_type=event.type, event_id=event.id, event_source=event.source,
                           event_time=event.time)
        self._effects.once(entry.idempotency_key, AuditReceipt, lambda: self._log.record(entry))
        return []


def build(context: PushContext) -> Service:
    simulation = load(SimulationSettings)
    return AuditService(SimulatedAuditLog(simulation.simulation_dir, simulation.latency_s), context.effect_guard())


if __name__ == "__main__":
    raise SystemExit(run_push(build))
