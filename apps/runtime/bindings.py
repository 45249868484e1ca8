"""CloudEvents protocol bindings for brokers whose messages carry named string headers.

- AMQP binding (RabbitMQ, AMQP 0-9-1 headers table standing in for AMQP 1.0 application
  properties): binary mode puts each attribute in a `cloudEvents_<name>` header (`cloudEvents:`
  accepted on input), `datacontenttype` in the `content-type` property.
- NATS binding: binary mode puts each attribute in a `ce-<name>` NATS header, `datacontenttype`
  in `content-type`.

Structured mode (both): the whole event as JSON in the body, content type
`application/cloudevents+json`, encoded and parsed by the SDK's JSON event format. The partition
key (CloudEvents `partitionkey` extension) travels as `WireMessage.key`; each adapter maps that to
its broker (AMQP routing key, NATS header). `content-type` is a pseudo-header in `WireMessage`
that the RabbitMQ adapter maps to the AMQP `content-type` property.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat

from event_platform.apps.runtime.envelope import (
    CAUSATION_ID,
    CORRELATION_ID,
    JSON,
    PARTITION_KEY,
    ContentMode,
    Envelope,
    HeaderValue,
    WireEvent,
    WireMessage,
    attributes_of,
    header_text,
    require_v1_attributes,
    rfc3339,
    text_or_none,
)
from event_platform.apps.runtime.events import EventRegistry, MalformedEvent

CONTENT_TYPE = "content-type"
STRUCTURED_JSON = "application/cloudevents+json"
# Every prefix a CloudEvents header binding uses, so broker-neutral tools (the dlq CLI) can read
# attributes from any broker's records.
KNOWN_PREFIXES = ("ce_", "ce-", "cloudEvents_", "cloudEvents:")
_CORE_ATTRIBUTES = ("id", "source", "type", "specversion", "time", "subject")
_LEARNT_NAMES = 1024


def attribute(message: WireMessage, name: str) -> str | None:
    """A binary-mode CloudEvents attribute of `message`, whatever broker binding wrote it."""
    for header_name, value in message.headers:
        for prefix in KNOWN_PREFIXES:
            if header_name.startswith(prefix) and header_name[len(prefix):] == name:
                return header_text(value)
    return None


class HeaderBindingCodec:
    """Envelope ⇄ message for a header-based CloudEvents binding (see the module docstring)."""

    prefix: str = "ce-"
    accepted_prefixes: tuple[str, ...] = ("ce-",)

    def __init__(self, registry: EventRegistry, mode: ContentMode = ContentMode.BINARY) -> None:
        self.registry = registry
        self.mode = mode
        self._format = JSONFormat()
        self._names = {name: self.prefix + name for name in (*_CORE_ATTRIBUTES, CORRELATION_ID, CAUSATION_ID)}
        # Header name → CloudEvents attribute name ("" for any other header), learnt per name:
        # one dict lookup per header instead of matching every accepted prefix (this runs for
        # every header of every event). Bounded, as header names are free-form.
        self._attribute_of: dict[str, str] = {}

    # -- encode --------------------------------------------------------------------------------

    def encode(self, envelope: Envelope) -> WireMessage:
        key = envelope.key.encode() if envelope.key is not None else None
        if self.mode is ContentMode.BINARY:
            # Built directly (no attribute dict, no per-value type dispatch): this is per event.
            # Values stay text, as AMQP and NATS clients take them (see HeaderValue).
            names = self._names
            headers: list[tuple[str, HeaderValue]] = [
                (names["id"], envelope.id),
                (names["source"], envelope.source),
                (names["type"], envelope.payload.EVENT_TYPE),
                (names["specversion"], "1.0"),
                (names["time"], rfc3339(envelope.time)),
            ]
            if envelope.subject:
                headers.append((names["subject"], envelope.subject))
            if envelope.correlation_id:
                headers.append((names[CORRELATION_ID], envelope.correlation_id))
            if envelope.causation_id:
                headers.append((names[CAUSATION_ID], envelope.causation_id))
            headers.append((CONTENT_TYPE, JSON))
            return WireMessage(value=envelope.payload.json_bytes(), key=key, headers=tuple(headers))
        attributes = attributes_of(envelope)
        if envelope.key is not None:
            attributes[PARTITION_KEY] = envelope.key
        body = self._format.write(WireEvent(attributes, envelope.payload.model_dump(mode="json"), validate=False))
        return WireMessage(value=body, key=key, headers=((CONTENT_TYPE, STRUCTURED_JSON),))

    # -- decode --------------------------------------------------------------------------------

    def decode(self, wire: WireMessage) -> Envelope:
        """Raises MalformedEvent, UnknownEventType or InvalidPayload (all EventRejected)."""
        try:
            attributes, data = self._read(wire)
        except MalformedEvent:
            raise
        except (BaseCloudEventException, ValueError, TypeError, KeyError, AttributeError) as error:
            raise MalformedEvent(f"not a CloudEvent: {type(error).__name__}: {error}") from error
        require_v1_attributes(attributes)
        payload = self.registry.parse(attributes["type"], data)
        get = attributes.get
        key = wire.key.decode("utf-8", "replace") if wire.key else text_or_none(get(PARTITION_KEY))
        # Positional, optional attributes read inline: this runs for every event consumed.
        subject, correlation_id, causation_id = get("subject"), get(CORRELATION_ID), get(CAUSATION_ID)
        return Envelope(
            payload,
            str(attributes["source"]),
            str(attributes["id"]),
            _time(get("time")) or datetime.now(UTC),
            key,
            None if subject is None else str(subject),
            None if correlation_id is None else str(correlation_id),
            None if causation_id is None else str(causation_id),
        )

    def _read(self, wire: WireMessage) -> tuple[dict[str, Any], Any]:
        content_type: str | None = None
        attributes: dict[str, Any] = {}
        attribute_of = self._attribute_of
        for name, raw in wire.headers:
            attribute = attribute_of.get(name)
            if attribute is None:
                attribute = self._learn(name)
            if attribute:
                attributes[attribute] = raw if isinstance(raw, str) else raw.decode()
            elif name == CONTENT_TYPE or name.lower() == CONTENT_TYPE:
                content_type = raw if isinstance(raw, str) else raw.decode()
        if content_type is not None and content_type.startswith("application/cloudevents"):
            event = self._format.read(WireEvent, wire.value)
            return event.get_attributes(), event.get_data()
        if not attributes:
            raise MalformedEvent("not a CloudEvent: no CloudEvents headers and not structured mode")
        if content_type not in (None, JSON):
            raise MalformedEvent(f"data must be {JSON}, got {content_type!r}")
        # Bytes go to pydantic as they are: it parses and validates JSON in one pass.
        return attributes, wire.value or None

    def _learn(self, name: str) -> str:
        attribute = next((name[len(prefix):] for prefix in self.accepted_prefixes if name.startswith(prefix)), "")
        if len(self._attribute_of) < _LEARNT_NAMES:
            self._attribute_of[name] = attribute
        return attribute


class AmqpCodec(HeaderBindingCodec):
    """The CloudEvents AMQP binding (`cloudEvents_` application properties)."""

    prefix = "cloudEvents_"
    accepted_prefixes = ("cloudEvents_", "cloudEvents:")


class NatsCodec(HeaderBindingCodec):
    """The CloudEvents NATS binding (`ce-` headers)."""

    prefix = "ce-"
    accepted_prefixes = ("ce-",)


def _time(value: object) -> datetime | None:
    """RFC 3339 text (what we write) or an AMQP timestamp in ms (what AMQP 1.0 senders write)."""
    if value is None or isinstance(value, datetime):
        return value
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    try:
        return datetime.fromisoformat(text)
    except ValueError as error:
        raise MalformedEvent(f"not a CloudEvent: time {text!r} is not RFC 3339") from error
