"""Process wiring of a push-served service: settings → logs, metrics, probes, receiver → run.

The pull path (`event_platform.apps.runtime.app.run`) connects to a broker and polls; here a Knative Trigger
POSTs each event to `PUSH_PORT`, and the same `Service` handles it (`event_platform.apps.runtime.push`). The
probes and metrics are the same: `/livez` and `/readyz` on HEALTH_PORT, `/metrics` on
METRICS_PORT. SIGTERM drains: new deliveries get 503 (the Broker retries them elsewhere), the
ones in hand finish, then the process exits 0.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from event_platform.apps.runtime import logs
from event_platform.apps.runtime.adapter import EffectsJournal
from event_platform.apps.runtime.app import install_stop_signals
from event_platform.apps.runtime.effects import EffectGuard
from event_platform.apps.runtime.health import HealthServer
from event_platform.apps.runtime.metrics import Metrics
from event_platform.apps.runtime.push import PushReceiver
from event_platform.apps.runtime.service import Service
from event_platform.apps.runtime.settings import RuntimeSettings, load_all

log = logging.getLogger(__name__)


class PushSettings(BaseSettings):
    """The HTTP receiver (`PUSH_*`); RuntimeSettings supplies SERVICE_NAME, ports and logging."""

    model_config = SettingsConfigDict(env_prefix="PUSH_", extra="ignore", frozen=True)

    port: int = Field(default=8000, ge=0, le=65535, description="where the Trigger delivers events")
    # Redeliveries of handled events recognised without running the handler again.
    ledger_size: int = Field(default=100_000, ge=1, le=10_000_000)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)


class ProcessJournal(EffectsJournal):
    """An effects journal in this process's memory. Push services have no broker connection to
    journal into; a redelivery to this instance finds its result here, and the idempotency key
    that every effect passes to the external system covers a redelivery to another replica."""

    def __init__(self) -> None:
        self._entries: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, result: str) -> None:
        with self._lock:
            self._entries[key] = result

    def refresh(self) -> None:
        return None

    def close(self) -> None:
        return None


@dataclass
class PushContext:
    settings: RuntimeSettings
    push: PushSettings
    metrics: Metrics

    def effect_guard(self) -> EffectGuard:
        journal = ProcessJournal()
        return EffectGuard(lambda: journal, self.metrics)


def run_push(build: Callable[[PushContext], Service]) -> int:
    runtime_settings, push_settings = load_all(RuntimeSettings, PushSettings)
    assert isinstance(runtime_settings, RuntimeSettings) and isinstance(push_settings, PushSettings)
    logs.configure(runtime_settings.service_name, runtime_settings.log_level.value)
    metrics = Metrics(runtime_settings.service_name)
    metrics.serve(runtime_settings.metrics_port)
    service = build(PushContext(runtime_settings, push_settings, metrics))
    receiver = PushReceiver(service, metrics, push_settings.port, ledger_size=push_settings.ledger_size,
                            max_body_bytes=push_settings.max_body_bytes).start()
    health = HealthServer(runtime_settings.health_port, live=receiver.alive, ready=receiver.ready).start()
    stop = threading.Event()
    install_stop_signals(stop.set)
    log.info("receiving pushed events", extra={"port": receiver.port, "health_port": health.port})
    stop.wait()
    log.info("shutdown requested; draining", extra={"timeout_s": runtime_settings.shutdown_timeout_s})
    receiver.drain_and_stop(runtime_settings.shutdown_timeout_s)
    health.stop()
    log.info("stopped cleanly")
    return 0
