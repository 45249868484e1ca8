"""The measured loops: the runtime's producer/consumer and a plain kafka-python loop with the
same durability settings (idempotent, acks=all, linger 5 ms; read_committed, manual commit per
poll, 500 records per poll), on the same broker, writing and reading the same records: binary
mode CloudEvents, the plain loop building and reading the `ce_*` headers by hand, so the ratio
measures what the runtime adds (SDK binding, pydantic models, metrics, retry/DLQ bookkeeping),
not the cost of the wire format itself."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from bench.events import REGISTRY, OrderPlacedV1, payload_fields
from event_platform.apps.runtime.adapter import InboundRecord, OutboundRecord
from event_platform.apps.runtime.envelope import Envelope, KafkaCodec
from event_platform.apps.runtime.kafka import (
    KafkaBroker,
    KafkaConsumerAdapter,
    client_options,
    durable_producer_options,
)
from event_platform.apps.runtime.metrics import Metrics
from event_platform.apps.runtime.processor import Processor, ProcessorOptions
from event_platform.apps.runtime.publisher import EventPublisher
from event_platform.apps.runtime.service import Emit, Service
from event_platform.apps.runtime.settings import KafkaSettings

POLL_RECORDS = 500
@dataclass
class Run:
    events: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.events / self.seconds


# -- producers -------------------------------------------------------------------------------

def cloudevent_headers(event_id: str) -> list[tuple[str, bytes]]:
    """The binary-mode CloudEvents headers the runtime writes, built by hand."""
    return [
        ("ce_id", event_id.encode()),
        ("ce_source", b"/bench"),
        ("ce_type", OrderPlacedV1.EVENT_TYPE.encode()),
        ("ce_specversion", b"1.0"),
        ("ce_time", datetime.now(UTC).isoformat().replace("+00:00", "Z").encode()),
        ("content-type", b"application/json"),
    ]


def produce_plain(settings: KafkaSettings, topic: str, count: int) -> Run:
    """The same records the runtime writes (CloudEvents binary mode), by hand."""
    producer = KafkaProducer(**client_options(settings), **durable_producer_options())
    producer.partitions_for(topic)  # metadata fetched outside the timed part, as for the runtime
    started = time.perf_counter()
    for seq in range(count):
        fields = payload_fields(seq)
        producer.send(topic, key=fields["order_id"].encode(), value=json.dumps(fields).encode(),
                      headers=cloudevent_headers(f"{seq:032x}"))
    producer.flush()
    elapsed = time.perf_counter() - started
    producer.close()
    return Run(count, elapsed)


def produce_runtime(settings: KafkaSettings, topic: str, count: int) -> Run:
    broker = KafkaBroker(settings)
    raw = broker.publisher()
    publisher = EventPublisher(raw, KafkaCodec(REGISTRY), Metrics("bench"))
    raw._producer.partitions_for(topic)
    started = time.perf_counter()
    for seq in range(count):
        fields = payload_fields(seq)
        publisher.publish(topic, Envelope(payload=OrderPlacedV1(**fields), source="/bench", key=fields["order_id"]))
    publisher.flush()
    elapsed = time.perf_counter() - started
    publisher.close()
    return Run(count, elapsed)


def produce_interleaved(settings: KafkaSettings, plain_topic: str, runtime_topic: str, count: int,
                        chunk: int = 1_000) -> tuple[Run, Run]:
    """Both producers at once, alternating chunks of `chunk` events (each ended by a flush, so
    it is fully delivered inside its own timing), first mover swapped every chunk: background
    load that comes and goes within a round falls on both paths alike."""
    plain = KafkaProducer(**client_options(settings), **durable_producer_options())
    raw = KafkaBroker(settings).publisher()
    runtime = EventPublisher(raw, KafkaCodec(REGISTRY), Metrics("bench"))
    plain.partitions_for(plain_topic)
    raw._producer.partitions_for(runtime_topic)

    def send_plain(first: int) -> None:
        for seq in range(first, first + chunk):
            fields = payload_fields(seq)
            plain.send(plain_topic, key=fields["order_id"].encode(), value=json.dumps(fields).encode(),
                       headers=cloudevent_headers(f"{seq:032x}"))
        plain.flush()

    def send_runtime(first: int) -> None:
        for seq in range(first, first + chunk):
            fields = payload_fields(seq)
            runtime.publish(runtime_topic, Envelope(payload=OrderPlacedV1(**fields), source="/bench",
                                                    key=fields["order_id"]))
        runtime.flush()

    spent = {"plain": 0.0, "runtime": 0.0}
    paths = [("plain", send_plain), ("runtime", send_runtime)]
    for number, first in enumerate(range(0, count, chunk)):
        for name, send in paths if number % 2 == 0 else reversed(paths):
            started = time.perf_counter()
            send(first)
            spent[name] += time.perf_counter() - started
    plain.close()
    runtime.close()
    sent = (count // chunk) * chunk
    return Run(sent, spent["plain"]), Run(sent, spent["runtime"])


# -- consumers -------------------------------------------------------------------------------

def consume_plain(settings: KafkaSettings, topic: str, count: int, latency: bool = False) -> Run:
    consumer = KafkaConsumer(topic, **client_options(settings), group_id=f"plain-{uuid.uuid4().hex[:8]}",
                             enable_auto_commit=False, auto_offset_reset="earliest",
                             isolation_level="read_committed", max_poll_records=POLL_RECORDS)
    seen, started, latencies = 0, 0.0, []
    while seen < count:
        batches = consumer.poll(timeout_ms=500)
        if not batches:
            continue
        started = started or time.perf_counter()
        for records in batches.values():
            for record in records:
                # What a hand-written CloudEvents consumer does: read the type, parse the data.
                headers = dict(record.headers)
                if headers["ce_type"] != b"io.eventplatform.bench.order-placed.v1":
                    continue
                event = json.loads(record.value)
                if latency:
                    latencies.append((time.time_ns() - event["sent_ns"]) / 1e6)
                seen += 1
        consumer.commit()
    elapsed = time.perf_counter() - started
    consumer.close(autocommit=False)
    return Run(seen, elapsed, latencies)


class _Sink(Service):
    name = "bench-sink"
    registry = REGISTRY

    def __init__(self, topic: str, count: int, latency: bool) -> None:
        self.topics = (topic,)
        self.count, self.latency, self.seen = count, latency, 0
        self.latencies: list[float] = []
        self.first: float | None = None

    def handle(self, event: Envelope) -> Sequence[Emit]:
        self.first = self.first or time.perf_counter()
        if self.latency:
            self.latencies.append((time.time_ns() - event.payload.sent_ns) / 1e6)  # type: ignore[attr-defined]
        self.seen += 1
        return []


class _TimedConsumer(KafkaConsumerAdapter):
    """Notes when the batch holding the last expected record has been committed."""

    sink: _Sink
    processor: Processor
    done_at: float = 0.0

    def complete(self, records: Sequence[InboundRecord], outputs: Sequence[OutboundRecord]) -> None:
        super().complete(records, outputs)
        if self.sink.seen >= self.sink.count and not self.done_at:
            self.done_at = time.perf_counter()
            self.processor.request_stop()


class _TimedBroker(KafkaBroker):
    def __init__(self, settings: KafkaSettings, sink: _Sink) -> None:
        super().__init__(settings, transactional_id=f"bench-{uuid.uuid4().hex[:8]}")
        self.sink = sink
        self.adapter: _TimedConsumer | None = None
        self.processor: Processor | None = None

    def consumer(self, group: str, topics: Sequence[str], on_assigned: Any = None) -> _TimedConsumer:
        adapter = _TimedConsumer(self.settings, group, topics, transactional_id=self.transactional_id,
                                 on_assigned=on_assigned)
        adapter.sink, adapter.processor = self.sink, self.processor  # type: ignore[assignment]
        self.adapter = adapter
        return adapter


def consume_runtime(settings: KafkaSettings, topic: str, count: int, latency: bool = False) -> Run:
    sink = _Sink(topic, count, latency)
    broker = _TimedBroker(settings, sink)
    processor = Processor(sink, broker, KafkaCodec(REGISTRY),
                          ProcessorOptions(group=f"runtime-{uuid.uuid4().hex[:8]}", dead_letter_topic="bench.dlq",
                                           max_poll_records=POLL_RECORDS, shutdown_timeout_s=120),
                          metrics=Metrics("bench"))
    broker.processor = processor
    processor.run()
    assert broker.adapter is not None and sink.first is not None
    return Run(sink.seen, broker.adapter.done_at - sink.first, sink.latencies)


# -- end-to-end latency at a steady rate ---------------------------------------------------------

def paced(rate: int, count: int) -> Any:
    """Yields sequence numbers at `rate` per second (sleeping between them)."""
    start = time.perf_counter()
    for seq in range(count):
        delay = start + seq / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        yield seq


def latency_plain(settings: KafkaSettings, topic: str, rate: int, count: int) -> Run:
    result: list[Run] = []
    reader = threading.Thread(target=lambda: result.append(consume_plain(settings, topic, count, latency=True)))
    reader.start()
    time.sleep(2)  # let the consumer join before the clock starts (the broker has no rebalance delay)
    producer = KafkaProducer(**client_options(settings), **durable_producer_options())
    for seq in paced(rate, count):
        fields = payload_fields(seq)
        producer.send(topic, key=fields["order_id"].encode(), value=json.dumps(fields).encode(),
                      headers=cloudevent_headers(f"{seq:032x}"))
    producer.flush()
    reader.join()
    producer.close()
    return result[0]


def latency_runtime(settings: KafkaSettings, topic: str, rate: int, count: int) -> Run:
    result: list[Run] = []
    reader = threading.Thread(target=lambda: result.append(consume_runtime(settings, topic, count, latency=True)))
    reader.start()
    time.sleep(2)
    publisher = EventPublisher(KafkaBroker(settings).publisher(), KafkaCodec(REGISTRY), Metrics("bench"))
    for seq in paced(rate, count):
        fields = payload_fields(seq)
        publisher.publish(topic, Envelope(payload=OrderPlacedV1(**fields), source="/bench", key=fields["order_id"]))
    publisher.flush()
    reader.join()
    publisher.close()
    return result[0]
