"""What a Knative Broker does with a Trigger subscriber's answers, for tests of the receiver.

No Knative runs here, so the sender's side of the data-plane contract is written down once, as
Knative Eventing 1.23 implements it (both the channel-based broker's filter, `SelectiveRetry` in
knative.dev/eventing/pkg/kncloudevents, and the Kafka Broker's dispatcher,
`WebClientCloudEventSender.isRetryableStatusCode`): 404, 408, 409, 429, 5xx and connection
failures are retried up to `delivery.retry` times; any other non-2xx answer, or an exhausted
retry budget, sends the event to the dead-letter sink. The Kafka Broker additionally treats a
2xx answer whose non-empty body is not a CloudEvent as a failure.
"""

from __future__ import annotations

import base64
import http.client
import json
from dataclasses import dataclass, field
from typing import Any

from cloudevents.core.bindings import http as ce_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

RETRYABLE = frozenset({404, 408, 409, 429})


def knative_retries(status: int) -> bool:
    return status >= 500 or status in RETRYABLE


def request(port: int, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers={"Prefer": "reply", **headers})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def binary(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    message = ce_http.to_binary(event, JSONFormat())
    return message.headers, message.body


def structured(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    message = ce_http.to_structured(event, JSONFormat())
    return message.headers, message.body


def order_event(event_type: str, data: dict[str, Any], *, event_id: str, source: str = "/services/order") -> CloudEvent:
    return CloudEvent({"type": event_type, "source": source, "id": event_id, "specversion": "1.0",
                       "datacontenttype": "application/json"}, data)


@dataclass
class Outcome:
    """How one event's delivery through a Trigger ended."""

    statuses: list[int] = field(default_factory=list)
    dead_lettered: bool = False
    error_data: str = ""  # what the Broker puts into the dead letter's knativeerrordata
    dead_letter_status: int | None = None  # the dead-letter sink's answer

    @property
    def attempts(self) -> int:
        return len(self.statuses)


def deliver(port: int, headers: dict[str, str], body: bytes, *, retry: int, path: str = "/",
            dead_letter_port: int | None = None) -> Outcome:
    """One event through a Trigger with `delivery.retry = retry` (backoff delays left out); given
    a dead-letter sink's port, a dead-lettered event is sent there as the Broker does: the
    original event plus `knativeerrordest`, `knativeerrorcode` and `knativeerrordata`."""
    outcome = Outcome()
    for _ in range(retry + 1):
        status, response_headers, response_body = request(port, path, headers, body)
        outcome.statuses.append(status)
        if 200 <= status < 300:
            if response_body and not _is_cloudevent(response_headers, response_body):
                # The Kafka Broker cannot parse the reply: it fails the delivery.
                break
            return outcome
        outcome.error_data = response_body.decode()
        if not knative_retries(status):
            break
    outcome.dead_lettered = True
    if dead_letter_port is not None:
        event = ce_http.from_http(ce_http.HTTPMessage({k.lower(): v for k, v in headers.items()}, body),
                                  JSONFormat(), CloudEvent)
        extensions = {
            "knativeerrordest": f"http://order-audit.events.svc.cluster.local{path}",
            "knativeerrorcode": str(outcome.statuses[-1]),
            # The Kafka Broker keeps at most 1024 bytes of the answer.
            "knativeerrordata": base64.b64encode(outcome.error_data.encode()[:1024]).decode(),
        }
        letter = CloudEvent({**event.get_attributes(), **extensions}, event.get_data())
        dead_headers, dead_body = binary(letter)
        outcome.dead_letter_status = request(dead_letter_port, "/", dead_headers, dead_body)[0]
    return outcome


def _is_cloudevent(headers: dict[str, str], body: bytes) -> bool:
    try:
        ce_http.from_http(ce_http.HTTPMessage(headers, body), JSONFormat(), CloudEvent)
        return True
    except Exception:  # anything unparsable is "not a CloudEvent" to the Broker
        return False


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()
