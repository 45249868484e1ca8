"""The push path: order-audit served over HTTP, fed real CloudEvents requests as a Knative
Trigger sends them, answering so that the Broker retries, dead-letters and deduplicates right.

Each test starts the real service process (`python -m event_platform.apps.orders.audit_service`).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from prometheus_client.parser import text_string_to_metric_families

from scripts.brokers.local_kafka import free_port
from tests.apps.push.knative import binary, deliver, dumps, knative_retries, order_event, request, structured
from tests.apps.support.pipeline import REPO

CONFIRMED = "io.eventplatform.order.confirmed.v1"
CONFIRMED_DATA = {"order_id": "ord_1", "customer_email": "a@example.com", "tracking_id": "TRK1"}


@dataclass
class PushProcess:
    process: subprocess.Popen[bytes]
    port: int
    health_port: int
    metrics_port: int
    simulation_dir: Path
    log_path: Path

    def audit_entries(self) -> list[dict[str, Any]]:
        path = self.simulation_dir / "audit.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [json.loads(line) for line in lines if line.strip()]

    def effects(self) -> list[str]:
        """Event ids the audit store recorded for the first time (order-audit's effects)."""
        return [entry["event_id"] for entry in self.audit_entries() if not entry["repeated"]]

    def metric(self, name: str, **labels: str) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as response:
            text = response.read().decode()
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total

    def probe(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}{path}", timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code


def start_push_process(workdir: Path, module: str = "event_platform.apps.orders.audit_service",
                       **env: str) -> PushProcess:
    simulation_dir = workdir / "simulation"
    simulation_dir.mkdir(parents=True, exist_ok=True)
    port, health_port, metrics_port = free_port(), free_port(), free_port()
    log_path = workdir / "push-service.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", module], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO), "SERVICE_NAME": "order-audit", "PUSH_PORT": str(port),
                 "HEALTH_PORT": str(health_port), "METRICS_PORT": str(metrics_port),
                 "SIMULATION_DIR": str(simulation_dir), **env},
        )
    audit = PushProcess(process, port, health_port, metrics_port, simulation_dir, log_path)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"order-audit exited with {process.returncode}:\n{log_path.read_text()}", pytrace=False)
        try:
            if audit.probe("/readyz") == 200:
                return audit
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"order-audit not ready in 30 s:\n{log_path.read_text()}", pytrace=False)
        time.sleep(0.05)


def stop(audit: PushProcess) -> int:
    if audit.process.poll() is None:
        audit.process.send_signal(signal.SIGTERM)
    return audit.process.wait(30)


@pytest.fixture
def audit(tmp_path: Path) -> Iterator[PushProcess]:
    service = start_push_process(tmp_path)
    yield service
    stop(service)


def test_a_binary_mode_event_is_handled_once_and_acknowledged_with_202_and_no_body(audit: PushProcess) -> None:
    headers, body = binary(order_event(CONFIRMED, CONFIRMED_DATA, event_id="e-binary"))

    status, _, response_body = request(audit.port, "/", headers, body)

    assert status == 202
    # The Kafka Broker would parse any body as a reply and dead-letter the event if it is not one.
    assert response_body == b""
    assert audit.effects() == ["e-binary"]
    assert audit.audit_entries()[0]["event_type"] == CONFIRMED
    assert audit.metric("events_in_total", service="order-audit", type=CONFIRMED) == 1


def test_a_structured_mode_event_is_handled_like_a_binary_one(audit: PushProcess) -> None:
    headers, body = structured(order_event(CONFIRMED, CONFIRMED_DATA, event_id="e-structured"))
    assert headers["content-type"].startswith("application/cloudevents+json")

    outcome = deliver(audit.port, headers, body, retry=3)

    assert outcome.statuses == [202]
    assert not outcome.dead_lettered
    assert audit.effects() == ["e-structured"]


def test_a_transient_failure_is_retried_by_the_broker_and_has_one_effect(audit: PushProcess) -> None:
    # The audit store is down for the next two writes.
    (audit.simulation_dir / "audit.unavailable").write_text("2")
    headers, body = binary(order_event(CONFIRMED, CONFIRMED_DATA, event_id="e-flaky"))

    outcome = deliver(audit.port, headers, body, retry=3)

    assert outcome.statuses == [503, 503, 202]
    assert all(knative_retries(status) for status in outcome.statuses[:-1])
    assert not outcome.dead_lettered
    assert audit.effects() == ["e-flaky"]
    assert audit.metric("events_failed_total", service="order-audit", reason="handler-error") == 2


def test_a_failure_that_outlasts_the_retries_goes_to_the_dead_letter_sink_with_the_reason(
        audit: PushProcess) -> None:
    (audit.simulation_dir / "audit.unavailable").write_text("100")
    headers, body = binary(order_event(CONFIRMED, CONFIRMED_DATA, event_id="e-down"))

    outcome = deliver(audit.port, headers, body, retry=2)

    assert outcome.statuses == [503, 503, 503]
    assert outcome.dead_lettered
    assert "AuditLogUnavailable" in outcome.error_data
    assert audit.effects() == []


def test_an_event_that_outlasts_its_retries_is_logged_and_counted_by_the_dead_letter_log(
        audit: PushProcess, tmp_path: Path) -> None:
    dead_letter_log = start_push_process(tmp_path / "dead-letter-log",
                                         module="event_platform.apps.runtime.dead_letter_log",
                                         SERVICE_NAME="dead-letter-log")
    try:
        (audit.simulation_dir / "audit.unavailable").write_text("100")
        headers, body = structured(order_event(CONFIRMED, CONFIRMED_DATA, event_id="e-lost"))

        outcome = deliver(audit.port, headers, body, retry=2, dead_letter_port=dead_letter_log.port)

        assert outcome.dead_lettered and outcome.dead_letter_status == 202
        assert dead_letter_log.metric("events_dead_lettered_total", service="order-audit", reason="503") == 1
        stop(dead_letter_log)
        (line,) = [json.loads(x) for x in dead_letter_log.log_path.read_text().splitlines() if '"dead letter"' in x]
        assert (line["failed_service"], line["status"]) == ("order-audit", "503")
        assert line["error"].startswith("handler-error: AuditLogUnavailable")
        assert (line["attributes"]["id"], line["attributes"]["type"]) == ("e-lost", CONFIRMED)
        assert json.loads(line["data"]) == CONFIRMED_DATA
    finally:
        stop(dead_letter_log)


@pytest.mark.parametrize(("what", "headers", "body", "status", "reason"), [
    ("an unknown event type", {"ce-specversion": "1.0", "ce-id": "p1", "ce-source": "/x",
                               "ce-type": "io.eventplatform.order.exploded.v1", "content-type": "application/json"},
     b"{}", 422, "unknown-type"),
    ("a newer version of a known type", {"ce-specversion": "1.0", "ce-id": "p2", "ce-source": "/x",
                                         "ce-type": "io.eventplatform.order.confirmed.v9",
                                         "content-type": "application/json"}, dumps(CONFIRMED_DATA), 422,
     "unknown-type"),
    ("a payload that does not validate", {"ce-specversion": "1.0", "ce-id": "p3", "ce-source": "/x",
                                          "ce-type": CONFIRMED, "content-type": "application/json"},
     dumps({"order_id": "ord_1"}), 422, "invalid-payload"),
    ("broken JSON in structured mode", {"content-type": "application/cloudevents+json"}, b"{not json", 400,
     "malformed"),
    ("a CloudEvent without an id", {"ce-specversion": "1.0", "ce-source": "/x", "ce-type": CONFIRMED,
                                    "content-type": "application/json"}, dumps(CONFIRMED_DATA), 400, "malformed"),
])
def test_a_poison_event_is_answered_so_the_broker_dead_letters_it_without_retrying(
        audit: PushProcess, what: str, headers: dict[str, str], body: bytes, status: int, reason: str) -> None:
    outcome = deliver(audit.port, headers, body, retry=10)

    assert outcome.statuses == [status], what
    assert not knative_retries(status)
    assert outcome.dead_lettered
    assert outcome.error_data.startswith(reason), outcome.error_data
    assert audit.effects() == []
    assert audit.metric("events_failed_total", service="order-audit", reason=reason) == 1


def test_a_chunked_request_is_read_whole_and_an_oversized_one_is_refused_for_good(audit: PushProcess) -> None:
    headers, body = binary(order_event(CONFIRMED, CONFIRMED_DATA, event_id="e-chunked"))
    connection = http.client.HTTPConnection("127.0.0.1", audit.port, timeout=30)
    try:
        connection.request("POST", "/", body=iter([body[:10], body[10:]]), headers=headers, encode_chunked=True)
        assert connection.getresponse().status == 202
    finally:
        connection.close()
    assert audit.effects() == ["e-chunked"]

    huge = dumps({**CONFIRMED_DATA, "tracking_id": "T" * (1024 * 1024)})
    outcome = deliver(audit.port, {**headers, "ce-id": "e-huge"}, huge, retry=3)
    assert outcome.statuses == [413] and outcome.dead_lettered


def test_duplicates_of_one_source_and_id_have_one_effect_in_either_content_mode(audit: PushProcess) -> None:
    event = order_event(CONFIRMED, CONFIRMED_DATA, event_id="e-dup")
    for encode in (binary, structured, binary):
        headers, body = encode(event)
        assert deliver(audit.port, headers, body, retry=3).statuses == [202]
    # Same id from another source is another event.
    headers, body = binary(order_event(CONFIRMED, CONFIRMED_DATA, event_id="e-dup", source="/services/other"))
    assert deliver(audit.port, headers, body, retry=3).statuses == [202]

    assert sorted(audit.effects()) == ["e-dup", "e-dup"]
    assert [e["event_source"] for e in audit.audit_entries()] == ["/services/order", "/services/other"]
    assert audit.metric("events_duplicate_total", service="order-audit") == 2


def test_a_redelivery_while_the_first_delivery_is_in_hand_is_answered_409_and_has_one_effect(
        tmp_path: Path) -> None:
    # Slow audit writes: the second delivery arrives while the first is being handled.
    audit = start_push_process(tmp_path, SIMULATED_LATENCY_MS="1500")
    try:
        headers, body = binary(order_event(CONFIRMED, CONFIRMED_DATA, event_id="e-concurrent"))
        first: list[int] = []
        worker = threading.Thread(target=lambda: first.append(request(audit.port, "/", headers, body)[0]))
        worker.start()
        time.sleep(0.5)
        second, _, reason = request(audit.port, "/", headers, body)
        worker.join(30)

        assert (first, second) == ([202], 409)
        assert knative_retries(second)
        assert reason.startswith(b"this event is being handled")
        assert request(audit.port, "/", headers, body)[0] == 202  # the Broker's retry
        assert audit.effects() == ["e-concurrent"]
    finally:
        stop(audit)


def test_the_one_event_a_handler_emits_is_the_reply_and_a_redelivery_gets_the_same_reply(tmp_path: Path) -> None:
    replying = start_push_process(tmp_path, module="tests.apps.push.replying_service")
    try:
        headers, body = binary(order_event(CONFIRMED, CONFIRMED_DATA, event_id="e-reply"))

        status, reply_headers, reply_body = request(replying.port, "/", headers, body)
        again = request(replying.port, "/", headers, body)

        assert status == 200
        reply = ce_http.from_http(ce_http.HTTPMessage(reply_headers, reply_body), JSONFormat(), CloudEvent)
        assert (reply.get_type(), reply.get_source()) == ("io.eventplatform.shipment.scheduled.v1", "/tests/replying")
        assert reply.get_extension("causationid") == "e-reply"
        assert reply.get_data() == {"order_id": "ord_1", "tracking_id": "TRK1", "customer_email": "a@example.com"}
        def ce_headers(headers: dict[str, str]) -> dict[str, str]:
            return {k: v for k, v in headers.items() if k.startswith("ce-") or k == "content-type"}

        assert (again[0], ce_headers(again[1]), again[2]) == (200, ce_headers(reply_headers), reply_body)
        assert not deliver(replying.port, headers, body, retry=3).dead_lettered
    finally:
        stop(replying)


def test_a_handler_emitting_more_than_a_reply_can_carry_is_dead_lettered(tmp_path: Path) -> None:
    replying = start_push_process(tmp_path, module="tests.apps.push.replying_service")
    try:
        cancelled = {"order_id": "ord_2", "customer_email": "b@example.com", "reason": "out_of_stock"}
        headers, body = binary(order_event("io.eventplatform.order.cancelled.v1", cancelled, event_id="e-two"))

        outcome = deliver(replying.port, headers, body, retry=3)

        assert outcome.statuses == [422] and outcome.dead_lettered
        assert outcome.error_data.startswith("multiple-replies")
    finally:
        stop(replying)


def test_ping_source_heartbeats_are_counted_on_their_own_path(audit: PushProcess) -> None:
    ping = order_event("dev.knative.sources.ping", {"ping": True}, event_id="ping-1",
                       source="/apis/v1/namespaces/events/pingsources/heartbeat")
    headers, body = binary(ping)

    assert request(audit.port, "/heartbeat", headers, body)[0] == 202
    assert request(audit.port, "/heartbeat", *structured(ping))[0] == 202
    assert audit.metric("knative_heartbeats_total", service="order-audit") == 2
    assert audit.effects() == []
    # Anything else on the heartbeat path is refused, not silently counted.
    headers, body = binary(order_event(CONFIRMED, CONFIRMED_DATA, event_id="e-wrong-path"))
    assert request(audit.port, "/heartbeat", headers, body)[0] == 422


def test_probes_answer_and_sigterm_drains_and_exits_cleanly(audit: PushProcess) -> None:
    assert audit.probe("/livez") == 200
    assert audit.probe("/readyz") == 200

    assert stop(audit) == 0
    assert '"stopped cleanly"' in audit.log_path.read_text()


def test_a_bad_environment_stops_the_process_naming_the_variable(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "event_platform.apps.orders.audit_service"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO), "SERVICE_NAME": "order-audit",
                               "PUSH_PORT": "not-a-port"})
    assert done.returncode == 1
    assert "PUSH_PORT: Input should be a valid integer" in done.stderr
    assert "Traceback" not in done.stderr
