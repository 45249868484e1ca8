"""The push path: a service's handler behind an HTTP CloudEvents endpoint (Knative Trigger subscriber).

A Knative Broker delivers each event that passes a Trigger's filter as one HTTP POST (binary or
structured content mode) and decides what happens next from the status code alone:

- 2xx: delivered. The Kafka Broker (1.23) parses any non-empty success body as a reply event and
  treats an unparsable one as a *failure* (it dead-letters the event), so success answers carry
  either no body (202) or exactly one CloudEvent (200, the handler's one emitted event, which the
  Broker publishes into itself as a reply).
- 404, 408, 409, 429, 5xx, a refused connection or a timeout: retried, `delivery.retry` more
  times with `backoffPolicy`/`backoffDelay`; then sent to `delivery.deadLetterSink`.
- any other 4xx: not retried; sent to the dead-letter sink at once.

So this receiver answers 202/200 when the event was handled (or had been handled before, or is of
a type the service ignores); 503 when the handler failed (the Broker's retries are the retry
policy: one place, declared on the Trigger); 409 while the same event (source + id) is being
handled by this instance (a concurrent redelivery); 400 when the request is not a CloudEvent;
422 when it can never succeed (unknown type or version, invalid payload, `PermanentError`); 413
when the body is too large. Error bodies are one line of text: the Broker copies them (base64)
into the dead letter's `knativeerrordata` extension.

Duplicates: Knative delivers at least once (a retry after a timeout repeats an event the handler
completed). A `DeliveryLedger` remembers the (source, id) of handled events, so a repeat is
acknowledged without running the handler again; side effects also go through the service's
`EffectGuard` and carry an idempotency key to the external system, which covers repeats that land
on another replica.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from cloudevents.core.bindings import http as ce_http
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from prometheus_client import Counter

from event_platform.apps.runtime.envelope import (
    CAUSATION_ID,
    CORRELATION_ID,
    Envelope,
    WireEvent,
    attributes_of,
    text_or_none,
)
from event_platform.apps.runtime.events import EventRegistry, EventRejected, MalformedEvent
from event_platform.apps.runtime.logs import event_ids_var
from event_platform.apps.runtime.metrics import Metrics
from event_platform.apps.runtime.retry import PermanentError
from event_platform.apps.runtime.service import Service

log = logging.getLogger(__name__)

# Knative's PingSource event type: heartbeats are acknowledged and timestamped, never handled.
PING_TYPE = "dev.knative.sources.ping"
HEARTBEAT_PATH = "/heartbeat"
_FORMAT = JSONFormat()


@dataclass(frozen=True)
class Answer:
    """One HTTP answer to the Broker."""

    status: int
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @property
    def delivered(self) -> bool:
        return 200 <= self.status < 300


ACCEPTED = Answer(202)


class Seen(Enum):
    NEW = "new"
    DONE = "done"
    BUSY = "busy"


class DeliveryLedger:
    """The (source, id) of events this instance handled, most recent `capacity` of them, plus the
    ones being handled right now. Thread-safe (the HTTP server runs a thread per request)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._done: OrderedDict[tuple[str, str], Answer] = OrderedDict()
        self._busy: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def begin(self, key: tuple[str, str]) -> tuple[Seen, Answer | None]:
        with self._lock:
            if key in self._done:
                self._done.move_to_end(key)
                return Seen.DONE, self._done[key]
            if key in self._busy:
                return Seen.BUSY, None
            self._busy.add(key)
            return Seen.NEW, None

    def finish(self, key: tuple[str, str], answer: Answer) -> None:
        """Record a delivered answer (repeated to duplicates); forget a failed attempt so the
        Broker's retry runs the handler again."""
        with self._lock:
            self._busy.discard(key)
            if answer.delivered:
                self._done[key] = answer
                while len(self._done) > self._capacity:
                    self._done.popitem(last=False)


def read_cloudevent(headers: dict[str, str], body: bytes) -> WireEvent:
    """An HTTP request in either content mode → its CloudEvent; raises MalformedEvent."""
    message = ce_http.HTTPMessage(headers={k.lower(): v for k, v in headers.items()}, body=body)
    try:
        # WireEvent, not the SDK's CloudEvent: that one invents an id when the request has none,
        # and a fresh id per redelivery would defeat duplicate detection.
        event = ce_http.from_http(message, _FORMAT, WireEvent)
    except (BaseCloudEventException, ValueError, TypeError, KeyError, AttributeError) as error:
        # ValueError covers broken JSON and UTF-8, unparseable `time` values and missing
        # required attributes.
        raise MalformedEvent(f"not a CloudEvent: {type(error).__name__}: {error}") from error
    assert isinstance(event, WireEvent)
    return event


def decode_request(headers: dict[str, str], body: bytes, registry: EventRegistry) -> Envelope:
    """An HTTP request (either content mode) → Envelope; raises EventRejected subclasses."""
    event = read_cloudevent(headers, body)
    attributes, data = event.get_attributes(), event.get_data()
    payload = registry.parse(attributes["type"], data)
    return Envelope(
        payload=payload,
        source=attributes["source"],
        id=attributes["id"],
        time=attributes.get("time") or datetime.now(UTC),
        subject=attributes.get("subject"),
        correlation_id=text_or_none(attributes.get(CORRELATION_ID)),
        causation_id=text_or_none(attributes.get(CAUSATION_ID)),
    )


def reply_to(envelope: Envelope) -> Answer:
    """The handler's one emitted event as a binary-mode reply (the Broker ingests it)."""
    event = CloudEvent(attributes_of(envelope), envelope.payload.model_dump(mode="json"))
    message = ce_http.to_binary(event, _FORMAT)
    return Answer(200, headers=tuple(message.headers.items()), body=message.body)


class PushReceiver:
    """Runs `service.handle` for each CloudEvent POSTed to it and answers as described above."""

    def __init__(self, service: Service, metrics: Metrics, port: int, *, ledger_size: int = 100_000,
                 max_body_bytes: int = 1024 * 1024) -> None:
        self.service = service
        self.metrics = metrics
        self.ledger = DeliveryLedger(ledger_size)
        self.max_body_bytes = max_body_bytes
        self.draining = threading.Event()
        self.duplicates = Counter("events_duplicate", "Redelivered events acknowledged without handling them again",
                                  ["service"], registry=metrics.registry).labels(metrics.service)
        self.heartbeats = Counter("knative_heartbeats", "PingSource heartbeats received through the Broker",
                                  ["service"], registry=metrics.registry).labels(metrics.service)
        self._handling = 0
        self._handling_lock = threading.Lock()
        self._server = http_server(self, port)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="push-receiver", daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> PushReceiver:
        self._thread.start()
        return self

    def alive(self) -> bool:
        return self._thread.is_alive()

    def _in_flight(self) -> int:
        with self._handling_lock:
            return self._handling

    def ready(self) -> bool:
        return self._thread.is_alive() and not self.draining.is_set()

    def drain_and_stop(self, timeout_s: float) -> None:
        """Refuse new deliveries with 503 (the Broker retries them, on another replica once this
        one is out of the Service's endpoints), wait for the ones in hand, then stop."""
        self.draining.set()
        deadline = time.monotonic() + timeout_s
        while self._in_flight() > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        self._server.shutdown()
        self._server.server_close()

    # -- one delivery ------------------------------------------------------------------------

    def deliver(self, path: str, headers: dict[str, str], body: bytes) -> Answer:
        if self.draining.is_set():
            return Answer(503, "shutting down; retry")
        if path == HEARTBEAT_PATH:
            return self._heartbeat(headers, body)
        try:
            envelope = decode_request(headers, body, self.service.registry)
        except EventRejected as rejected:
            self.metrics.received("undecodable")  # as the pull path counts what it cannot decode
            self.metrics.failed(rejected.reason)
            log.error("rejected; the Broker dead-letters it", extra={"reason": rejected.reason,
                                                                      "error": str(rejected)})
            return Answer(400 if isinstance(rejected, MalformedEvent) else 422, f"{rejected.reason}: {rejected}")
        key = (envelope.source, envelope.id)
        seen, earlier = self.ledger.begin(key)
        if seen is Seen.DONE:
            self.duplicates.inc()
            assert earlier is not None
            return earlier
        if seen is Seen.BUSY:
            return Answer(409, "this event is being handled; retry")
        answer = Answer(500, "unexpected")
        try:
            answer = self._handle(envelope)
        finally:
            self.ledger.finish(key, answer)
        return answer

    def _handle(self, envelope: Envelope) -> Answer:
        self.metrics.received(envelope.type)
        if not self.service.handles(envelope.type):
            return ACCEPTED
        started = time.perf_counter()
        token = event_ids_var.set((envelope.id, envelope.correlation_id))
        self.metrics.in_flight_now.inc()
        with self._handling_lock:
            self._handling += 1
        try:
            emits = self.service.handle(envelope)
        except (EventRejected, PermanentError) as error:
            reason = error.reason if isinstance(error, EventRejected) else "permanent-error"
            self.metrics.failed(reason)
            log.error("cannot ever succeed; the Broker dead-letters it", extra={"reason": reason,
                                                                                "error": repr(error)})
            return Answer(422, f"{reason}: {error}")
        except Exception as error:  # any other handler failure: the Broker retries it
            self.metrics.failed("handler-error")
            log.warning("handler failed; the Broker retries it", extra={"error": repr(error)})
            return Answer(503, f"handler-error: {type(error).__name__}: {error}")
        finally:
            self.metrics.in_flight_now.dec()
            with self._handling_lock:
                self._handling -= 1
            event_ids_var.reset(token)
            self.metrics.latency.observe(time.perf_counter() - started)
        if len(emits) > 1:
            # A Knative reply is one event. A service with more to say publishes through a
            # broker (the pull path); answering 422 makes the misconfiguration visible at once.
            self.metrics.failed("multiple-replies")
            log.error("a push service may emit at most one event (its reply)", extra={"emitted": len(emits)})
            return Answer(422, f"multiple-replies: the handler emitted {len(emits)} events, a reply is one")
        if emits:
            self.metrics.published("reply")
            return reply_to(emits[0].event)
        return ACCEPTED

    def _heartbeat(self, headers: dict[str, str], body: bytes) -> Answer:
        try:
            event_type = read_cloudevent(headers, body).get_type()
        except MalformedEvent as error:
            return Answer(400, f"malformed: {error}")
        if event_type != PING_TYPE:
            return Answer(422, f"unknown-type: {HEARTBEAT_PATH} takes {PING_TYPE} events only")
        self.heartbeats.inc()
        return ACCEPTED


class Endpoint(Protocol):
    """What the HTTP handler needs: a size bound and one answer per delivery."""

    max_body_bytes: int

    def deliver(self, path: str, headers: dict[str, str], body: bytes) -> Answer: ...


def http_server(endpoint: Endpoint, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("0.0.0.0", port), _handler_class(endpoint))
    server.daemon_threads = True
    return server


def _handler_class(receiver: Endpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the Broker reuses connections

        def do_POST(self) -> None:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                body = self._read_chunked()
            else:
                length = int(self.headers.get("Content-Length") or 0)
                body = None if length > receiver.max_body_bytes else self.rfile.read(length)
            if body is None:
                self._answer(Answer(413, f"the body exceeds {receiver.max_body_bytes} bytes"), close=True)
                return
            answer = receiver.deliver(self.path.split("?")[0], dict(self.headers.items()), body)
            self._answer(answer)

        def _read_chunked(self) -> bytes | None:
            """A chunked request body (senders that stream without a length), or None past the bound."""
            chunks: list[bytes] = []
            size = 0
            while True:
                length = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if length == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                size += length
                if size > receiver.max_body_bytes:
                    return None
                chunks.append(self.rfile.read(length))
                self.rfile.readline()  # the CRLF after each chunk

        def do_OPTIONS(self) -> None:
            # The data-plane contract lets senders probe with OPTIONS; the answer names POST.
            self.send_response(204)
            self.send_header("Allow", "POST, OPTIONS")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _answer(self, answer: Answer, close: bool = False) -> None:
            body = answer.body if answer.delivered else (answer.reason + "\n").encode()
            self.send_response(answer.status)
            for name, value in answer.headers:
                self.send_header(name, value)
            if not answer.delivered:
                self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            if close:
                self.send_header("Connection", "close")  # an unread body would poison keep-alive
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one JSON log line per failure is written by the receiver itself

    return Handler
