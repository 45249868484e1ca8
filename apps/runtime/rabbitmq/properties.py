"""A faster decoder for the AMQP content header (message properties) of every delivery.

pika decodes message properties in pure Python, and its field-table decoder compares each header
value's type code with thirteen other kinds before it reaches text (`S`), through two function
calls per header: decoding one CloudEvent's properties (five `cloudEvents_*` headers) took 89k
instructions, more than any other step of a delivery, runtime included (callgrind). This reads
the same wire format with the common cases inline (short strings, long-string header values) and
hands every other value type to pika's own decoder, so the properties are what pika would
produce, value for value (tests/apps/unit/test_amqp_properties.py compares the two on every
field and value type): 40k instructions for the same properties.

`install()` registers it with pika for this process: pika looks the properties class up by AMQP
class id for each content header it decodes (`pika.spec.props`).
"""

from __future__ import annotations

import struct
from typing import Any

from pika import data, spec

_UINT16 = struct.Struct(">H").unpack_from
_UINT32 = struct.Struct(">I").unpack_from
_UINT64 = struct.Struct(">Q").unpack_from
_LONG_STRING = ord("S")

# (flag, attribute, kind) in wire order; kind: "s" short string, "t" table, "o" octet, "q" uint64
_FIELDS = (
    (spec.BasicProperties.FLAG_CONTENT_TYPE, "content_type", "s"),
    (spec.BasicProperties.FLAG_CONTENT_ENCODING, "content_encoding", "s"),
    (spec.BasicProperties.FLAG_HEADERS, "headers", "t"),
    (spec.BasicProperties.FLAG_DELIVERY_MODE, "delivery_mode", "o"),
    (spec.BasicProperties.FLAG_PRIORITY, "priority", "o"),
    (spec.BasicProperties.FLAG_CORRELATION_ID, "correlation_id", "s"),
    (spec.BasicProperties.FLAG_REPLY_TO, "reply_to", "s"),
    (spec.BasicProperties.FLAG_EXPIRATION, "expiration", "s"),
    (spec.BasicProperties.FLAG_MESSAGE_ID, "message_id", "s"),
    (spec.BasicProperties.FLAG_TIMESTAMP, "timestamp", "q"),
    (spec.BasicProperties.FLAG_TYPE, "type", "s"),
    (spec.BasicProperties.FLAG_USER_ID, "user_id", "s"),
    (spec.BasicProperties.FLAG_APP_ID, "app_id", "s"),
    (spec.BasicProperties.FLAG_CLUSTER_ID, "cluster_id", "s"),
)


class DecodedBasicProperties(spec.BasicProperties):  # type: ignore[misc]  # pika is untyped here
    """pika's BasicProperties, decoded faster. Only pika creates these, to decode into."""

    def __init__(self) -> None:  # `decode` sets every field
        pass

    def decode(self, encoded: bytes, offset: int = 0) -> DecodedBasicProperties:
        flags, word = 0, 0
        while True:  # 16-bit flag words; the lowest bit says another one follows
            partial = _UINT16(encoded, offset)[0]
            offset += 2
            flags |= partial << (word * 16)
            if not partial & 1:
                break
            word += 1
        fields = self.__dict__
        fields.update(_ABSENT)
        for name, kind in _LAYOUTS.get(flags) or _layout(flags):
            if kind == "s":
                end = offset + 1 + encoded[offset]
                raw = encoded[offset + 1:end]
                offset = end
                try:
                    fields[name] = raw.decode("utf8")
                except UnicodeDecodeError:  # as pika: bytes when not UTF-8
                    fields[name] = raw
            elif kind == "t":
                fields[name], offset = _table(encoded, offset)
            elif kind == "o":
                fields[name] = encoded[offset]
                offset += 1
            else:
                fields[name] = _UINT64(encoded, offset)[0]
                offset += 8
        return self


_ABSENT = {name: None for _, name, _ in _FIELDS}
# flags -> the fields present, in wire order: messages of one kind share their flags
_LAYOUTS: dict[int, tuple[tuple[str, str], ...]] = {}


def _layout(flags: int) -> tuple[tuple[str, str], ...]:
    layout = tuple((name, kind) for flag, name, kind in _FIELDS if flags & flag)
    if len(_LAYOUTS) < 64:
        _LAYOUTS[flags] = layout
    return layout


def _table(encoded: bytes, offset: int) -> tuple[dict[str | bytes, Any], int]:
    end = offset + 4 + _UINT32(encoded, offset)[0]
    offset += 4
    table: dict[str | bytes, Any] = {}
    key: str | bytes
    value: Any
    while offset < end:
        key_end = offset + 1 + encoded[offset]
        raw = encoded[offset + 1:key_end]
        try:
            key = raw.decode("utf8")
        except UnicodeDecodeError:  # as pika: bytes when not UTF-8
            key = raw
        if encoded[key_end] == _LONG_STRING:
            start = key_end + 5
            offset = start + _UINT32(encoded, key_end + 1)[0]
            raw = encoded[start:offset]
            try:
                value = raw.decode("utf8")
            except UnicodeDecodeError:
                value = raw
        else:
            value, offset = data.decode_value(encoded, key_end)
        table[key] = value
    return table, offset


def install() -> None:
    """Decode every delivery's properties with DecodedBasicProperties (idempotent)."""
    spec.props[spec.BasicProperties.INDEX] = DecodedBasicProperties
