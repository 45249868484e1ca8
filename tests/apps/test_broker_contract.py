"""The broker contract every adapter must meet (event_platform.apps.runtime.adapter.Broker).

Each test runs on Kafka, RabbitMQ and NATS JetStream (the `broker` fixture); a fourth broker's
adapter joins by being added to that fixture. What differs between brokers by design (how a
redelivery is triggered, dead-lettering, server-side duplicate detection, restarts) is tested in
tests/apps/<broker>/.
"""

from __future__ import annotations

import time
import uuid

from event_platform.apps.orders.events import ORDER_EVENTS
from event_platform.apps.orders.topics import INVENTORY, ORDERS
from event_platform.apps.runtime.adapter import InboundRecord, OutboundRecord
from tests.apps.support.adapters import event, poll_until, publish
from tests.apps.support.brokers import BrokerUnderTest

JOURNAL = "payment-service.effects"  # one of the pipeline's topics on every broker (topics.pipeline_topics)


def _group() -> str:
    return f"g-{uuid.uuid4().hex[:8]}"


def test_completing_a_batch_publishes_its_outputs_then_acknowledges_its_inputs(broker: BrokerUnderTest) -> None:
    adapter, group = broker.runtime_broker(transactional_id=f"{_group()}-tx"), _group()
    consumer = adapter.consumer(group, [ORDERS])
    publish(adapter, ORDERS, *(event(n) for n in range(5)))
    records = poll_until(consumer, 5, timeout_s=60)
    assert len(records) == 5
    consumer.complete(records, [OutboundRecord(INVENTORY, r.message) for r in records])
    consumer.close()

    again = adapter.consumer(group, [ORDERS])
    assert poll_until(again, 1, timeout_s=5) == []  # nothing left to redeliver
    again.close()
    # Every output once (Kafka orders them per partition only).
    assert sorted(r.message.value for r in broker.read_all(INVENTORY)) == sorted(r.message.value for r in records)
    assert broker.committed(group, ORDERS) == 5


def test_consumers_of_one_group_share_the_messages_each_once(broker: BrokerUnderTest) -> None:
    adapter, group = broker.runtime_broker(), _group()
    codec = adapter.codec(ORDER_EVENTS)
    one, two = (adapter.consumer(group, [ORDERS]) for _ in range(2))
    sent = [event(n) for n in range(40)]
    publish(adapter, ORDERS, *sent)
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while len(seen) < 40 and time.monotonic() < deadline:
        for consumer in (one, two):
            batch = consumer.poll(0.2, 5)
            consumer.complete(batch, [])
            seen += [codec.decode(r.message).id for r in batch]
    one.close()
    two.close()
    assert sorted(seen) == sorted(e.id for e in sent)  # all of them, none twice


def test_a_log_reader_replays_a_topic_to_its_end_then_follows_it(broker: BrokerUnderTest) -> None:
    adapter = broker.runtime_broker()
    publish(adapter, ORDERS, *(event(n) for n in range(3)))
    reader = adapter.reader([ORDERS])
    first = list(reader.catch_up())
    publish(adapter, ORDERS, event(3))
    rest: list[InboundRecord] = []
    deadline = time.monotonic() + 30
    while not rest and time.monotonic() < deadline:
        rest += reader.catch_up()
    reader.close()
    # Each record once; across Kafka's partitions the order is per partition only.
    assert sorted(r.message.key for r in first) == [b"ord_0", b"ord_1", b"ord_2"]
    assert [r.message.key for r in rest] == [b"ord_3"]


def test_the_effects_journal_is_shared_between_instances_and_survives_reopening(broker: BrokerUnderTest) -> None:
    adapter = broker.runtime_broker()
    one, two = adapter.journal(JOURNAL), adapter.journal(JOURNAL)
    one.put("charge:ord_1", '{"ok": true}')
    deadline = time.monotonic() + 30
    while two.get("charge:ord_1") is None and time.monotonic() < deadline:
        two.refresh()  # a journal may serve reads from what it has read so far
    assert two.get("charge:ord_1") == '{"ok": true}'
    assert two.get("charge:ord_2") is None
    one.close()
    two.close()
    reopened = adapter.journal(JOURNAL)
    assert reopened.get("charge:ord_1") == '{"ok": true}'
    reopened.close()
