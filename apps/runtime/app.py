"""Process wiring shared by every service: settings → logs, metrics, probes, broker → run.

`run(build)` is what each service's `__main__` calls; `build` turns a `ServiceContext` into the
service. SIGTERM and SIGINT start a graceful drain bounded by SHUTDOWN_TIMEOUT_S.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

from pydantic_settings import BaseSettings

from event_platform.apps.runtime import logs
from event_platform.apps.runtime.adapter import Broker
from event_platform.apps.runtime.brokers import broker_for, settings_type
from event_platform.apps.runtime.effects import EffectGuard
from event_platform.apps.runtime.health import HealthServer
from event_platform.apps.runtime.metrics import Metrics
from event_platform.apps.runtime.processor import Processor, ProcessorOptions
from event_platform.apps.runtime.retry import RetryPolicy
from event_platform.apps.runtime.service import Service
from event_platform.apps.runtime.settings import RuntimeSettings, load_all

log = logging.getLogger(__name__)


@dataclass
class ServiceContext:
    settings: RuntimeSettings
    # KafkaSettings, RabbitMQSettings or NatsSettings, per BROKER (event_platform.apps.runtime.brokers).
    broker_settings: BaseSettings
    broker: Broker
    metrics: Metrics
    # Extra conditions for /readyz besides "consuming with partitions assigned".
    readiness_checks: list[Callable[[], bool]] = field(default_factory=list)

    def effect_guard(self) -> EffectGuard:
        topic = self.settings.journal_topic
        return EffectGuard(lambda: self.broker.journal(topic), self.metrics)


def run(build: Callable[[ServiceContext], tuple[Service, EffectGuard | None]]) -> int:
    runtime_settings, broker_settings = load_all(RuntimeSettings, settings_type())
    assert isinstance(runtime_settings, RuntimeSettings)
    settings = runtime_settings
    logs.configure(settings.service_name, settings.log_level.value)
    metrics = Metrics(settings.service_name)
    metrics.serve(settings.metrics_port)
    context = ServiceContext(settings, broker_settings, broker_for(settings, broker_settings), metrics)
    service, effects = build(context)
    processor = Processor(
        service,
        context.broker,
        context.broker.codec(service.registry, settings.content_mode),
        ProcessorOptions(
            group=settings.group,
            dead_letter_topic=settings.dlq_topic,
            max_poll_records=settings.max_poll_records,
            shutdown_timeout_s=settings.shutdown_timeout_s,
        ),
        metrics=metrics,
        retry=RetryPolicy(
            max_attempts=settings.max_attempts,
            initial_delay_s=settings.retry_initial_delay_ms / 1000,
            max_delay_s=settings.retry_max_delay_ms / 1000,
        ),
        effects=effects,
    )
    def ready() -> bool:
        return processor.is_ready() and all(check() for check in context.readiness_checks)

    health = HealthServer(settings.health_port, live=processor.heartbeat.alive, ready=ready).start()
    install_stop_signals(processor.request_stop)
    log.info("starting", extra={"group": settings.group, "dlq": settings.dlq_topic, "health_port": health.port})
    try:
        return processor.run()
    finally:
        health.stop()


def install_stop_signals(stop: Callable[[], None]) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
