"""The processing loop's contract, on an in-memory broker (the real-broker suite covers Kafka)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from event_platform.apps.runtime import deadletter
from event_platform.apps.runtime.envelope import Envelope, KafkaCodec, WireMessage
from event_platform.apps.runtime.events import EventPayload, EventRegistry
from event_platform.apps.runtime.processor import Processor, ProcessorOptions
from event_platform.apps.runtime.retry import PermanentError, RetryPolicy
from event_platform.apps.runtime.service import Emit, Service
from tests.apps.support.memory import MemoryBroker


class PingV1(EventPayload):
    EVENT_TYPE = "io.eventplatform.test.ping.v1"
    n: int


class PongV1(EventPayload):
    EVENT_TYPE = "io.eventplatform.test.pong.v1"
    n: int


REGISTRY = EventRegistry(PingV1, PongV1)
CODEC = KafkaCodec(REGISTRY)


class PingPong(Service):
    """Answers every ping with a pong; fails as told; stops the processor after `stop_after`."""

    name = "ping-pong"
    topics = ("pings",)
    registry = REGISTRY

    def __init__(self, failures: dict[int, int] | None = None, permanent: Sequence[int] = ()) -> None:
        self.failures = dict(failures or {})
        self.permanent = set(permanent)
        self.calls: list[int] = []
        self.restores = 0
        self.on_handle: list[object] = []

    def handles(self, event_type: str) -> bool:
        return event_type == PingV1.EVENT_TYPE

    def handle(self, event: Envelope) -> Sequence[Emit]:
        assert isinstance(event.payload, PingV1)
        n = event.payload.n
        self.calls.append(n)
        for hook in self.on_handle:
            hook(n)  # type: ignore[operator]
        if n in self.permanent:
            raise PermanentError(f"ping {n} can never work")
        if self.failures.get(n, 0) > 0:
            self.failures[n] -= 1
            raise RuntimeError(f"ping {n} failed")
        return [Emit("pongs", event.caused(PongV1(n=n), "/pong"))]

    def restore(self, broker: object) -> None:
        self.restores += 1


def processor(service: PingPong, broker: MemoryBroker, attempts: int = 3) -> Processor:
    return Processor(service, broker, CODEC, ProcessorOptions(group="g", dead_letter_topic="g.dlq"),
                     retry=RetryPolicy(max_attempts=attempts, initial_delay_s=0.001, max_delay_s=0.002))


def run_until_idle(proc: Processor, broker: MemoryBroker) -> None:
    """Run the loop until every ping is committed, then stop it."""
    def stop_when_done() -> None:
        while broker.committed[("g", "pings")] < len(broker.topics["pings"]):
            threading.Event().wait(0.01)
        proc.request_stop()

    watcher = threading.Thread(target=stop_when_done, daemon=True)
    watcher.start()
    assert proc.run() == 0
    watcher.join(5)


def ping(broker: MemoryBroker, *numbers: int) -> None:
    for n in numbers:
        broker.append("pings", CODEC.encode(Envelope(payload=PingV1(n=n), source="/test", key=str(n))))


def pongs(broker: MemoryBroker) -> list[int]:
    return [CODEC.decode(m).payload.n for m in broker.topics["pongs"]]  # type: ignore[attr-defined]


@pytest.mark.timeout(10)
def test_each_event_is_handled_and_its_outputs_published_with_the_commit() -> None:
    broker = MemoryBroker()
    ping(broker, 1, 2, 3)
    run_until_idle(processor(PingPong(), broker), broker)
    assert pongs(broker) == [1, 2, 3]
    assert broker.committed[("g", "pings")] == 3


@pytest.mark.timeout(10)
def test_a_failing_event_is_retried_and_then_succeeds() -> None:
    broker, service = MemoryBroker(), PingPong(failures={2: 2})
    ping(broker, 1, 2, 3)
    run_until_idle(processor(service, broker), broker)
    assert service.calls == [1, 2, 2, 2, 3]
    assert pongs(broker) == [1, 2, 3]
    assert broker.topics["g.dlq"] == []


@pytest.mark.timeout(10)
def test_an_event_failing_every_attempt_is_dead_lettered_and_the_next_one_processed() -> None:
    broker, service = MemoryBroker(), PingPong(failures={2: 99})
    ping(broker, 1, 2, 3)
    run_until_idle(processor(service, broker, attempts=4), broker)
    assert pongs(broker) == [1, 3]
    [letter] = broker.topics["g.dlq"]
    headers = deadletter.dlq_headers(letter)
    assert (headers["dlq.reason"], headers["dlq.attempts"], headers["dlq.source_offset"]) == ("handler-error", "4", "1")
    assert deadletter.original_message(letter) == broker.topics["pings"][1]


@pytest.mark.timeout(10)
def test_a_permanent_error_is_dead_lettered_without_retrying() -> None:
    broker, service = MemoryBroker(), PingPong(permanent=[1])
    ping(broker, 1)
    run_until_idle(processor(service, broker), broker)
    assert service.calls == [1]
    assert deadletter.dlq_headers(broker.topics["g.dlq"][0])["dlq.reason"] == "permanent-error"


@pytest.mark.timeout(10)
def test_undecodable_records_are_dead_lettered_and_unhandled_types_skipped() -> None:
    broker, service = MemoryBroker(), PingPong()
    broker.append("pings", WireMessage(value=b"garbage"))
    broker.append("pings", CODEC.encode(Envelope(payload=PongV1(n=9), source="/test")))
    ping(broker, 1)
    run_until_idle(processor(service, broker), broker)
    assert service.calls == [1]
    assert [deadletter.dlq_headers(m)["dlq.reason"] for m in broker.topics["g.dlq"]] == ["malformed"]


@pytest.mark.timeout(10)
def test_a_failed_commit_restores_state_and_redelivers_the_batch() -> None:
    broker, service = MemoryBroker(), PingPong()
    ping(broker, 1, 2)
    broker.fail_next_complete = True
    run_until_idle(processor(service, broker), broker)
    assert service.calls == [1, 2, 1, 2]
    assert pongs(broker) == [1, 2]
    assert service.restores == 2  # on start, and after the failed commit


@pytest.mark.timeout(10)
def test_stopping_finishes_the_event_in_hand_and_commits_only_what_was_done() -> None:
    broker, service = MemoryBroker(), PingPong()
    ping(broker, 1, 2, 3, 4)
    proc = processor(service, broker)
    service.on_handle.append(lambda n: proc.request_stop() if n == 2 else None)
    assert proc.run() == 0
    assert service.calls == [1, 2]
    assert pongs(broker) == [1, 2]
    assert broker.committed[("g", "pings")] == 2


@pytest.mark.timeout(10)
def test_stopping_during_a_retry_wait_leaves_the_event_for_redelivery_instead_of_dead_lettering_it() -> None:
    broker, service = MemoryBroker(), PingPong(failures={2: 99})
    ping(broker, 1, 2, 3)
    proc = Processor(service, broker, CODEC, ProcessorOptions(group="g", dead_letter_topic="g.dlq"),
                     retry=RetryPolicy(max_attempts=5, initial_delay_s=30, max_delay_s=30))
    service.on_handle.append(lambda n: threading.Timer(0.2, proc.request_stop).start() if n == 2 else None)
    started = time.monotonic()
    assert proc.run() == 0
    assert time.monotonic() - started < 5  # the 30 s backoff was cut short
    assert pongs(broker) == [1]
    assert broker.topics["g.dlq"] == []
    assert broker.committed[("g", "pings")] == 1  # ping 2 and 3 are redelivered
