"""Which broker adapter a process uses: `BROKER=kafka|rabbitmq|nats` (RuntimeSettings.broker).

Services never import an adapter themselves: `event_platform.apps.runtime.app` builds the `Broker` here from the
environment, and everything broker-specific (the CloudEvents binding included, via
`Broker.codec`) comes from it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from pydantic_settings import BaseSettings

from event_platform.apps.runtime.adapter import Broker
from event_platform.apps.runtime.settings import KafkaSettings, NatsSettings, RabbitMQSettings, RuntimeSettings, load


def _kafka(settings: RuntimeSettings, connection: BaseSettings, transactional: bool) -> Broker:
    from event_platform.apps.runtime.kafka import KafkaBroker

    assert isinstance(connection, KafkaSettings)
    return KafkaBroker(
        connection,
        transactional_id=settings.txn_id if transactional else None,
        auto_offset_reset=settings.auto_offset_reset.value,
        session_timeout_ms=settings.session_timeout_ms,
        transaction_timeout_ms=settings.transaction_timeout_ms,
    )


def _kafka_tool(connection: BaseSettings) -> Broker:
    from event_platform.apps.runtime.kafka import KafkaBroker

    assert isinstance(connection, KafkaSettings)
    return KafkaBroker(connection)


def _rabbitmq(settings: RuntimeSettings, connection: BaseSettings, transactional: bool) -> Broker:
    from event_platform.apps.runtime.rabbitmq import RabbitMQBroker

    assert isinstance(connection, RabbitMQSettings)
    dlq = settings.dead_letter_topic
    return RabbitMQBroker(connection, dead_letter_topic=(lambda group: dlq or f"{group}.dlq"),
                          prefetch=max(connection.prefetch, settings.max_poll_records))


def _nats(settings: RuntimeSettings, connection: BaseSettings, transactional: bool) -> Broker:
    from event_platform.apps.runtime.nats import NatsBroker

    assert isinstance(connection, NatsSettings)
    dlq = settings.dead_letter_topic
    return NatsBroker(connection, dead_letter_topic=(lambda group: dlq or f"{group}.dlq"),
                      ack_wait_s=settings.session_timeout_ms / 1000, prefetch=2 * settings.max_poll_records)


@dataclass(frozen=True)
class Adapter:
    """One broker as the runtime sees it: its connection settings model, and how to build its
    adapter (imported only then, so a process loads one broker's client library)."""

    settings: type[BaseSettings]
    build: Callable[[RuntimeSettings, BaseSettings, bool], Broker]  # (settings, connection, transactional)
    tool: Callable[[BaseSettings], Broker] | None = None  # for tools; default: build, not transactional


# Registered by BROKER; a new broker adds its line here (and its settings model).
ADAPTERS: dict[str, Adapter] = {
    "kafka": Adapter(KafkaSettings, _kafka, tool=_kafka_tool),
    "rabbitmq": Adapter(RabbitMQSettings, _rabbitmq),
    "nats": Adapter(NatsSettings, _nats),
}
SETTINGS: dict[str, type[BaseSettings]] = {kind: adapter.settings for kind, adapter in ADAPTERS.items()}


def settings_type(kind: str | None = None) -> type[BaseSettings]:
    """The connection settings model for BROKER (read from the environment if not given). An
    unknown BROKER falls back to Kafka's here; RuntimeSettings reports it as invalid."""
    kind = kind or os.environ.get("BROKER", "kafka")
    return SETTINGS.get(kind, KafkaSettings)


def broker_for(settings: RuntimeSettings, connection: BaseSettings, *, transactional: bool = True) -> Broker:
    """The adapter for `settings.broker`, configured from the runtime settings."""
    return ADAPTERS[settings.broker].build(settings, connection, transactional)


def broker_from_environment() -> Broker:
    """A non-transactional broker for tools (the dlq CLI), from BROKER and its settings."""
    # Validated first: an unknown BROKER is refused with the allowed values.
    settings = RuntimeSettings(service_name="dlq-tool", broker=os.environ.get("BROKER", "kafka"))  # type: ignore[arg-type]
    adapter = ADAPTERS[settings.broker]
    connection = load(adapter.settings)
    return adapter.tool(connection) if adapter.tool is not None else adapter.build(settings, connection, False)
