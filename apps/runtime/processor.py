"""The consume → handle → complete loop, with retries, dead letters and graceful shutdown.

Per polled batch: decode each record (undecodable or unknown → dead letter at once), run the
handler with retries (exponential backoff, jitter), dead-letter what still fails, then complete
the batch in one step: outputs + dead letters published and input offsets committed together.
A broker failure anywhere drops the connection, forgets uncommitted in-memory state and starts
over from the last committed offsets, so nothing is lost and nothing is applied twice.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from event_platform.apps.runtime.adapter import Broker, BrokerError, Consumer, InboundRecord, OutboundRecord
from event_platform.apps.runtime.deadletter import Failure, dead_letter
from event_platform.apps.runtime.effects import EffectGuard
from event_platform.apps.runtime.envelope import Codec, Envelope
from event_platform.apps.runtime.events import EventRejected
from event_platform.apps.runtime.health import Heartbeat
from event_platform.apps.runtime.logs import event_ids_var
from event_platform.apps.runtime.metrics import Metrics
from event_platform.apps.runtime.retry import PermanentError, RetryPolicy
from event_platform.apps.runtime.service import Emit, Service

log = logging.getLogger(__name__)

POLL_TIMEOUT_S = 0.5
RECONNECT_DELAY_S = 1.0
GC_THRESHOLD = 20_000  # allocations between young-generation collections (see `run`)


@dataclass(frozen=True)
class ProcessorOptions:
    group: str
    dead_letter_topic: str
    max_poll_records: int = 200
    shutdown_timeout_s: float = 20.0


class _Abandoned(Exception):
    """Shutdown began while an event waited for its next retry: leave it for redelivery."""


class Processor:
    def __init__(
        self,
        service: Service,
        broker: Broker,
        codec: Codec,
        options: ProcessorOptions,
        *,
        metrics: Metrics | None = None,
        retry: RetryPolicy | None = None,
        effects: EffectGuard | None = None,
    ) -> None:
        self.service = service
        self.broker = broker
        self.codec = codec
        self.options = options
        self.metrics = metrics or Metrics(service.name)
        self.retry = retry or RetryPolicy()
        self.effects = effects
        self.heartbeat = Heartbeat(stale_after_s=30.0)
        self._stop = threading.Event()
        self._rebalanced = threading.Event()
        self._consumer: Consumer | None = None
        self._watchdog: threading.Timer | None = None
        self._received: Counter[str] = Counter()

    # -- lifecycle ---------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop fetching, finish the event in hand, commit, close (SIGTERM)."""
        if self._stop.is_set():
            return
        log.info("shutdown requested; draining", extra={"timeout_s": self.options.shutdown_timeout_s})
        self._stop.set()
        # Bounded shutdown: Kubernetes sends SIGKILL after its grace period anyway; exiting
        # first, with a log line, says why the drain did not finish.
        self._watchdog = threading.Timer(self.options.shutdown_timeout_s, self._exit_hard)
        self._watchdog.daemon = True
        self._watchdog.start()

    def is_ready(self) -> bool:
        return self._consumer is not None and self._consumer.is_ready() and not self._stop.is_set()

    def run(self) -> int:
        """Process until `request_stop`; returns the process exit code."""
        # A batch creates thousands of short-lived containers (records, headers, payloads,
        # envelopes). At the default threshold (700) the collector runs a dozen times per batch
        # and walks whatever is still alive each time (measured: 73 collections taking 65 ms
        # of a 2.2 s RabbitMQ run of 20,000 events; with this threshold one, 10-14 ms). Garbage
        # without cycles is freed by reference counting regardless.
        gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
        try:
            self._connect()
            while not self._stop.is_set():
                self.heartbeat.tick()
                try:
                    self._poll_once()
                except BrokerError as error:
                    log.warning("broker failure; reconnecting from the last commit", extra={"error": str(error)})
                    self._disconnect()
                    self._connect()
        finally:
            self._disconnect()
            if self.effects is not None:
                self.effects.close()
            if self._watchdog is not None:
                self._watchdog.cancel()
        log.info("stopped cleanly")
        return 0

    def _connect(self) -> None:
        """Join the group, retrying until connected or stopping; state follows on first poll."""
        while not self._stop.is_set():
            self.heartbeat.tick()
            try:
                self._consumer = self.broker.consumer(
                    self.options.group, self.service.topics, on_assigned=self._rebalanced.set
                )
                # State and journal are (re)loaded after the first poll, once partitions are
                # assigned: anything other instances committed until then is included.
                self._rebalanced.set()
                log.info("consuming", extra={"topics": list(self.service.topics), "group": self.options.group})
                return
            except BrokerError as error:
                log.warning("cannot connect yet; retrying", extra={"error": str(error)})
                if self.effects is not None:
                    self.effects.reset()
                self._stop.wait(RECONNECT_DELAY_S)

    def _disconnect(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        if self.effects is not None:
            self.effects.reset()

    def _exit_hard(self) -> None:
        log.error("shutdown did not finish in time; exiting without a final commit")
        logging.shutdown()
        os._exit(3)

    # -- one batch ---------------------------------------------------------------------------

    def _poll_once(self) -> None:
        assert self._consumer is not None
        records = self._consumer.poll(POLL_TIMEOUT_S, self.options.max_poll_records)
        if self._rebalanced.is_set():
            # The poll that returned these records may have moved partitions here, whose
            # previous owner committed state and effects this instance has not seen yet.
            self._rebalanced.clear()
            self.service.restore(self.broker)
            if self.effects is not None:
                self.effects.refresh()
        if records:
            self._process_batch(self._consumer, records)

    def _process_batch(self, consumer: Consumer, records: Sequence[InboundRecord]) -> None:
        """Handle what was polled, then complete it in one step. A BrokerError from here makes
        `run` reconnect, which also restores the service state the batch may have changed."""
        done: list[InboundRecord] = []
        outputs: list[OutboundRecord] = []
        self.metrics.in_flight_now.set(len(records))
        try:
            for record in records:
                if self._stop.is_set():
                    break  # unprocessed records are redelivered to the partition's next owner
                try:
                    outputs.extend(self._process(record))
                except _Abandoned:
                    break
                done.append(record)
            consumer.complete(done, outputs)
        finally:
            self.metrics.in_flight_now.set(0)
            for event_type, count in self._received.items():  # counted per batch: cheaper
                self.metrics.received(event_type, count)
            self._received.clear()
        for topic, count in Counter(output.topic for output in outputs).items():
            self.metrics.published(topic, count)

    def _process(self, record: InboundRecord) -> list[OutboundRecord]:
        started = time.perf_counter()
        try:
            event = self.codec.decode(record.message)
        except EventRejected as rejected:
            self._received["undecodable"] += 1
            now = datetime.now(UTC)
            return [self._dead_letter(record, Failure(rejected.reason, str(rejected), 1, now, now))]
        event_type = event.payload.EVENT_TYPE
        self._received[event_type] += 1
        if not self.service.handles(event_type):
            return []
        # The log context, set and reset by hand: a context manager per event costs more.
        token = event_ids_var.set((event.id, event.correlation_id))
        # The first attempt here, retries apart: nearly every event succeeds at once.
        try:
            emits = self.service.handle(event)
            outputs = self._encoded(emits) if emits else []
        except BrokerError:
            raise  # not the event's fault: reconnect and redeliver
        except Exception as error:  # any handler failure is retried, then dead-lettered
            outputs = self._retry(record, event, error)
        finally:
            event_ids_var.reset(token)
        self.metrics.latency.observe(time.perf_counter() - started)
        return outputs

    def _encoded(self, emits: Sequence[Emit]) -> list[OutboundRecord]:
        return [OutboundRecord(e.topic, self.codec.encode(e.event)) for e in emits]

    def _retry(self, record: InboundRecord, event: Envelope, error: Exception) -> list[OutboundRecord]:
        """After a failed first attempt: retry with backoff while the policy allows, then
        dead-letter the event."""
        first_failure = datetime.now(UTC)
        attempt = 1
        while True:
            now = datetime.now(UTC) if attempt > 1 else first_failure
            reason = _reason_of(error)
            self.metrics.failed(reason)
            if not self.retry.should_retry(attempt, error) or isinstance(error, EventRejected):
                log.error(
                    "giving up on event; dead-lettering it",
                    extra={"attempts": attempt, "reason": reason, "error": repr(error), "at": record.position},
                )
                failure = Failure(reason, repr(error), attempt, first_failure, now)
                return [self._dead_letter(record, failure)]
            delay = self.retry.delay_s(attempt)
            log.warning(
                "handler failed; retrying",
                extra={"attempt": attempt, "delay_s": round(delay, 3), "error": repr(error)},
            )
            if self._stop.wait(delay):
                raise _Abandoned() from error
            attempt += 1
            try:
                return self._encoded(self.service.handle(event))
            except BrokerError:
                raise
            except Exception as again:
                error = again

    def _dead_letter(self, record: InboundRecord, failure: Failure) -> OutboundRecord:
        self.metrics.dead_lettered(failure.reason)
        log.error(
            "dead-lettered",
            extra={"reason": failure.reason, "at": record.position, "topic": self.options.dead_letter_topic},
        )
        return dead_letter(record, failure, self.options.dead_letter_topic, self.options.group)


def _reason_of(error: BaseException) -> str:
    if isinstance(error, EventRejected):
        return error.reason
    if isinstance(error, PermanentError):
        return "permanent-error"
    return "handler-error"
