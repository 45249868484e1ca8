"""The NATS CloudEvents binding on the wire: a WireMessage ⇄ NATS headers and data."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from nats.js import JetStreamContext

from event_platform.apps.runtime.adapter import (
    BrokerError,
    OutboundRecord,
)
from event_platform.apps.runtime.envelope import HeaderValue, WireMessage, header_text
from event_platform.apps.runtime.nats.connection import ID_HEADER, KEY_HEADER, MSG_ID, PUBLISH_TIMEOUT_S


def headers_of(message: WireMessage) -> dict[str, str]:
    headers = {name: header_text(value) for name, value in message.headers}
    if message.key is not None:
        headers[KEY_HEADER] = message.key.decode("utf-8", "surrogateescape")
    if ID_HEADER in headers:
        headers[MSG_ID] = headers[ID_HEADER]
    return headers


def wire_of(data: bytes, headers: dict[str, str] | None) -> WireMessage:
    """Header values stay text, as nats-py decoded them (see HeaderValue)."""
    key: bytes | None = None
    pairs: list[tuple[str, HeaderValue]] = []
    for name, value in (headers or {}).items():
        if name == KEY_HEADER:
            key = value.encode("utf-8", "surrogateescape")
        elif not name.startswith("Nats-"):
            pairs.append((name, value))
    return WireMessage(value=data, key=key, headers=tuple(pairs))


async def publish_all(js: JetStreamContext, records: Sequence[OutboundRecord]) -> None:
    """Publish concurrently and return once JetStream acknowledged (stored) every one."""
    acks = [js.publish(r.topic, r.message.value, timeout=PUBLISH_TIMEOUT_S, headers=headers_of(r.message))
            for r in records]
    for result in await asyncio.gather(*acks, return_exceptions=True):
        if isinstance(result, BaseException):
            raise BrokerError(f"publishing failed: {result!r}") from result


# -- publisher -----------------------------------------------------------------------------------
