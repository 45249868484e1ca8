"""The measured loops for RabbitMQ and NATS: the runtime's publisher/processor and a plain client
loop with the same durability, run one per process (`python -m bench.broker_loops '<job json>'`)
so each reports its own peak RSS. Prints one JSON object: events, seconds, latencies.

Same durability on both paths:
- RabbitMQ (pika): persistent messages, publisher confirms (up to 500 in flight, as the
  runtime's publisher batches them), `mandatory`; consumers on the same quorum queues, prefetch
  500, manual acks after processing (the plain loop acks per drained batch, the runtime per poll).
- NATS (nats-py): JetStream `publish_async`, every PubAck awaited (up to 1,000 in flight),
  Nats-Msg-Id set; durable pull consumers with explicit acks, fetch 500, acks flushed per batch.
Both paths write and read the same binary-mode CloudEvents (the plain loops build and read the
binding's headers by hand), so the ratio measures what the runtime adds.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.events import REGISTRY, OrderPlacedV1, payload_fields  # noqa: E402
from event_platform.apps.runtime.adapter import Broker, Consumer, InboundRecord, OutboundRecord  # noqa: E402
from event_platform.apps.runtime.envelope import Envelope  # noqa: E402
from event_platform.apps.runtime.metrics import Metrics  # noqa: E402
from event_platform.apps.runtime.processor import Processor, ProcessorOptions  # noqa: E402
from event_platform.apps.runtime.publisher import EventPublisher  # noqa: E402
from event_platform.apps.runtime.service import Emit, Service  # noqa: E402
from event_platform.apps.runtime.settings import NatsSettings, RabbitMQSettings  # noqa: E402

POLL_RECORDS = 500
GROUP_PREFIX = "bench"


def runtime_broker(job: dict[str, Any]) -> Broker:
    if job["broker"] == "rabbitmq":
        from event_platform.apps.runtime.rabbitmq import RabbitMQBroker

        return RabbitMQBroker(RabbitMQSettings(url=job["url"]), prefetch=POLL_RECORDS)
    from event_platform.apps.runtime.nats import NatsBroker

    return NatsBroker(NatsSettings(url=job["url"]), prefetch=2 * POLL_RECORDS)


def event(seq: int) -> Envelope:
    fields = payload_fields(seq)
    return Envelope(payload=OrderPlacedV1(**fields), source="/bench", key=fields["order_id"])


def paced(rate: float, count: int) -> Iterator[int]:
    start = time.perf_counter()
    for seq in range(count):
        delay = start + seq / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        yield seq


def hand_made_headers(prefix: str, event_id: str) -> dict[str, str]:
    """The binary-mode CloudEvents attributes the runtime writes, built by hand."""
    return {
        f"{prefix}id": event_id,
        f"{prefix}source": "/bench",
        f"{prefix}type": OrderPlacedV1.EVENT_TYPE,
        f"{prefix}specversion": "1.0",
        f"{prefix}time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


# -- the runtime -------------------------------------------------------------------------------


def produce_runtime(job: dict[str, Any], seqs: Iterator[int] | None = None) -> dict[str, Any]:
    broker = runtime_broker(job)
    publisher = EventPublisher(broker.publisher(), broker.codec(REGISTRY), Metrics("bench"))
    publisher.publish_and_wait(job["topic"], event(-1))  # connection and topology outside the clock
    started = time.perf_counter()
    count = 0
    for seq in seqs if seqs is not None else iter(range(job["count"])):
        publisher.publish(job["topic"], event(seq))
        count += 1
    publisher.flush(120)
    elapsed = time.perf_counter() - started
    publisher.close()
    return {"events": count, "seconds": elapsed}


class _Sink(Service):
    name = "bench-sink"
    registry = REGISTRY

    def __init__(self, topic: str, count: int) -> None:
        self.topics = (topic,)
        self.count, self.seen = count, 0
        self.latencies: list[float] = []
        self.first: float | None = None

    def handle(self, event: Envelope) -> Sequence[Emit]:
        self.first = self.first or time.perf_counter()
        sent_ns = event.payload.sent_ns  # type: ignore[attr-defined]
        if sent_ns > 0:
            self.latencies.append((time.time_ns() - sent_ns) / 1e6)
        self.seen += 1
        return []


class _TimedConsumer(Consumer):
    """The adapter's consumer, noting when the batch holding the last expected event completed."""

    def __init__(self, inner: Consumer, sink: _Sink, stop: Callable[[], None]) -> None:
        self.inner, self.sink, self.stop = inner, sink, stop
        self.done_at = 0.0

    def poll(self, timeout_s: float, max_records: int) -> list[InboundRecord]:
        return self.inner.poll(timeout_s, max_records)

    def complete(self, records: Sequence[InboundRecord], outputs: Sequence[OutboundRecord]) -> None:
        self.inner.complete(records, outputs)
        if self.sink.seen >= self.sink.count and not self.done_at:
            self.done_at = time.perf_counter()
            self.stop()

    def is_ready(self) -> bool:
        return self.inner.is_ready()

    def close(self) -> None:
        self.inner.close()


class _TimedBroker(Broker):
    def __init__(self, inner: Broker, sink: _Sink) -> None:
        self.inner, self.sink = inner, sink
        self.name = inner.name
        self.processor: Processor | None = None
        self.timed: _TimedConsumer | None = None

    def codec(self, registry: Any, mode: Any = None) -> Any:
        return self.inner.codec(registry)

    def consumer(self, group: str, topics: Sequence[str], on_assigned: Callable[[], None] | None = None) -> Consumer:
        assert self.processor is not None
        self.timed = _TimedConsumer(self.inner.consumer(group, topics, on_assigned), self.sink,
                                    self.processor.request_stop)
        return self.timed

    def publisher(self) -> Any:
        return self.inner.publisher()

    def reader(self, topics: Sequence[str]) -> Any:
        return self.inner.reader(topics)

    def journal(self, name: str) -> Any:
        return self.inner.journal(name)


def consume_runtime(job: dict[str, Any]) -> dict[str, Any]:
    sink = _Sink(job["topic"], job["count"])
    broker = _TimedBroker(runtime_broker(job), sink)
    processor = Processor(sink, broker, broker.codec(REGISTRY),
                          ProcessorOptions(group=job["group"], dead_letter_topic=f"{job['group']}.dlq",
                                           max_poll_records=POLL_RECORDS, shutdown_timeout_s=120),
                          metrics=Metrics("bench"))
    broker.processor = processor
    processor.run()
    assert broker.timed is not None and sink.first is not None
    return {"events": sink.seen, "seconds": broker.timed.done_at - sink.first, "latencies_ms": sink.latencies}


def latency_runtime(job: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    reader = threading.Thread(target=lambda: result.update(consume_runtime(job)))
    reader.start()
    time.sleep(1)  # the consumer is subscribed before the clock starts (its queue/stream exists already)
    produce_runtime(job, paced(job["rate"], job["count"]))
    reader.join()
    return result


# -- plain RabbitMQ (pika) ---------------------------------------------------------------------


def produce_plain_rabbitmq(job: dict[str, Any], seqs: Iterator[int] | None = None) -> dict[str, Any]:
    """pika with publisher confirms, up to 500 in flight (as the runtime): publish through the
    blocking channel's async channel, then wait until the broker acked them all."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(job["url"]))
    channel = connection.channel()._impl
    outstanding: set[int] = set()
    selected: list[bool] = []

    def on_confirm(frame: Any) -> None:
        tag = frame.method.delivery_tag
        outstanding.difference_update({t for t in outstanding if t <= tag} if frame.method.multiple else {tag})

    channel.confirm_delivery(on_confirm, callback=lambda frame: selected.append(True))
    while not selected:
        connection.process_data_events(time_limit=0.001)

    def settle() -> None:
        while outstanding:
            connection.process_data_events(time_limit=0.001)

    started = time.perf_counter()
    count = 0
    for seq in seqs if seqs is not None else iter(range(job["count"])):
        fields = payload_fields(seq)
        properties = pika.BasicProperties(
            delivery_mode=2, content_type="application/json", message_id=f"{seq:032x}",
            headers=hand_made_headers("cloudEvents_", f"{seq:032x}"))
        channel.basic_publish(job["topic"], fields["order_id"], json.dumps(fields).encode(), properties,
                              mandatory=True)
        count += 1
        outstanding.add(count)
        if seqs is not None or len(outstanding) >= 500:
            settle()
    settle()
    elapsed = time.perf_counter() - started
    connection.close()
    return {"events": count, "seconds": elapsed}


def consume_plain_rabbitmq(job: dict[str, Any]) -> dict[str, Any]:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(job["url"]))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=POLL_RECORDS)
    received: list[tuple[int, Any, bytes]] = []
    channel.basic_consume(f"{job['group']}.{job['topic']}",
                          lambda ch, method, props, body: received.append((method.delivery_tag, props, body)))
    seen, started, latencies = 0, 0.0, []
    while seen < job["count"]:
        connection.process_data_events(time_limit=0.5)
        if not received:
            continue
        started = started or time.perf_counter()
        batch, received[:] = list(received), []
        for _, properties, body in batch:
            # What a hand-written CloudEvents consumer does: check the type, parse the data.
            if (properties.headers or {}).get("cloudEvents_type") != OrderPlacedV1.EVENT_TYPE:
                continue
            data = json.loads(body)
            if data["sent_ns"] > 0:
                latencies.append((time.time_ns() - data["sent_ns"]) / 1e6)
            seen += 1
        channel.basic_ack(batch[-1][0], multiple=True)
    connection.process_data_events(time_limit=0)
    elapsed = time.perf_counter() - started
    connection.close()
    return {"events": seen, "seconds": elapsed, "latencies_ms": latencies}


# -- plain NATS (nats-py) ----------------------------------------------------------------------


async def _produce_plain_nats(job: dict[str, Any], seqs: Iterator[int] | None) -> dict[str, Any]:
    import nats

    client = await nats.connect(job["url"])
    js = client.jetstream(publish_async_max_pending=1_000)
    pending: list[Any] = []
    started = time.perf_counter()
    count = 0
    for seq in seqs if seqs is not None else iter(range(job["count"])):
        fields = payload_fields(seq)
        headers = {**hand_made_headers("ce-", f"{seq:032x}"), "content-type": "application/json",
                   "ce-partitionkey": fields["order_id"], "Nats-Msg-Id": f"{seq:032x}"}
        pending.append(await js.publish_async(job["topic"], json.dumps(fields).encode(), headers=headers))
        count += 1
        if len(pending) >= 1_000:
            await _settled(pending)
        elif seqs is not None:
            await asyncio.sleep(0)  # paced: let the publish go out now
    await _settled(pending)
    elapsed = time.perf_counter() - started
    await client.close()
    return {"events": count, "seconds": elapsed}


async def _settled(acks: list[Any]) -> None:
    """Every PubAck arrived and none is an error (publish_async futures raise APIError)."""
    await asyncio.wait_for(asyncio.gather(*acks), 10)
    acks.clear()


def produce_plain_nats(job: dict[str, Any], seqs: Iterator[int] | None = None) -> dict[str, Any]:
    if seqs is None:
        return asyncio.run(_produce_plain_nats(job, None))
    # Paced: produce from this thread's own loop, sleeping between sends in the generator.
    return asyncio.run(_produce_plain_nats(job, seqs))


async def _consume_plain_nats(job: dict[str, Any]) -> dict[str, Any]:
    import nats
    import nats.errors
    from nats.js import api

    from event_platform.apps.runtime.topology import stream_name

    client = await nats.connect(job["url"])
    js = client.jetstream()
    await js.add_consumer(stream_name(job["topic"]), api.ConsumerConfig(
        durable_name=job["group"], ack_policy=api.AckPolicy.EXPLICIT, deliver_policy=api.DeliverPolicy.ALL,
        filter_subject=job["topic"], ack_wait=10.0, max_ack_pending=2_000))
    subscription = await js.pull_subscribe_bind(durable=job["group"], stream=stream_name(job["topic"]))
    seen, started, latencies = 0, 0.0, []
    while seen < job["count"]:
        try:
            messages = await subscription.fetch(batch=POLL_RECORDS, timeout=0.5)
        except nats.errors.TimeoutError:
            continue
        started = started or time.perf_counter()
        for message in messages:
            if (message.headers or {}).get("ce-type") != OrderPlacedV1.EVENT_TYPE:
                continue
            data = json.loads(message.data)
            if data["sent_ns"] > 0:
                latencies.append((time.time_ns() - data["sent_ns"]) / 1e6)
            seen += 1
        for message in messages:
            await message.ack()
        await client.flush()
    elapsed = time.perf_counter() - started
    await client.close()
    return {"events": seen, "seconds": elapsed, "latencies_ms": latencies}


def consume_plain_nats(job: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(_consume_plain_nats(job))


def latency_plain(job: dict[str, Any]) -> dict[str, Any]:
    consume = consume_plain_rabbitmq if job["broker"] == "rabbitmq" else consume_plain_nats
    produce = produce_plain_rabbitmq if job["broker"] == "rabbitmq" else produce_plain_nats
    result: dict[str, Any] = {}
    reader = threading.Thread(target=lambda: result.update(consume(job)))
    reader.start()
    time.sleep(1)
    produce(job, paced(job["rate"], job["count"]))
    reader.join()
    return result


def run(job: dict[str, Any]) -> dict[str, Any]:
    plain = job["path"] == "plain"
    rabbit = job["broker"] == "rabbitmq"
    if job["role"] == "produce":
        if plain:
            return produce_plain_rabbitmq(job) if rabbit else produce_plain_nats(job)
        return produce_runtime(job)
    if job["role"] == "consume":
        if plain:
            return consume_plain_rabbitmq(job) if rabbit else consume_plain_nats(job)
        return consume_runtime(job)
    return latency_plain(job) if plain else latency_runtime(job)


def main() -> int:
    job = json.loads(sys.argv[1])
    job.setdefault("group", f"{GROUP_PREFIX}-{uuid.uuid4().hex[:8]}")
    print(json.dumps(run(job)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
