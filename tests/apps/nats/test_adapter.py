"""What is particular to the NATS JetStream adapter, against a real nats-server: streams and
durable pull consumers, the NATS CloudEvents binding, publish de-duplication, redelivery,
max-deliveries dead-lettering, the key-value effects journal and reconnects. What every adapter
must do is tests/apps/test_broker_contract.py."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import nats
import pytest

from event_platform.apps.orders.events import ORDER_EVENTS
from event_platform.apps.runtime import deadletter
from event_platform.apps.runtime.adapter import BrokerError, OutboundRecord
from event_platform.apps.runtime.envelope import ContentMode
from event_platform.apps.runtime.nats import NatsBroker
from event_platform.apps.runtime.settings import NatsSettings
from event_platform.apps.runtime.topology import stream_name
from scripts.brokers.local_nats import LocalNats
from tests.apps.support.adapters import event, poll_until, publish
from tests.apps.support.servers import NatsUnderTest, wait_until

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]




def consumer_info(server: LocalNats, topic: str, group: str) -> Any:
    async def info() -> Any:
        client = await nats.connect(server.url)
        try:
            return await client.jetstream().consumer_info(stream_name(topic), group)
        finally:
            await client.close()

    return asyncio.run(info())


def test_events_travel_in_the_nats_binding_and_decode_to_the_same_envelope(
    adapter: NatsBroker, names: dict[str, str]
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
    assert binary["ce-type"] == "io.eventplatform.order.created.v1"  # text, as nats-py hands it over
    assert binary["ce-id"] == sent[0].id
    assert binary["content-type"] == "application/json"
    assert structured["content-type"] == "application/cloudevents+json"
    assert [r.message.key for r in records] == [b"ord_1", b"ord_2"]  # the ce-partitionkey header
    assert [(r.topic, r.offset) for r in records] == [(names["topic"], 1), (names["topic"], 2)]  # stream seqs


def test_groups_are_durable_pull_consumers_with_explicit_acks_max_deliver_and_backoff(
    adapter: NatsBroker, jetstream: NatsUnderTest, names: dict[str, str]
) -> None:
    adapter.consumer(names["group"], [names["topic"]]).close()
    config = consumer_info(jetstream.server, names["topic"], names["group"]).config

    assert config.durable_name == names["group"]
    assert config.ack_policy == "explicit"
    assert config.max_deliver == 3
    assert config.backoff == [2.0, 4.0]  # redelivery delays after an ack timeout
    assert config.deliver_subject is None  # a pull consumer


def test_republishing_an_event_id_is_dropped_by_the_server(
    adapter: NatsBroker, jetstream: NatsUnderTest, names: dict[str, str]
) -> None:
    twice = event(5)
    publish(adapter, names["topic"], twice, event(6))
    publish(adapter, names["topic"], twice)  # a redelivered batch re-emitting its output
    assert jetstream.end_offset(names["topic"]) == 2
    first = jetstream.read_all(names["topic"])[0]
    assert first.message.header("ce-id") == twice.id


def test_what_a_consumer_held_without_completing_goes_to_the_next_one_at_once_flagged_as_reassigned(
    jetstream: NatsUnderTest, names: dict[str, str]
) -> None:
    adapter = NatsBroker(jetstream.settings, ack_wait_s=8.0, prefetch=50)  # a timeout would show
    first = adapter.consumer(names["group"], [names["topic"]])
    publish(adapter, names["topic"], *(event(n) for n in range(4)))
    records = poll_until(first, 4)
    first.complete(records[:2], [])
    first.close()  # naks what it still holds

    assigned: list[str] = []
    second = adapter.consumer(names["group"], [names["topic"]], on_assigned=lambda: assigned.append("x"))
    started = time.monotonic()
    redelivered = poll_until(second, 2)
    second.complete(redelivered, [])
    second.close()
    assert [r.offset for r in redelivered] == [3, 4]
    assert time.monotonic() - started < 5  # well inside the 8 s ack wait: no timeout involved
    assert len(assigned) == 2


def test_what_a_killed_consumer_held_comes_back_after_the_ack_wait(
    adapter: NatsBroker, names: dict[str, str]
) -> None:
    doomed = adapter.consumer(names["group"], [names["topic"]])
    publish(adapter, names["topic"], event(1))
    assert len(poll_until(doomed, 1)) == 1
    doomed._closing = True  # a SIGKILL: no nak, no keep-alive any more
    doomed._loop.stop()

    survivor = adapter.consumer(names["group"], [names["topic"]])
    started = time.monotonic()
    redelivered = poll_until(survivor, 1, timeout_s=15)
    survivor.complete(redelivered, [])
    survivor.close()
    assert [r.offset for r in redelivered] == [1]
    assert 1.0 < time.monotonic() - started < 6  # the 2 s ack wait


def test_a_slow_batch_is_kept_alive_and_not_redelivered_meanwhile(adapter: NatsBroker, names: dict[str, str]) -> None:
    one = adapter.consumer(names["group"], [names["topic"]])
    two = adapter.consumer(names["group"], [names["topic"]])
    publish(adapter, names["topic"], event(1))
    held = poll_until(one, 1) + poll_until(two, 1, timeout_s=1)
    assert len(held) == 1
    time.sleep(5)  # more than twice the ack wait: +WPI keeps it with its holder
    duplicates = one.poll(0.2, 10) + two.poll(0.2, 10)
    for consumer in (one, two):
        consumer.complete([r for r in held if (r.topic, r.offset) in consumer._held], [])
        consumer.close()
    assert duplicates == []


def test_a_message_delivered_max_deliver_times_is_dead_lettered_through_the_advisory(
    adapter: NatsBroker, jetstream: NatsUnderTest, names: dict[str, str]
) -> None:
    poison = event(9)
    publish(adapter, names["topic"], poison)
    for _ in range(3):  # max_deliver 3
        dying = adapter.consumer(names["group"], [names["topic"]])
        assert len(poll_until(dying, 1)) == 1
        dying.close()
    # The next instance's fetch finds the message exhausted: the server advises, it dead-letters.
    survivor = adapter.consumer(names["group"], [names["topic"]])
    dlq = f"{names['group']}.dlq"
    wait_until(lambda: survivor.poll(0.2, 10) == [] and len(jetstream.read_all(dlq)) == 1, "the dead letter")
    survivor.close()

    [letter] = jetstream.read_all(dlq)
    headers = deadletter.dlq_headers(letter.message)
    assert headers[deadletter.REASON] == "max-deliveries"
    assert headers[deadletter.ATTEMPTS] == "3"
    assert (headers[deadletter.SOURCE_TOPIC], headers[deadletter.SOURCE_OFFSET]) == (names["topic"], "1")
    assert headers[deadletter.CONSUMER_GROUP] == names["group"]
    assert adapter.codec(ORDER_EVENTS).decode(letter.message) == poison


def test_the_effects_journal_is_a_key_value_bucket_shared_between_instances(
    adapter: NatsBroker, names: dict[str, str]
) -> None:
    journal = f"{names['group']}.effects"
    one, two = adapter.journal(journal), adapter.journal(journal)
    one.put("charge:ord_1", '{"ok": true}')
    assert two.get("charge:ord_1") == '{"ok": true}'  # no refresh needed: reads go to the server
    assert two.get("charge:ord_2") is None
    one.close()
    two.close()


def test_publisher_and_consumers_recover_when_the_server_restarts(
    own_nats: tuple[LocalNats, NatsSettings], names: dict[str, str]
) -> None:
    server, settings = own_nats
    broker = NatsBroker(settings, ack_wait_s=2.0)
    consumer = broker.consumer(names["group"], [names["topic"]])
    publisher = broker.publisher()
    codec = broker.codec(ORDER_EVENTS)
    publisher.publish_and_wait(OutboundRecord(names["topic"], codec.encode(event(1))), 10)
    first = poll_until(consumer, 1)
    consumer.complete(first, [])

    server.restart()
    publisher.publish_and_wait(OutboundRecord(names["topic"], codec.encode(event(2))), 15)  # reconnected
    later = poll_until(consumer, 1, timeout_s=20)
    consumer.complete(later, [])
    assert consumer.is_ready()
    consumer.close()
    publisher.close()
    assert [r.message.key for r in first + later] == [b"ord_1", b"ord_2"]


def test_connecting_to_a_server_that_is_not_there_fails_with_a_broker_error() -> None:
    settings = NatsSettings(url="nats://127.0.0.1:1", connect_timeout_s=1.0)
    with pytest.raises(BrokerError, match=r"cannot connect to NATS at nats://127\.0\.0\.1:1"):
        NatsBroker(settings).publisher()
