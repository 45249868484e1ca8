"""Pulling batches from a JetStream durable consumer through one callback subscription.

nats-py's `PullSubscription.fetch` awaits every message of a batch separately, each with its
own timeout (a timer and a task switch per message); at hundreds of messages per pull that was
most of a consumer's CPU here. `Puller` sends the pull requests itself — the JetStream protocol
request `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` that nats-py sends too — and receives
the messages in a subscription callback: about 2.4x the messages per second of `fetch()` on the
same server (bench notes in bench/README.md).

A pull goes out in two phases, as nats-py's fetch does. First `no_wait`: whatever the stream
holds now, up to the batch, ended by a 404 status (or by the batch filling up); that batch is
handed over in one piece. If it brought nothing, a waiting pull follows, ended by a 408 status
at `expires` or by the batch filling up; its messages are handed over one by one as they
arrive, so an idle consumer sees a new event at once. Data messages carry their own subject;
only status messages come back on the pull's reply subject, which names the pull they end.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

log = logging.getLogger(__name__)

NEXT_SUBJECT = "$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
STATUS_HEADER = "Status"
DESCRIPTION_HEADER = "Description"
HEARTBEAT, NO_MESSAGES, REQUEST_TIMEOUT, CONFLICT, NO_RESPONDERS = "100", "404", "408", "409", "503"
RESPONSE_GRACE_S = 2.0  # beyond `expires`: a pull unanswered by then was lost (a reconnect)

Deliver = Callable[[list[Msg]], None]


class PullFailed(Exception):
    """The server refused a pull (409 consumer deleted, 400 bad request, ...)."""


@dataclass
class _Pull:
    number: int
    batch: int
    streaming: bool  # hand each message over as it arrives (a waiting pull)
    received: list[Msg] = field(default_factory=list)
    delivered: int = 0
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    refusal: str | None = None


class Puller:
    """Pulls batches for one durable consumer; `deliver` gets the messages, in order."""

    def __init__(self, client: NatsClient, stream: str, consumer: str, deliver: Deliver) -> None:
        self._client = client
        self._subject = NEXT_SUBJECT.format(stream=stream, consumer=consumer)
        self._deliver = deliver
        self._numbers = count(1)
        self._current: _Pull | None = None
        self._inbox = ""
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        self._inbox = self._client.new_inbox()
        self._subscription = await self._client.subscribe(f"{self._inbox}.*", cb=self._on_message)

    async def pull(self, batch: int, wait_s: float) -> int:
        """Messages handed over by this pull (0: none arrived within `wait_s`)."""
        received = await self._request(batch, streaming=False, wait_s=0.0)
        return received or await self._request(batch, streaming=True, wait_s=wait_s)

    async def _request(self, batch: int, *, streaming: bool, wait_s: float) -> int:
        pull = _Pull(next(self._numbers), batch, streaming)
        body: dict[str, object] = {"batch": batch}
        if streaming:
            body["expires"] = int(wait_s * 1e9)
        else:
            body["no_wait"] = True
        self._current = pull
        try:
            await self._client.publish(self._subject, json.dumps(body).encode(), reply=f"{self._inbox}.{pull.number}")
            try:
                await asyncio.wait_for(pull.ended.wait(), wait_s + RESPONSE_GRACE_S)
            except TimeoutError:
                log.debug("a pull went unanswered; pulling again", extra={"subject": self._subject})
        finally:
            self._current = None
            if pull.received:
                self._deliver(pull.received)
        if pull.refusal is not None:
            raise PullFailed(pull.refusal)
        return pull.delivered

    async def _on_message(self, message: Msg) -> None:
        pull = self._current
        status = message.headers.get(STATUS_HEADER) if message.headers else None
        if status is None:
            if pull is None:  # a late answer to an abandoned pull: still a delivery to us
                self._deliver([message])
                return
            pull.delivered += 1
            if pull.streaming:
                self._deliver([message])
            else:
                pull.received.append(message)
            if pull.delivered >= pull.batch:
                pull.ended.set()
            return
        if status == HEARTBEAT or pull is None or message.subject != f"{self._inbox}.{pull.number}":
            return  # not about the pull in progress
        description = (message.headers or {}).get(DESCRIPTION_HEADER, "")
        if _refused(status, description):
            reason = "no responders: the consumer does not exist" if status == NO_RESPONDERS else description
            first_line = reason.strip().splitlines()[0] if reason.strip() else ""
            pull.refusal = f"pull refused for {self._subject}: status {status} {first_line}".rstrip()
        pull.ended.set()


def _refused(status: str, description: str) -> bool:
    """404/408 end a pull normally; 409 does too when it is about this request (too many
    waiting pulls, a leadership change, ...), but not when the consumer is gone or push-based."""
    if status in (NO_MESSAGES, REQUEST_TIMEOUT):
        return False
    if status == CONFLICT:
        return "deleted" in description.lower() or "push" in description.lower()
    return True
