"""kafka-python options: connection/security from settings, and the durability settings."""

from __future__ import annotations

from typing import Any

from event_platform.apps.runtime.adapter import InboundRecord
from event_platform.apps.runtime.envelope import WireMessage
from event_platform.apps.runtime.settings import KafkaSettings

SEND_TIMEOUT_S = 30.0


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """kafka-python options shared by producers, consumers and admin clients."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "security_protocol": settings.security_protocol.value,
        "reconnect_backoff_max_ms": 2_000,  # a restarted broker is found again within seconds
    }
    if settings.client_id:
        options["client_id"] = settings.client_id
    if settings.sasl_mechanism:
        options["sasl_mechanism"] = settings.sasl_mechanism.value
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = settings.sasl_password
    for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        if (path := getattr(settings, name)) is not None:
            options[name] = str(path)
    return options


def durable_producer_options() -> dict[str, Any]:
    """The durability settings every producer here uses (and the benchmark's baseline too)."""
    return {
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        # send() blocks at most this long for metadata or buffer space, so a caller (an HTTP
        # request, say) learns about an unreachable broker in seconds rather than a minute.
        "max_block_ms": 10_000,
    }


def record_headers(message: WireMessage) -> list[tuple[str, bytes]]:
    # Only bytes reach a Kafka producer: the Kafka codec writes bytes, Kafka consumers read bytes
    # and dead letters add bytes (see HeaderValue); a stray str fails loudly in kafka-python.
    # Neither converted nor cast at run time: this runs for every record sent.
    return list(message.headers)  # type: ignore[arg-type]


def inbound_record(record: Any) -> InboundRecord:
    return InboundRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        message=WireMessage(value=record.value or b"", key=record.key, headers=tuple(record.headers or ())),
        timestamp_ms=record.timestamp,
    )
