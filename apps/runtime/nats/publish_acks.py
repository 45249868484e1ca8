"""JetStream publishing in bursts, every PubAck collected through one reply subscription.

nats-py's `publish_async` does the same protocol work, but draws two random bytes from
`os.urandom` for every reply subject, and that call releases the GIL: on the runtime's event-loop
thread each publish then handed the GIL to the caller's thread (busy encoding the next events)
and waited for it back, so a burst trickled out. Here a reply subject is the inbox plus a
counter, and the acks of a burst are counted on one `Burst` rather than one future each.

A PubAck is JSON (`{"stream": ..., "seq": ...}`, `"duplicate": true` for a de-duplicated
publish) or `{"error": {...}}`; a 503 status means no stream listens on the subject.
"""

from __future__ import annotations

import asyncio
import json
from itertools import count

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from event_platform.apps.runtime.nats.pull import NO_RESPONDERS, STATUS_HEADER


class Burst:
    """Publishes sent together; `settled` once every one is acknowledged or refused."""

    def __init__(self, size: int) -> None:
        self.unacknowledged = size
        self.error: str | None = None
        self.settled = asyncio.Event()

    def _acknowledged(self, error: str | None) -> None:
        self.error = self.error or error
        self.unacknowledged -= 1
        if self.unacknowledged == 0:
            self.settled.set()


class AckCollector:
    """Sends publishes with reply subjects under one inbox and credits their PubAcks."""

    def __init__(self, client: NatsClient) -> None:
        self._client = client
        self._inbox = ""
        self._numbers = count(1)
        self._waiting: dict[str, Burst] = {}

    async def start(self) -> None:
        self._inbox = self._client.new_inbox()
        await self._client.subscribe(f"{self._inbox}.*", cb=self._on_ack)

    async def publish(self, burst: Burst, subject: str, payload: bytes, headers: dict[str, str]) -> None:
        """Send one publish of `burst` (whose `unacknowledged` the caller set beforehand: an ack
        may arrive before the burst is fully sent)."""
        token = str(next(self._numbers))
        self._waiting[token] = burst
        await self._client.publish(subject, payload, reply=f"{self._inbox}.{token}", headers=headers)

    def forget(self, burst: Burst) -> None:
        """Stop waiting for a burst's missing acks (it timed out)."""
        self._waiting = {token: waiting for token, waiting in self._waiting.items() if waiting is not burst}

    async def _on_ack(self, message: Msg) -> None:
        burst = self._waiting.pop(message.subject[len(self._inbox) + 1:], None)
        if burst is not None:
            burst._acknowledged(_refusal(message))


def _refusal(message: Msg) -> str | None:
    """None for a PubAck, otherwise why the publish was not stored."""
    if message.headers and message.headers.get(STATUS_HEADER) == NO_RESPONDERS:
        return "no stream listens on the subject (503 no responders)"
    try:
        answer = json.loads(message.data)
    except ValueError:
        return f"unreadable publish acknowledgement: {message.data[:100]!r}"
    if isinstance(answer, dict) and "error" in answer:
        error = answer["error"] if isinstance(answer["error"], dict) else {}
        return f"JetStream refused the publish: {error.get('code', '?')} {error.get('description', answer['error'])}"
    return None
