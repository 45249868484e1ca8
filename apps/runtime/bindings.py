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

from apps.runtime.envelope import (
    CAUSATION_ID,
    CORRELATION_ID,
    JSON,
    PARTITION_KEY,
    ContentMode,
    Envelope,
    WireEvent,
    WireMessage,
    attributes_of,
    require_v1_attributes,
    text_or_none,
)
from apps.runtime.events import EventRegistry, MalformedEvent

CONTENT_TYPE = "content-type"
STRUCTURED_JSON = "application/cloudevents+json"
_JSON_BYTES = JSON.encode()
# Every prefix a CloudEvents header binding uses, so broker-neutral tools (the dlq CLI) can read
# attributes from any broker's records.
KNOWN_PREFIXES = ("ce_", "ce-", "cloudEvents_", "cloudEvents:")


def attribute(message: WireMessage, name: str) -> str | None:
    """A binary-mode CloudEvents attribute of `message`, whatever broker binding wrote it."""
    for header_name, value in message.headers:
        for prefix in KNOWN_PREFIXES:
            if header_name.startswith(prefix) and header_name[len(prefix):] == name:
                return value.decode("utf-8", "replace")
    return None


class HeaderBindingCodec:
    """Envelope ⇄ message for a header-based CloudEvents binding (see the module docstring)."""

    prefix: str = "ce-"
    accepted_prefixes: tuple[str, ...] = ("ce-",)

    def __init__(self, registry: EventRegistry, mode: ContentMode = ContentMode.BINARY) -> None:
        self.registry = registry
        self.mode = mode
        self._format = JSONFormat()
        # Prefix lookup by slicing, per distinct prefix length (one for either binding): a
        # startswith per prefix per header was a tenth of a consumer's time per event.
        self._prefix_lengths = sorted({len(prefix) for prefix in self.accepted_prefixes})
        self._prefixes = frozenset(self.accepted_prefixes)

    # -- encode --------------------------------------------------------------------------------

    def encode(self, envelope: Envelope) -> WireMessage:
        key = envelope.key.encode() if envelope.key is not None else None
        if self.mode is ContentMode.BINARY:
            # Built directly (no attribute dict, no per-value type dispatch): this is per event.
            prefix = self.prefix
            headers = [
                (prefix + "id", envelope.id.encode()),
                (prefix + "source", envelope.source.encode()),
                (prefix + "type", envelope.payload.EVENT_TYPE.encode()),
                (prefix + "specversion", b"1.0"),
                (prefix + "time", _text(envelope.time).encode()),
            ]
            if envelope.subject:
                headers.append((prefix + "subject", envelope.subject.encode()))
            if envelope.correlation_id:
                headers.append((prefix + CORRELATION_ID, envelope.correlation_id.encode()))
            if envelope.causation_id:
                headers.append((prefix + CAUSATION_ID, envelope.causation_id.encode()))
            headers.append((CONTENT_TYPE, _JSON_BYTES))
            return WireMessage(value=envelope.payload.json_bytes(), key=key, headers=tuple(headers))
        attributes = attributes_of(envelope)
        if envelope.key is not None:
            attributes[PARTITION_KEY] = envelope.key
        body = self._format.write(WireEvent(attributes, envelope.payload.model_dump(mode="json"), validate=False))
        return WireMessage(value=body, key=key, headers=((CONTENT_TYPE, STRUCTURED_JSON.encode()),))

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
        key = wire.key.decode("utf-8", "replace") if wire.key else text_or_none(attributes.get(PARTITION_KEY))
        return Envelope(
            payload=payload,
            source=str(attributes["source"]),
            id=str(attributes["id"]),
            time=_time(attributes.get("time")) or datetime.now(UTC),
            key=key,
            subject=text_or_none(attributes.get("subject")),
            correlation_id=text_or_none(attributes.get(CORRELATION_ID)),
            causation_id=text_or_none(attributes.get(CAUSATION_ID)),
        )

    def _read(self, wire: WireMessage) -> tuple[dict[str, Any], Any]:
        content_type: str | None = None
        attributes: dict[str, Any] = {}
        prefixes, lengths = self._prefixes, self._prefix_lengths
        for name, raw in wire.headers:
            for length in lengths:
                if name[:length] in prefixes:
                    attributes[name[length:]] = raw.decode()
                    break
            else:
                if name == CONTENT_TYPE or name.lower() == CONTENT_TYPE:
                    content_type = raw.decode()
        if content_type is not None and content_type.startswith("application/cloudevents"):
            event = self._format.read(WireEvent, wire.value)
            return event.get_attributes(), event.get_data()
        if not attributes:
            raise MalformedEvent("not a CloudEvent: no CloudEvents headers and not structured mode")
        if content_type not in (None, JSON):
            raise MalformedEvent(f"data must be {JSON}, got {content_type!r}")
        # Bytes go to pydantic as they are: it parses and validates JSON in one pass.
        return attributes, wire.value or None


class AmqpCodec(HeaderBindingCodec):
    """The CloudEvents AMQP binding (`cloudEvents_` application properties)."""

    prefix = "cloudEvents_"
    accepted_prefixes = ("cloudEvents_", "cloudEvents:")


class NatsCodec(HeaderBindingCodec):
    """The CloudEvents NATS binding (`ce-` headers)."""

    prefix = "ce-"
    accepted_prefixes = ("ce-",)


def _text(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


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
