"""Connecting to RabbitMQ (with backoff) and declaring a topic's exchange and stream."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from event_platform.apps.runtime.adapter import (
    BrokerError,
)
from event_platform.apps.runtime.retry import connect_with_backoff
from event_platform.apps.runtime.settings import RabbitMQSettings

log = logging.getLogger(__name__)

PERSISTENT = 2
FENCE_HEADER = "x-eventplatform-fence"
STREAM_PREFETCH = 1_000
SEND_TIMEOUT_S = 30.0
BATCH = 500  # queued publishes confirmed together
CONFIRM_POLL_S = 0.001
LINGER_S = 0.005
AMQP_ERRORS = (pika.exceptions.AMQPError, OSError)


# -- connections ---------------------------------------------------------------------------------


def connect(settings: RabbitMQSettings, *, heartbeat_s: int | None = None,
            timeout_s: float | None = None) -> pika.BlockingConnection:
    """A connection, retried with exponential backoff and full jitter for up to `timeout_s`."""
    # pika narrates every connection step at INFO; failures reach us as exceptions anyway.
    logging.getLogger("pika").setLevel(logging.WARNING)
    parameters = pika.URLParameters(settings.url)
    parameters.heartbeat = settings.heartbeat_s if heartbeat_s is None else heartbeat_s
    parameters.blocked_connection_timeout = 30
    parameters.socket_timeout = 5
    return connect_with_backoff(
        lambda: pika.BlockingConnection(parameters), AMQP_ERRORS,
        settings.connect_timeout_s if timeout_s is None else timeout_s,
        lambda error: BrokerError(f"cannot connect to RabbitMQ at {_safe(settings.url)}: {error!r}"))


def _safe(url: str) -> str:
    """The URL without credentials, for messages."""
    return url.split("@", 1)[-1]


def declare_topic(channel: BlockingChannel, topic: str) -> None:
    """Exchange `topic` (fanout) → stream `topic`. Retention is a policy matter (max-age)."""
    channel.exchange_declare(topic, exchange_type="fanout", durable=True)
    channel.queue_declare(topic, durable=True, arguments={"x-queue-type": "stream"})
    channel.queue_bind(topic, topic)


def declare_topics(settings: RabbitMQSettings, topics: Sequence[str]) -> None:
    connection = connect(settings)
    try:
        channel = connection.channel()
        for topic in topics:
            declare_topic(channel, topic)
    except AMQP_ERRORS as error:
        raise BrokerError(f"declaring {list(topics)} failed: {error!r}") from error
    finally:
        _close_quietly(connection)


def _close_quietly(connection: pika.BlockingConnection | None) -> None:
    if connection is None:
        return
    try:
        if connection.is_open:
            connection.close()
    except Exception:  # closing after a broker failure may fail again
        log.debug("closing a RabbitMQ connection failed", exc_info=True)


# -- wire mapping --------------------------------------------------------------------------------
