"""The CloudEvents 1.0 envelope around every payload, and its Kafka protocol binding.

Encoding and decoding go through the official `cloudevents` SDK (`cloudevents.core`), binary
content mode by default (attributes in `ce_*` headers, payload as the record value) and
structured mode accepted on input and selectable on output. Two extension attributes travel
with every event: `correlationid` (one id for a whole saga, set by the first event) and
`causationid` (the id of the event this one was derived from).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat

from event_platform.apps.runtime.events import EventPayload, EventRegistry, MalformedEvent

JSON = "application/json"
CORRELATION_ID = "correlationid"
CAUSATION_ID = "causationid"
PARTITION_KEY = "partitionkey"
TIME_HEADER = "ce_time"
ID_HEADER = "ce_id"
_JSON_BYTES = JSON.encode()


_VERSION_4 = (0x4000 << 64) | (0x8000 << 48)  # RFC 9562 version nibble and variant bits
_VERSION_4_MASK = ~((0xF000 << 64) | (0xC000 << 48))


def new_event_id() -> str:
    """A random (version 4) UUID for a new event, in its canonical text form.

    Not `uuid.uuid4()`: it calls os.urandom, which releases the GIL, and on a busy producer the
    main thread then waits for kafka-python's sender thread to hand the GIL back (measured at
    ~200 µs per event here). Event ids need uniqueness, not unpredictability, so the stdlib PRNG
    (seeded from os.urandom, reseeded after fork) is enough.
    """
    hex_digits = f"{random.getrandbits(128) & _VERSION_4_MASK | _VERSION_4:032x}"
    return f"{hex_digits[:8]}-{hex_digits[8:12]}-{hex_digits[12:16]}-{hex_digits[16:20]}-{hex_digits[20:]}"


class ContentMode(StrEnum):
    BINARY = "binary"
    STRUCTURED = "structured"


@dataclass(frozen=True, init=False)
class Envelope:
    """One event: CloudEvents context attributes plus a typed payload. Immutable; a new event
    gets a fresh id and the current time unless they are given."""

    payload: EventPayload
    source: str
    id: str
    time: datetime
    key: str | None
    subject: str | None
    correlation_id: str | None
    causation_id: str | None

    def __init__(
        self,
        payload: EventPayload,
        source: str,
        id: str | None = None,
        time: datetime | None = None,
        key: str | None = None,
        subject: str | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> None:
        # Straight into the instance dict instead of the frozen dataclass's eight
        # object.__setattr__ calls: an envelope is built per event on both sides.
        fields = self.__dict__
        fields["payload"] = payload
        fields["source"] = source
        fields["id"] = new_event_id() if id is None else id
        fields["time"] = datetime.now(UTC) if time is None else time
        fields["key"] = key
        fields["subject"] = subject
        fields["correlation_id"] = correlation_id
        fields["causation_id"] = causation_id

    @property
    def type(self) -> str:
        return self.payload.EVENT_TYPE

    def caused(self, payload: EventPayload, source: str, *, key: str | None = None) -> Envelope:
        """An event derived from this one: same saga (correlation), this one as its cause.

        Its id is derived from (this id, new type), so re-running a handler for a redelivered
        event yields the same ids again, which downstream dedup relies on.
        """
        return Envelope(
            payload=payload,
            source=source,
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.id}/{payload.EVENT_TYPE}")),
            key=self.key if key is None else key,
            subject=self.subject,
            correlation_id=self.correlation_id or self.id,
            causation_id=self.id,
        )


# A header value as the broker's client carries it: bytes on Kafka, text on AMQP and NATS (pika
# and nats-py hand over decoded strings). Each adapter keeps its client's form rather than
# encoding every header of every record to bytes on receipt, for the codec to decode it again
# (and the reverse when publishing).
HeaderValue = bytes | str


def header_text(value: HeaderValue) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "surrogateescape")


class WireMessage(NamedTuple):
    """A broker-neutral record body: key, value bytes and ordered headers (see HeaderValue).

    (A NamedTuple rather than a frozen dataclass: one is built per record on the hot path, and
    this is three times cheaper to construct.)
    """

    value: bytes
    key: bytes | None = None
    headers: tuple[tuple[str, HeaderValue], ...] = ()

    def header(self, name: str) -> str | None:
        """The first header called `name`, as text."""
        for header_name, value in self.headers:
            if header_name == name:
                return header_text(value)
        return None


class Codec(Protocol):
    """Envelope ⇄ broker record, per the broker's CloudEvents protocol binding."""

    registry: EventRegistry

    def encode(self, envelope: Envelope) -> WireMessage: ...

    def decode(self, wire: WireMessage) -> Envelope:
        """Raises MalformedEvent, UnknownEventType or InvalidPayload (all EventRejected)."""
        ...


class KafkaCodec:
    """Envelope ⇄ Kafka record via the CloudEvents Kafka protocol binding."""

    def __init__(self, registry: EventRegistry, mode: ContentMode = ContentMode.BINARY) -> None:
        self.registry = registry
        self.mode = mode
        self._format = _PayloadBytesFormat()

    def encode(self, envelope: Envelope) -> WireMessage:
        key = envelope.key.encode() if envelope.key is not None else None
        if self.mode is ContentMode.BINARY:
            # The headers the SDK's binding writes, in its order, built directly: through the SDK
            # (attribute dict, event object, per-attribute dispatch) encoding took twice the
            # instructions, per event produced. tests/apps/unit/test_envelope.py compares the two.
            # The partition key travels as the record key only (the binding maps it back on
            # decode), not also as a header: every header costs kafka-python time on both ends.
            headers = [
                (ID_HEADER, envelope.id.encode()),
                ("ce_source", envelope.source.encode()),
                ("ce_type", envelope.payload.EVENT_TYPE.encode()),
                ("ce_specversion", b"1.0"),
                (TIME_HEADER, rfc3339(envelope.time).encode()),
                ("content-type", _JSON_BYTES),
            ]
            if envelope.subject:
                headers.append(("ce_subject", envelope.subject.encode()))
            if envelope.correlation_id:
                headers.append(("ce_" + CORRELATION_ID, envelope.correlation_id.encode()))
            if envelope.causation_id:
                headers.append(("ce_" + CAUSATION_ID, envelope.causation_id.encode()))
            return WireMessage(envelope.payload.json_bytes(), key, tuple(headers))
        attributes = attributes_of(envelope)
        attributes[PARTITION_KEY] = envelope.key
        event = WireEvent(attributes, envelope.payload.model_dump(mode="json"), validate=False)
        message = ce_kafka.to_structured(event, self._format, _no_key)
        return WireMessage(value=message.value, key=key, headers=tuple(message.headers.items()))

    def decode(self, wire: WireMessage) -> Envelope:
        """Raises MalformedEvent, UnknownEventType or InvalidPayload (all EventRejected)."""
        event = self._to_cloudevent(wire)
        attributes = event.get_attributes()
        payload = self.registry.parse(attributes["type"], event.get_data())
        return Envelope(
            payload=payload,
            source=attributes["source"],
            id=attributes["id"],
            time=attributes.get("time") or datetime.now(UTC),
            key=text_or_none(attributes.get(PARTITION_KEY)),
            subject=attributes.get("subject"),
            correlation_id=text_or_none(attributes.get(CORRELATION_ID)),
            causation_id=text_or_none(attributes.get(CAUSATION_ID)),
        )

    def _to_cloudevent(self, wire: WireMessage) -> BaseCloudEvent:
        # Kafka records carry bytes headers only (Kafka consumers, this codec and the dead
        # letters of Kafka records all write bytes); see HeaderValue.
        headers: dict[str, bytes] = dict(wire.headers)  # type: ignore[arg-type]  # (no cast per record)
        # The binding parses `ce_time` with dateutil (~40x slower than the stdlib's RFC 3339
        # parser on the hot path), so the header is taken out here and parsed below.
        time_header = headers.pop(TIME_HEADER, None)
        message = ce_kafka.KafkaMessage(headers=headers, key=wire.key, value=wire.value)
        # The binding's mode detection (any `ce_` header means binary mode), without scanning
        # the headers twice.
        binary = ID_HEADER in headers or any(name.lower().startswith("ce_") for name in headers)
        try:
            if binary:
                event = ce_kafka.from_binary(message, self._format, WireEvent)
            else:
                event = ce_kafka.from_structured(message, self._format, WireEvent)
            if time_header is not None:
                event.get_attributes()["time"] = datetime.fromisoformat(header_text(time_header))
        except (BaseCloudEventException, ValueError, TypeError, KeyError, AttributeError) as error:
            # ValueError covers broken JSON / UTF-8 and unparseable `time` values.
            raise MalformedEvent(f"not a CloudEvent: {type(error).__name__}: {error}") from error
        return event


class _PayloadBytesFormat(JSONFormat):
    """The SDK's JSON format, except that binary-mode data stays bytes: pydantic then parses
    and validates the JSON in one pass, about twice as fast as json.loads + validate."""

    def read_data(self, body: bytes, datacontenttype: str | None) -> bytes | None:
        if datacontenttype not in (None, JSON):
            raise MalformedEvent(f"data must be {JSON}, got {datacontenttype!r}")
        return body or None


class WireEvent:
    """A CloudEvents 1.0 event as the SDK's `BaseCloudEvent` protocol sees it.

    The SDK's own `CloudEvent` re-validates every attribute on construction; envelopes we build
    are valid by construction, and inbound events get the spec's required-attribute checks
    here, which is all the processor relies on.
    """

    def __init__(
        self, attributes: dict[str, Any], data: dict[str, Any] | str | bytes | None = None, *, validate: bool = True
    ) -> None:
        if validate:
            require_v1_attributes(attributes)
        self._attributes = attributes
        self._data = data

    def get_id(self) -> str:
        return str(self._attributes["id"])

    def get_source(self) -> str:
        return str(self._attributes["source"])

    def get_type(self) -> str:
        return str(self._attributes["type"])

    def get_specversion(self) -> str:
        return str(self._attributes["specversion"])

    def get_datacontenttype(self) -> str | None:
        return self._attributes.get("datacontenttype")

    def get_dataschema(self) -> str | None:
        return self._attributes.get("dataschema")

    def get_subject(self) -> str | None:
        return self._attributes.get("subject")

    def get_time(self) -> datetime | None:
        return self._attributes.get("time")

    def get_extension(self, extension_name: str) -> Any:
        return self._attributes.get(extension_name)

    def get_data(self) -> dict[str, Any] | str | bytes | None:
        return self._data

    def get_attributes(self) -> dict[str, Any]:
        return self._attributes


def require_v1_attributes(attributes: dict[str, Any]) -> None:
    get = attributes.get
    event_id, source, event_type = get("id"), get("source"), get("type")
    # The usual case in one test (this runs for every event consumed); the checks below say
    # what is wrong otherwise.
    if (get("specversion") == "1.0" and event_id.__class__ is str and source.__class__ is str
            and event_type.__class__ is str and event_id and source and event_type):
        return
    if attributes.get("specversion") != "1.0":
        raise MalformedEvent(f"specversion must be '1.0', got {attributes.get('specversion')!r}")
    for name in ("id", "source", "type"):
        value = attributes.get(name)
        if not isinstance(value, str) or not value:
            raise MalformedEvent(f"required CloudEvents attribute {name!r} is missing or empty")


def attributes_of(envelope: Envelope) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "id": envelope.id,
        "source": envelope.source,
        "type": envelope.type,
        "specversion": "1.0",
        "time": envelope.time,
        "datacontenttype": JSON,
    }
    if envelope.subject:
        attributes["subject"] = envelope.subject
    if envelope.correlation_id:
        attributes[CORRELATION_ID] = envelope.correlation_id
    if envelope.causation_id:
        attributes[CAUSATION_ID] = envelope.causation_id
    return attributes


def _no_key(event: BaseCloudEvent) -> None:
    return None  # the record key is set from Envelope.key directly


def rfc3339(value: object) -> str:
    """A CloudEvents `time` as the bindings write it (UTC as `Z`), or any other value as text."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def text_or_none(value: object) -> str | None:
    return None if value is None else str(value)
