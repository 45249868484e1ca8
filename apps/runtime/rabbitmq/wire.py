"""The AMQP CloudEvents binding on the wire: a WireMessage ⇄ AMQP properties and body."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from pika.spec import BasicProperties

from event_platform.apps.runtime import deadletter
from event_platform.apps.runtime.bindings import CONTENT_TYPE
from event_platform.apps.runtime.envelope import HeaderValue, WireMessage, header_text
from event_platform.apps.runtime.rabbitmq.connection import PERSISTENT


def properties_of(message: WireMessage) -> BasicProperties:
    headers: dict[str, Any] = {}
    content_type = None
    for name, value in message.headers:
        if name == CONTENT_TYPE:
            content_type = header_text(value)
        else:
            headers[name] = header_text(value)
    event_id = headers.get("cloudEvents_id") or headers.get("cloudEvents:id")
    return BasicProperties(delivery_mode=PERSISTENT, content_type=content_type, headers=headers or None,
                           message_id=event_id)


def routing_key_of(message: WireMessage) -> str:
    """The record key travels as the routing key (fanout exchanges ignore it for routing)."""
    return message.key.decode("utf-8", "surrogateescape") if message.key else ""


def wire_of(properties: BasicProperties, body: bytes, routing_key: str) -> WireMessage:
    table = properties.headers or {}
    if _without_broker_headers(tuple(table)) and _TEXT_TYPES.issuperset(map(type, table.values())):
        # The usual delivery, copied in one step: text headers only (as pika decoded them),
        # none of the broker's. This runs for every delivery.
        headers = tuple(table.items())
    else:
        # `x-` headers are broker bookkeeping (x-death, x-delivery-count, x-stream-offset), not
        # the record's headers; other values become text (numbers, timestamps) or stay bytes.
        headers = tuple((name, value if isinstance(value, str) else _value(value))
                        for name, value in table.items() if not name.startswith("x-"))
    if properties.content_type:
        headers += ((CONTENT_TYPE, properties.content_type),)
    death = _first_death(properties) if "x-death" in table else None
    if death is not None and not any(name == deadletter.REASON for name, _ in headers):
        headers += tuple(_death_headers(death))
    key = routing_key.encode("utf-8", "surrogateescape") if routing_key else None
    return WireMessage(body, key, headers)  # positional: keywords cost more per delivery


_TEXT_TYPES = frozenset({str, bytes})


@functools.lru_cache(maxsize=256)
def _without_broker_headers(names: tuple[str, ...]) -> bool:
    """Whether no header name is the broker's (`x-`): decided once per set of names."""
    return not any(name.startswith("x-") for name in names)


def _value(value: Any) -> HeaderValue:
    """A header value pika decoded to something other than text: byte arrays stay bytes, numbers
    and timestamps become their text."""
    return value if isinstance(value, bytes) else str(value)


def _first_death(properties: BasicProperties) -> dict[str, Any] | None:
    deaths = (properties.headers or {}).get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        return deaths[0]
    return None


def _death_headers(death: dict[str, Any]) -> list[tuple[str, HeaderValue]]:
    """`dlq.*` headers for a message the broker dead-lettered (delivery limit exceeded)."""
    queue = header_text(_value(death.get("queue", "?")))
    topic = header_text(_value(death.get("exchange", "?")))
    group = queue[: -len(topic) - 1] if queue.endswith("." + topic) else queue
    when = death.get("time")
    stamp = when.isoformat() if isinstance(when, datetime) else ""
    reason = header_text(_value(death.get("reason", "?"))).replace("_", "-")
    return [
        (deadletter.REASON, reason),
        (deadletter.ERROR, f"RabbitMQ dead-lettered the message from queue {queue} ({reason})"),
        (deadletter.ATTEMPTS, str(death.get("count", 1))),
        (deadletter.FIRST_FAILURE, stamp),
        (deadletter.LAST_FAILURE, stamp),
        (deadletter.SOURCE_TOPIC, topic),
        (deadletter.SOURCE_PARTITION, "0"),
        (deadletter.SOURCE_OFFSET, "-1"),
        (deadletter.CONSUMER_GROUP, group),
    ]
