"""Which broker adapter a process uses: `BROKER=kafka|rabbitmq|nats` (RuntimeSettings.broker).

Services never import an adapter themselves: `event_platform.apps.runtime.app` builds the `Broker` here from the
environment, and everything broker-specific (the CloudEvents binding included, via
`Broker.codec`) comes from it.
"""

from __future__ import annotations

import os

from pydantic_settings import BaseSettings

from event_platform.apps.runtime.adapter import Broker
from event_platform.apps.runtime.settings import KafkaSettings, NatsSettings, RabbitMQSettings, RuntimeSettings, load

SETTINGS: dict[str, type[BaseSettings]] = {
    "kafka": KafkaSettings,
    "rabbitmq": RabbitMQSettings,
    "nats": NatsSettings,
}


def settings_type(kind: str | None = None) -> type[BaseSettings]:
    """The connection settings model for BROKER (read from the environment if not given). An
    unknown BROKER falls back to Kafka's here; RuntimeSettings reports it as invalid."""
    kind = kind or os.environ.get("BROKER", "kafka")
    return SETTINGS.get(kind, KafkaSettings)


def broker_for(settings: RuntimeSettings, connection: BaseSettings, *, transactional: bool = True) -> Broker:
    """The adapter for `settings.broker`, configured from the runtime settings."""
    if isinstance(connection, RabbitMQSettings):
        from event_platform.apps.runtime.rabbitmq import RabbitMQBroker

        dlq = settings.dead_letter_topic
        return RabbitMQBroker(connection, dead_letter_topic=(lambda group: dlq or f"{group}.dlq"),
                              prefetch=max(connection.prefetch, settings.max_poll_records))
    if isinstance(connection, NatsSettings):
        from event_platform.apps.runtime.nats import NatsBroker

        dlq = settings.dead_letter_topic
        return NatsBroker(connection, dead_letter_topic=(lambda group: dlq or f"{group}.dlq"),
                          ack_wait_s=settings.session_timeout_ms / 1000, prefetch=2 * settings.max_poll_records)
    assert isinstance(connection, KafkaSettings)
    from event_platform.apps.runtime.kafka import KafkaBroker

    return KafkaBroker(
        connection,
        transactional_id=settings.txn_id if transactional else None,
        auto_offset_reset=settings.auto_offset_reset.value,
        session_timeout_ms=settings.session_timeout_ms,
        transaction_timeout_ms=settings.transaction_timeout_ms,
    )


def broker_from_environment() -> Broker:
    """A non-transactional broker for tools (the dlq CLI), from BROKER and its settings."""
    kind = os.environ.get("BROKER", "kafka")
    connection = load(settings_type(kind))
    if kind == "kafka":
        from event_platform.apps.runtime.kafka import KafkaBroker

        assert isinstance(connection, KafkaSettings)
        return KafkaBroker(connection)
    return broker_for(RuntimeSettings(service_name="dlq-tool", broker=kind), connection)  # type: ignore[arg-type]
