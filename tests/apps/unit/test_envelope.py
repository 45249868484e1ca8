"""The CloudEvents envelope and its Kafka binding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from event_platform.apps.runtime.envelope import ContentMode, Envelope, KafkaCodec, WireMessage
from event_platform.apps.runtime.events import (
    EventPayload,
    EventRegistry,
    InvalidPayload,
    MalformedEvent,
    UnknownEventType,
    split_type,
)


class ThingMadeV1(EventPayload):
    EVENT_TYPE = "io.eventplatform.thing.made.v1"
    name: str
    count: int


class ThingMadeV2(EventPayload):
    EVENT_TYPE = "io.eventplatform.thing.made.v2"
    name: str
    count: int
    colour: str


REGISTRY = EventRegistry(ThingMadeV1)


def envelope(**overrides: object) -> Envelope:
    fields: dict[str, object] = {"payload": ThingMadeV1(name="a", count=1), "source": "/tests", "key": "thing-1",
                                 "correlation_id": "saga-1", "causation_id": "cause-1", "subject": "thing-1"}
    return Envelope(**{**fields, **overrides})  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", list(ContentMode))
def test_an_envelope_survives_a_round_trip_in_both_content_modes(mode: ContentMode) -> None:
    original = envelope()
    assert KafkaCodec(REGISTRY, mode).decode(KafkaCodec(REGISTRY, mode).encode(original)) == original


def test_binary_mode_puts_attributes_in_ce_headers_and_the_payload_in_the_value() -> None:
    wire = KafkaCodec(REGISTRY).encode(envelope())
    headers = dict(wire.headers)
    assert headers["ce_type"] == b"io.eventplatform.thing.made.v1"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_correlationid"] == b"saga-1"
    assert headers["content-type"] == b"application/json"
    assert wire.key == b"thing-1"
    assert wire.value == b'{"name":"a","count":1}'


@pytest.mark.parametrize("overrides", [
    {},
    {"subject": None, "correlation_id": None, "causation_id": None, "key": None},
    {"time": datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=timezone(timedelta(hours=2)))},
    {"time": datetime(2026, 1, 2, 3, 4, 5)},  # naive: written as given
    {"source": "/tests/ünïcode", "subject": "thing 1/2"},
], ids=["all", "minimal", "offset", "naive", "unicode"])
def test_binary_mode_writes_exactly_what_the_sdk_binding_writes(overrides: dict[str, object]) -> None:
    # The codec builds the headers itself (it is on every produced event's path); the SDK's
    # Kafka binding is the reference.
    from cloudevents.core.bindings import kafka as ce_kafka

    from event_platform.apps.runtime.envelope import WireEvent, _no_key, _PayloadBytesFormat, attributes_of

    original = envelope(**overrides)
    sdk = ce_kafka.to_binary(WireEvent(attributes_of(original), original.payload.json_bytes(), validate=False),
                             _PayloadBytesFormat(), _no_key)
    ours = KafkaCodec(REGISTRY).encode(original)
    assert ours.headers == tuple(sdk.headers.items())
    assert ours.value == sdk.value
    assert KafkaCodec(REGISTRY).decode(ours) == original


def test_structured_mode_carries_the_whole_event_in_the_value() -> None:
    wire = KafkaCodec(REGISTRY, ContentMode.STRUCTURED).encode(envelope())
    assert dict(wire.headers) == {"content-type": b"application/cloudevents+json"}
    assert b'"type": "io.eventplatform.thing.made.v1"' in wire.value


def test_a_binary_decoder_accepts_structured_input() -> None:
    original = envelope()
    wire = KafkaCodec(REGISTRY, ContentMode.STRUCTURED).encode(original)
    assert KafkaCodec(REGISTRY, ContentMode.BINARY).decode(wire) == original


def test_derived_events_keep_the_saga_and_get_repeatable_ids() -> None:
    cause = envelope(correlation_id=None)
    derived = ThingMadeV1(name="b", count=2)
    first, again = cause.caused(derived, "/x"), cause.caused(derived, "/x")
    assert first.id == again.id != cause.id
    assert (first.correlation_id, first.causation_id, first.key) == (cause.id, cause.id, "thing-1")


def test_an_unknown_version_is_rejected_and_names_the_versions_known() -> None:
    wire = KafkaCodec(EventRegistry(ThingMadeV2)).encode(envelope(payload=ThingMadeV2(name="a", count=1, colour="red")))
    with pytest.raises(UnknownEventType, match=r"version 2 is unknown here \(this service reads versions \[1\]\)"):
        KafkaCodec(REGISTRY).decode(wire)


def test_an_unregistered_type_is_rejected() -> None:
    wire = KafkaCodec(REGISTRY).encode(envelope())
    with pytest.raises(UnknownEventType):
        KafkaCodec(EventRegistry()).decode(wire)


@pytest.mark.parametrize(
    "wire",
    [
        WireMessage(value=b"\x00\xff garbage"),
        WireMessage(value=b"{}", headers=(("ce_type", b"io.eventplatform.thing.made.v1"),)),
        WireMessage(value=b"{", headers=(("content-type", b"application/cloudevents+json"),)),
        WireMessage(value=b"{}", headers=(("ce_id", b"1"), ("ce_source", b"/s"), ("ce_specversion", b"0.3"),
                                          ("ce_type", b"io.eventplatform.thing.made.v1"))),
        WireMessage(value=b"{}", headers=(("ce_id", b"1"), ("ce_source", b"/s"), ("ce_specversion", b"1.0"),
                                          ("ce_type", b"io.eventplatform.thing.made.v1"), ("ce_time", b"yesterday"))),
    ],
    ids=["not-json", "missing-attributes", "broken-structured", "wrong-specversion", "bad-time"],
)
def test_malformed_records_are_rejected_as_malformed(wire: WireMessage) -> None:
    with pytest.raises(MalformedEvent):
        KafkaCodec(REGISTRY).decode(wire)


def test_a_payload_that_does_not_match_its_model_is_invalid() -> None:
    wire = KafkaCodec(REGISTRY).encode(envelope())
    broken = WireMessage(value=b'{"name": "a", "count": "many"}', key=wire.key, headers=wire.headers)
    with pytest.raises(InvalidPayload, match="count"):
        KafkaCodec(REGISTRY).decode(broken)


def test_event_types_must_carry_a_version() -> None:
    assert split_type("io.eventplatform.order.created.v12") == ("io.eventplatform.order.created", 12)
    with pytest.raises(ValueError, match="version is part of the type"):
        type("Unversioned", (EventPayload,), {"EVENT_TYPE": "io.eventplatform.order.created", "__module__": __name__})


def test_time_survives_with_its_timezone() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert KafkaCodec(REGISTRY).decode(KafkaCodec(REGISTRY).encode(envelope(time=moment))).time == moment


def test_payload_json_bytes_are_what_pydantic_dumps() -> None:
    payload = ThingMadeV2(name="ä \"quoted\"", count=3, colour="red")
    assert payload.json_bytes() == payload.model_dump_json().encode()


def test_a_new_envelope_gets_a_fresh_id_and_time_and_stays_immutable() -> None:
    first, second = envelope(), envelope()
    assert first.id != second.id and first.time.tzinfo is UTC
    assert envelope(id="given", time=datetime(2026, 1, 1, tzinfo=UTC)).id == "given"
    with pytest.raises(AttributeError):
        first.id = "changed"  # type: ignore[misc]
    assert envelope(id="x", time=first.time) == envelope(id="x", time=first.time)
