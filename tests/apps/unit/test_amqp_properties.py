"""The runtime's AMQP properties decoder gives what pika's own decoder gives, value for value."""

from __future__ import annotations

import decimal
import struct
from datetime import datetime
from typing import Any

import pika.frame
import pytest
from pika import spec

from event_platform.apps.runtime.rabbitmq import properties as amqp_properties
from event_platform.apps.runtime.rabbitmq.properties import DecodedBasicProperties

EVERY_TYPE: dict[str, Any] = {
    "text": "order-placed",
    "unicode": "Zürich · 東京",
    "not-utf8": b"\xff\xfe",  # pika encodes bytes as a long string; it decodes back to bytes
    "empty": "",
    "true": True,
    "small": 7,
    "negative": -7,
    "large": 2**40,
    "decimal": decimal.Decimal("12.34"),
    "when": datetime(2026, 11, 21, 12, 0, 0),
    "nothing": None,
    "nested": {"a": "b", "n": 1, "deeper": {"x": [1, "two"]}},
    "list": ["one", 2, {"three": 3}],
    "x-death": [{"count": 1, "reason": "delivery_limit", "queue": "g.t"}],
}


def wire(properties: spec.BasicProperties) -> bytes:
    return b"".join(properties.encode())


@pytest.mark.parametrize("properties", [
    spec.BasicProperties(),
    spec.BasicProperties(headers={}),
    spec.BasicProperties(content_type="application/json", delivery_mode=2, message_id="0a1b",
                         headers={"cloudEvents_id": "0a1b", "cloudEvents_type": "io.x.v1"}),
    spec.BasicProperties(headers=EVERY_TYPE),
    spec.BasicProperties(
        content_type="application/cloudevents+json", content_encoding="gzip", headers=EVERY_TYPE,
        delivery_mode=1, priority=9, correlation_id="c-1", reply_to="amq.rabbitmq.reply-to",
        expiration="60000", message_id="m-1", timestamp=1_763_726_400, type="t", user_id="guest",
        app_id="orders", cluster_id="c",
    ),
    spec.BasicProperties(message_id=b"\xff\xfe", app_id=b"\xc3\x28"),  # short strings that are not UTF-8
], ids=["none", "empty-headers", "a-cloudevent", "every-header-type", "every-property", "not-utf8"])
def test_decodes_exactly_what_pika_decodes(properties: spec.BasicProperties) -> None:
    encoded = wire(properties)
    ours, pikas = DecodedBasicProperties().decode(encoded), spec.BasicProperties().decode(encoded)
    assert vars(ours) == vars(pikas)
    assert {name: type(value) for name, value in vars(ours).items()} == \
        {name: type(value) for name, value in vars(pikas).items()}


def test_installed_pika_decodes_every_content_header_with_it() -> None:
    properties = spec.BasicProperties(content_type="application/json", headers={"cloudEvents_id": "1"})
    frame = pika.frame.Header(1, 10, properties).marshal()
    amqp_properties.install()
    _, decoded = pika.frame.decode_frame(frame)
    assert isinstance(decoded.properties, DecodedBasicProperties)
    assert isinstance(decoded.properties, spec.BasicProperties)  # what pika's callers expect
    assert vars(decoded.properties) == vars(spec.BasicProperties().decode(frame[7 + 12:-1]))


def test_decodes_floats_and_doubles_as_pika_does() -> None:
    # pika cannot encode these (other clients can), so the table is written by hand.
    entries = b"".join(bytes([len(name)]) + name + kind + value for name, kind, value in (
        (b"single", b"f", struct.pack(">f", 1.5)),
        (b"double", b"d", struct.pack(">d", -2.25)),
        (b"short", b"s", struct.pack(">h", -3)),
    ))
    encoded = struct.pack(">H", spec.BasicProperties.FLAG_HEADERS) + struct.pack(">I", len(entries)) + entries
    ours, pikas = DecodedBasicProperties().decode(encoded), spec.BasicProperties().decode(encoded)
    assert vars(ours) == vars(pikas)
    # pika 1.4.4 truncates floats and doubles to integers; kept, as every other pika consumer sees it.
    assert ours.headers == {"single": 1, "double": -2, "short": -3}
