"""The dead-letter Broker's subscriber: makes every dead-lettered push delivery visible.

A Knative Broker sends an event its Trigger gave up on to `delivery.deadLetterSink` with three
extension attributes added: `knativeerrordest` (the subscriber that failed), `knativeerrorcode`
(its last HTTP status) and `knativeerrordata` (its answer body, base64; our receiver writes one
line of reason there). This service receives them from the `dead-letters` Broker, writes each as
one JSON log line (attributes, decoded error, data) and counts it in
`events_dead_lettered_total{service=<the failed subscriber>, reason=<status>}`, the metric the
workload alerts already watch. It always answers 202: refusing a dead letter would only lose it.

    python -m event_platform.apps.runtime.dead_letter_log
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from urllib.parse import urlsplit

from event_platform.apps.runtime import logs
from event_platform.apps.runtime.app import install_stop_signals
from event_platform.apps.runtime.events import MalformedEvent
from event_platform.apps.runtime.health import HealthServer
from event_platform.apps.runtime.metrics import Metrics
from event_platform.apps.runtime.push import ACCEPTED, Answer, http_server, read_cloudevent
from event_platform.apps.runtime.push_app import PushSettings
from event_platform.apps.runtime.settings import RuntimeSettings, load_all

log = logging.getLogger(__name__)
MAX_LOGGED_DATA = 4096


def failed_service(destination: str | None) -> str:
    """`http://order-audit.events.svc.cluster.local/heartbeat` → `order-audit`."""
    host = urlsplit(destination or "").hostname or ""
    return host.split(".", 1)[0] or "unknown"


def error_text(encoded: str | None) -> str:
    if not encoded:
        return ""
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8", "replace").strip()
    except (binascii.Error, ValueError):
        return encoded  # not base64 after all: keep it as it came


class DeadLetterLog:
    def __init__(self, metrics: Metrics, port: int, max_body_bytes: int) -> None:
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self._server = http_server(self, port)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="dead-letter-log", daemon=True)

    def start(self) -> DeadLetterLog:
        self._thread.start()
        return self

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def deliver(self, path: str, headers: dict[str, str], body: bytes) -> Answer:
        try:
            attributes = dict(read_cloudevent(headers, body).get_attributes())
        except MalformedEvent as error:
            # Knative only ever sends CloudEvents here; whatever this is, it is kept in the log.
            self.metrics.dead_lettered("malformed")
            log.error("dead letter that is not a CloudEvent", extra={
                "error": str(error), "body": body[:MAX_LOGGED_DATA].decode("utf-8", "replace")})
            return ACCEPTED
        destination = attributes.get("knativeerrordest")
        service = failed_service(destination)
        reason = str(attributes.get("knativeerrorcode") or "unknown")
        self.metrics.events_dead_lettered.labels(service, reason).inc()
        log.error("dead letter", extra={
            "failed_service": service,
            "status": reason,
            "destination": destination,
            "error": error_text(attributes.get("knativeerrordata")),
            "attributes": {k: str(v) for k, v in attributes.items() if not k.startswith("knativeerror")},
            "data": body[:MAX_LOGGED_DATA].decode("utf-8", "replace"),
        })
        return ACCEPTED


def main() -> int:
    runtime_settings, push_settings = load_all(RuntimeSettings, PushSettings)
    assert isinstance(runtime_settings, RuntimeSettings) and isinstance(push_settings, PushSettings)
    logs.configure(runtime_settings.service_name, runtime_settings.log_level.value)
    metrics = Metrics(runtime_settings.service_name)
    metrics.serve(runtime_settings.metrics_port)
    receiver = DeadLetterLog(metrics, push_settings.port, push_settings.max_body_bytes).start()
    health = HealthServer(runtime_settings.health_port, live=receiver.alive, ready=receiver.alive).start()
    stop = threading.Event()
    install_stop_signals(stop.set)
    log.info("receiving dead letters", extra={"port": receiver.port})
    stop.wait()
    receiver.stop()
    health.stop()
    log.info("stopped cleanly")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
