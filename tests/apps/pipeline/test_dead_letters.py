"""Events that cannot be processed end in a dead-letter topic, and the pipeline keeps flowing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime

import pytest

from event_platform.apps.orders.events import ORDER_EVENTS, OrderCreatedV1, OrderDetails
from event_platform.apps.runtime import deadletter
from event_platform.apps.runtime.bindings import KNOWN_PREFIXES, attribute
from event_platform.apps.runtime.envelope import ContentMode, Envelope
from tests.apps.support.brokers import BrokerUnderTest
from tests.apps.support.pipeline import REPO, Pipeline, order

pytestmark = [pytest.mark.broker, pytest.mark.timeout(240)]


def dlq_headers(broker: BrokerUnderTest, topic: str) -> list[dict[str, str]]:
    return [deadletter.dlq_headers(record.message) for record in broker.read_all(topic)]


def test_a_poison_event_is_retried_then_dead_lettered_while_other_orders_complete(
    pipeline: Pipeline, broker: BrokerUnderTest
) -> None:
    pipeline.start()
    poison = pipeline.post_order(order(0, token="tok_unavailable"))[1]["order_id"]
    healthy = [pipeline.post_order(order(n))[1]["order_id"] for n in range(1, 11)]

    views = pipeline.wait_terminal(healthy)
    pipeline.wait_for(lambda: len(broker.read_all("payment-service.dlq")) == 1, "the poison event's dead letter")

    assert {views[o]["status"] for o in healthy} == {"CONFIRMED"}
    assert views[poison]["status"] == "RESERVED"  # stuck where it failed, not lost, not charged
    [letter] = broker.read_all("payment-service.dlq")
    headers = deadletter.dlq_headers(letter.message)
    assert headers[deadletter.REASON] == "handler-error"
    assert "GatewayUnavailable" in headers[deadletter.ERROR]
    assert headers[deadletter.ATTEMPTS] == "3"
    assert headers[deadletter.SOURCE_TOPIC] == "inventory"
    assert headers[deadletter.CONSUMER_GROUP] == "payment-service"
    assert datetime.fromisoformat(headers[deadletter.FIRST_FAILURE]) < datetime.fromisoformat(
        headers[deadletter.LAST_FAILURE]
    )
    if broker.log_positions:  # the dead letter points at its source record in the log
        source = [r for r in broker.read_all("inventory")
                  if (r.topic, r.partition, r.offset) == ("inventory", int(headers[deadletter.SOURCE_PARTITION]),
                                                          int(headers[deadletter.SOURCE_OFFSET]))]
    else:  # queue deliveries have no log position: the event id names the source record
        letter_id = attribute(letter.message, "id")
        source = [r for r in broker.read_all("inventory") if attribute(r.message, "id") == letter_id]
    assert [(r.message.value, r.message.key) for r in source] == [(letter.message.value, letter.message.key)]
    assert attribute(letter.message, "type") == "io.eventplatform.inventory.reserved.v1"
    payments = pipeline.services["payment-service"]
    assert payments.process.poll() is None and payments.live()
    assert payments.metric("events_failed_total", reason="handler-error") == 3
    assert payments.metric("events_dead_lettered_total", reason="handler-error") == 1
    assert payments.metric("events_in_total", type="io.eventplatform.inventory.reserved.v1") == 11
    [logged] = [e for e in payments.log_entries() if e["msg"] == "dead-lettered"]
    assert logged["event_id"] == attribute(letter.message, "id")
    assert logged["correlation_id"] == attribute(letter.message, "correlationid")


def test_malformed_bytes_and_unknown_versions_are_dead_lettered_without_a_crash(
    pipeline: Pipeline, broker: BrokerUnderTest
) -> None:
    pipeline.start()
    first = OrderCreatedV1(order_id="ord_v9", order=OrderDetails.model_validate(order(1)))
    valid = broker.codec(ORDER_EVENTS).encode(Envelope(payload=first, source="/test", key="ord_v9"))
    type_headers = {prefix + "type" for prefix in KNOWN_PREFIXES}  # whatever the broker's binding calls it
    from_the_future = tuple((n, b"io.eventplatform.order.created.v9" if n in type_headers else v)
                            for n, v in valid.headers)
    broker.publish_raw("orders", b"\x00\xffnot a cloudevent", key=b"garbage")
    broker.publish_raw("orders", valid.value, key=valid.key, headers=from_the_future)
    # Structured content mode is accepted on input, next to the default binary mode.
    structured = broker.codec(ORDER_EVENTS, ContentMode.STRUCTURED).encode(
        Envelope(payload=OrderCreatedV1(order_id="ord_structured", order=OrderDetails.model_validate(order(2))),
                 source="/test", key="ord_structured"))
    broker.publish_raw("orders", structured.value, key=structured.key, headers=structured.headers)
    after = pipeline.post_order(order(3))[1]["order_id"]

    views = pipeline.wait_terminal(["ord_structured", after])
    pipeline.wait_for(lambda: len(broker.read_all("inventory-service.dlq")) == 2, "two dead letters")

    assert views["ord_structured"]["status"] == views[after]["status"] == "CONFIRMED"
    reasons = sorted(h[deadletter.REASON] for h in dlq_headers(broker, "inventory-service.dlq"))
    assert reasons == ["malformed", "unknown-type"]
    unknown = next(h for h in dlq_headers(broker, "inventory-service.dlq") if h[deadletter.REASON] == "unknown-type")
    assert "version 9 is unknown" in unknown[deadletter.ERROR]
    assert all(h[deadletter.ATTEMPTS] == "1" for h in dlq_headers(broker, "inventory-service.dlq"))
    assert all(s.process.poll() is None for s in pipeline.services.values())


def test_the_dlq_tool_lists_dead_letters_and_replays_them_to_their_source(
    pipeline: Pipeline, broker: BrokerUnderTest
) -> None:
    pipeline.start("inventory-service", "order-service")
    broker.publish_raw("orders", b"{broken", key=b"k")
    pipeline.wait_for(lambda: len(broker.read_all("inventory-service.dlq")) == 1, "a dead letter")
    env = {**os.environ, **broker.service_env(), "PYTHONPATH": str(REPO)}

    def dlq(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "event_platform.apps.runtime.dlq", *args], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=60, check=True)
        return done.stdout

    [listed] = [json.loads(line) for line in dlq("list", "inventory-service.dlq", "--json").splitlines()]
    assert (listed["reason"], listed["source_topic"], listed["attempts"]) == ("malformed", "orders", 1)

    before = len(broker.read_all("orders"))
    dlq("replay", "inventory-service.dlq")
    replayed = broker.read_all("orders")[before:]
    assert [(r.message.value, r.message.key) for r in replayed] == [(b"{broken", b"k")]
    assert deadletter.dlq_headers(replayed[0].message) == {}
