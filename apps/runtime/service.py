"""What a service gives the processor: its subscriptions, its event models and a handler.

A handler maps one event (plus the service's state and effect ports) to the events it emits.
State that must survive restarts is event-sourced: `restore` rebuilds it from the service's own
output topics, which the processor's transactions keep in step with the committed inputs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from event_platform.apps.runtime.adapter import Broker
from event_platform.apps.runtime.envelope import Envelope
from event_platform.apps.runtime.events import EventRegistry


@dataclass(frozen=True)
class Emit:
    """An event to publish to `topic` when the triggering event is committed."""

    topic: str
    event: Envelope


class Service(ABC):
    name: str
    topics: Sequence[str]
    # Every event type that may appear on `topics`: anything else is dead-lettered as unknown.
    registry: EventRegistry

    def handles(self, event_type: str) -> bool:
        """Known types this service ignores are committed without calling `handle`."""
        return True

    @abstractmethod
    def handle(self, event: Envelope) -> Sequence[Emit]:
        """Process one event; raise to have it retried (and eventually dead-lettered)."""

    def restore(self, broker: Broker) -> None:
        """Rebuild in-memory state from the broker; called before consuming and after any
        failed commit (whose effects on the in-memory state must be forgotten)."""
        return None
