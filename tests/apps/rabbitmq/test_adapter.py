"""What is particular to the RabbitMQ adapter, against a real RabbitMQ node: topology, the AMQP
CloudEvents binding, confirmed publishing, redelivery, dead-lettering and recovery. What every
adapter must do is tests/apps/test_broker_contract.py."""

from __future__ import annotations

import time

import pika
import pytest

from event_platform.apps.orders.events import ORDER_EVENTS
from event_platform.apps.runtime import deadletter
from event_platform.apps.runtime.adapter import BrokerError, OutboundRecord
from event_platform.apps.runtime.envelope import ContentMode, WireMessage
from event_platform.apps.runtime.rabbitmq import RabbitMQBroker
from event_platform.apps.runtime.settings import RabbitMQSettings
from event_platform.apps.runtime.topology import group_queue
from scripts.brokers.local_rabbitmq import LocalRabbitMQ
from tests.apps.support.adapters import event, poll_until, publish
from tests.apps.support.servers import RabbitMQUnderTest, wait_until

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]




def test_events_travel_in_the_amqp_binding_and_decode_to_the_same_envelope(
    adapter: RabbitMQBroker, names: dict[str, str]
) -> None:
    consumer = adapter.consumer(names["group"], [names["topic"]])
    sent = [event(1), event(2)]
    publish(adapter, names["topic"], sent[0])
    publish(adapter, names["topic"], sent[1], mode=ContentMode.STRUCTURED)
    records = poll_until(consumer, 2)
    consumer.complete(records, [])
    consumer.close()

    codec = adapter.codec(ORDER_EVENTS)
    assert [codec.decode(r.message) for r in records] == sent
    binary, structured = (dict(r.message.headers) for r in records)
    assert binary["cloudEvents_type"] == "io.eventplatform.order.created.v1"  # text, as pika hands it over
    assert binary["cloudEvents_id"] == sent[0].id
    assert binary["content-type"] == "application/json"
    assert structured["content-type"] == "application/cloudevents+json"
    assert [r.message.key for r in records] == [b"ord_1", b"ord_2"]  # the routing key
    assert {r.topic for r in records} == {names["topic"]}


def test_group_queues_are_quorum_queues_with_an_explicit_delivery_limit_and_a_dead_letter_exchange(
    adapter: RabbitMQBroker, rabbitmq: RabbitMQUnderTest, names: dict[str, str]
) -> None:
    adapter.consumer(names["group"], [names["topic"]]).close()
    queue = rabbitmq.management(f"queues/%2F/{group_queue(names['group'], names['topic'])}")
    stream = rabbitmq.management(f"queues/%2F/{names['topic']}")

    assert queue["durable"] and queue["type"] == "quorum"
    assert queue["arguments"]["x-delivery-limit"] == 2  # 3.10's default would be unlimited
    assert queue["arguments"]["x-dead-letter-exchange"] == f"{names['group']}.dlx"
    assert queue["arguments"]["x-dead-letter-strategy"] == "at-least-once"
    assert stream["type"] == "stream" and stream["durable"]


def test_published_messages_are_persistent_and_carry_the_event_id_as_message_id(
    adapter: RabbitMQBroker, rabbitmq: RabbitMQUnderTest, names: dict[str, str]
) -> None:
    adapter.consumer(names["group"], [names["topic"]]).close()
    sent = event(3)
    publish(adapter, names["topic"], sent)
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq.server.url))
    try:
        method, properties, _ = connection.channel().basic_get(group_queue(names["group"], names["topic"]))
    finally:
        connection.close()
    assert method is not None
    assert (properties.delivery_mode, properties.message_id) == (2, sent.id)


def test_what_a_consumer_held_without_completing_is_redelivered_and_flagged_as_reassigned(
    adapter: RabbitMQBroker, names: dict[str, str]
) -> None:
    first = adapter.consumer(names["group"], [names["topic"]])
    publish(adapter, names["topic"], *(event(n) for n in range(4)))
    records = poll_until(first, 4)
    first.complete(records[:2], [])
    first.close()  # as a crash would: the connection goes, two deliveries unacknowledged

    assigned: list[str] = []
    second = adapter.consumer(names["group"], [names["topic"]], on_assigned=lambda: assigned.append("x"))
    redelivered = poll_until(second, 2)
    second.complete(redelivered, [])
    second.close()
    assert [r.message.value for r in redelivered] == [r.message.value for r in records[2:]]
    assert len(assigned) == 2  # on subscribing, and again for the redelivered batch


def test_a_message_that_keeps_killing_its_consumer_is_dead_lettered_at_the_delivery_limit(
    adapter: RabbitMQBroker, rabbitmq: RabbitMQUnderTest, names: dict[str, str]
) -> None:
    publish(adapter, names["topic"])  # declares the topic
    adapter.consumer(names["group"], [names["topic"]]).close()
    poison = event(9)
    publish(adapter, names["topic"], poison)
    for _ in range(3):  # delivery limit 2: the third delivery is the last
        dying = adapter.consumer(names["group"], [names["topic"]])
        assert len(poll_until(dying, 1)) == 1
        dying.close()
    survivor = adapter.consumer(names["group"], [names["topic"]])
    dlq = f"{names['group']}.dlq"
    wait_until(lambda: survivor.poll(0.2, 10) == [] and len(rabbitmq.read_all(dlq)) == 1, "the dead letter")
    survivor.close()

    [letter] = rabbitmq.read_all(dlq)
    headers = deadletter.dlq_headers(letter.message)
    assert headers[deadletter.REASON] == "delivery-limit"
    assert headers[deadletter.ATTEMPTS] == "3"
    assert headers[deadletter.SOURCE_TOPIC] == names["topic"]
    assert headers[deadletter.CONSUMER_GROUP] == names["group"]
    assert adapter.codec(ORDER_EVENTS).decode(letter.message) == poison  # still the original event


def test_a_consumer_skips_an_event_id_it_has_just_completed(adapter: RabbitMQBroker, names: dict[str, str]) -> None:
    consumer = adapter.consumer(names["group"], [names["topic"]])
    twice, new = event(5), event(6)
    publish(adapter, names["topic"], twice)
    consumer.complete(poll_until(consumer, 1), [])
    publish(adapter, names["topic"], twice, new)  # a republished output, then a new event
    later = poll_until(consumer, 1)
    consumer.close()
    assert [r.message.header("cloudEvents_id") for r in later] == [new.id]


def test_publisher_and_consumers_recover_when_the_node_restarts(
    own_rabbitmq: tuple[LocalRabbitMQ, RabbitMQSettings], names: dict[str, str]
) -> None:
    server, settings = own_rabbitmq
    broker = RabbitMQBroker(settings)
    consumer = broker.consumer(names["group"], [names["topic"]])
    publisher = broker.publisher()
    codec = broker.codec(ORDER_EVENTS)
    publisher.publish_and_wait(OutboundRecord(names["topic"], codec.encode(event(1))), 10)

    server.stop()
    with pytest.raises(BrokerError):
        consumer.poll(1.0, 10)
    with pytest.raises(BrokerError):
        publisher.publish_and_wait(OutboundRecord(names["topic"], codec.encode(event(2))), 3)
    consumer.close()
    server.start()

    # Reconnects, and retries while the node's queues come back after its boot.
    publisher.publish_and_wait(OutboundRecord(names["topic"], codec.encode(event(3))), 30)
    consumer = broker.consumer(names["group"], [names["topic"]])
    records = poll_until(consumer, 2)
    consumer.complete(records, [])
    consumer.close()
    publisher.close()
    assert [r.message.key for r in records] == [b"ord_1", b"ord_3"]  # persistent across the restart


def test_connecting_to_a_node_that_is_not_there_fails_with_a_broker_error_after_backing_off() -> None:
    settings = RabbitMQSettings(url="amqp://guest:guest@127.0.0.1:1/%2F", connect_timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(BrokerError, match=r"cannot connect to RabbitMQ at 127\.0\.0\.1:1"):
        RabbitMQBroker(settings).consumer("g", ["t"])
    assert time.monotonic() - started < 5


def test_an_unknown_exchange_is_an_error_not_a_silent_drop(adapter: RabbitMQBroker) -> None:
    consumer = adapter.consumer("g-none", ["t-none"])
    with pytest.raises(BrokerError):
        consumer.complete([], [OutboundRecord("amq.nonexistent", WireMessage(b"x"))])
    consumer.close()


def test_an_unroutable_publish_in_a_burst_fails_the_next_flush(
    adapter: RabbitMQBroker, rabbitmq: RabbitMQUnderTest, names: dict[str, str]
) -> None:
    # The publisher keeps a window of unconfirmed publishes rather than waiting per batch, so a
    # return can arrive after `publish` went on: it must still surface, from `flush`.
    publisher, codec = adapter.publisher(), adapter.codec(ORDER_EVENTS)
    try:
        publisher.publish_and_wait(OutboundRecord(names["topic"], codec.encode(event(0))), 10)
        connection = pika.BlockingConnection(pika.URLParameters(rabbitmq.settings.url))
        connection.channel().queue_delete(names["topic"])  # the topic's stream: nothing is bound now
        connection.close()
        for n in range(1, 50):
            publisher.publish(OutboundRecord(names["topic"], codec.encode(event(n))))
        with pytest.raises(BrokerError, match="unroutable"):
            publisher.flush(10)
        publisher.flush(10)  # reported once; nothing else outstanding
    finally:
        publisher.close()


def test_header_values_of_other_types_arrive_as_text_and_the_brokers_own_headers_are_left_out(
    adapter: RabbitMQBroker, rabbitmq: RabbitMQUnderTest, names: dict[str, str]
) -> None:
    consumer = adapter.consumer(names["group"], [names["topic"]])
    sent = event(1)
    wire = adapter.codec(ORDER_EVENTS).encode(sent)
    headers = {name: value for name, value in wire.headers if name != "content-type"}
    headers |= {"retries": 3, "raw": b"\xff\x00", "x-custom": "the broker's namespace"}
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq.settings.url))
    connection.channel().basic_publish(names["topic"], "ord_1", wire.value, pika.BasicProperties(
        content_type="application/json", headers=headers, delivery_mode=2))
    connection.close()
    [record] = poll_until(consumer, 1)
    consumer.complete([record], [])
    consumer.close()

    received = dict(record.message.headers)
    assert received["retries"] == "3" and received["raw"] == b"\xff\x00"
    assert "x-custom" not in received
    assert adapter.codec(ORDER_EVENTS).decode(record.message) == sent


def test_a_consumer_whose_queue_is_deleted_fails_its_next_poll_and_a_new_one_recreates_the_queue(
    adapter: RabbitMQBroker, rabbitmq: RabbitMQUnderTest, names: dict[str, str]
) -> None:
    consumer = adapter.consumer(names["group"], [names["topic"]])
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq.settings.url))
    connection.channel().queue_delete(group_queue(names["group"], names["topic"]))
    connection.close()
    with pytest.raises(BrokerError, match="cancelled consumer"):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the cancellation arrives during a poll
            consumer.poll(0.2, 10)
    assert not consumer.is_ready()
    consumer.close()

    # What the processor does on a BrokerError: connect again, which declares the queue again.
    again = adapter.consumer(names["group"], [names["topic"]])
    sent = event(7)
    publish(adapter, names["topic"], sent)
    assert [r.message.header("cloudEvents_id") for r in poll_until(again, 1)] == [sent.id]
    again.close()
