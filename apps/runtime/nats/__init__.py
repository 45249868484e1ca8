"""The NATS JetStream adapter, on nats-py.

nats-py is asyncio-only and the runtime is synchronous, so every adapter object runs one
connection on its own event-loop thread and the interface methods wait for its coroutines.

Topology (created on first use, idempotently):
- a topic `T` is a file-backed stream (name = T with `.` → `_`, subject = T) with a two-minute
  duplicate window: every publish carries `Nats-Msg-Id` = the CloudEvents id, so republishing an
  event (a redelivered batch re-emitting its outputs) is dropped by the server;
- consumer group `G` reading `T` is a durable pull consumer `G` on T's stream: explicit acks,
  `max_deliver`, `backoff` (redelivery delays after an ack timeout, starting at the session
  timeout), `max_ack_pending`;
- messages that reach `max_deliver` produce a max-deliveries advisory; every instance of `G`
  listens for it, loads the message from the stream and publishes it (once: its Nats-Msg-Id is
  derived from stream and sequence) with `dlq.*` headers to G's dead-letter topic (a stream).
- the effects journal is a key-value bucket (itself a stream): exact, durable reads and writes.

Consumers fetch in the background up to `prefetch` unacknowledged messages, tell the server
they are still working on what they hold (`+WPI`, like a Kafka heartbeat) so a slow batch is not
redelivered, ack a batch only after its outputs were acknowledged (`complete`), and nak what they
still hold on close so another instance gets it at once. A poll holding a redelivered message
reports it as an assignment change, so the processor rebuilds state and refreshes the journal.

CloudEvents go over the NATS binding (`ce-` headers, binary mode by default); the record key
travels as the `ce-partitionkey` header (the partitioning extension).

Modules: connection, wire, publisher (and publish_acks), consumer (and pull), log (log reader and
effects journal), broker — the shape of event_platform.apps.runtime.kafka.
"""


from event_platform.apps.runtime.nats.broker import NatsBroker
from event_platform.apps.runtime.nats.connection import (
    ADVISORY,
    DUPLICATE_WINDOW_S,
    FETCH_BATCH,
    FETCH_WAIT_S,
    ID_HEADER,
    KEY_HEADER,
    MAX_IN_FLIGHT,
    MSG_ID,
    NATS_ERRORS,
    PUBLISH_TIMEOUT_S,
    connect,
    ensure_stream,
)
from event_platform.apps.runtime.nats.consumer import NatsConsumer
from event_platform.apps.runtime.nats.log import NatsEffectsJournal, NatsLogReader
from event_platform.apps.runtime.nats.publisher import NatsPublisher
from event_platform.apps.runtime.nats.wire import headers_of, publish_all, wire_of

__all__ = [
    "ADVISORY",
    "DUPLICATE_WINDOW_S",
    "FETCH_BATCH",
    "FETCH_WAIT_S",
    "ID_HEADER",
    "KEY_HEADER",
    "MAX_IN_FLIGHT",
    "MSG_ID",
    "NATS_ERRORS",
    "PUBLISH_TIMEOUT_S",
    "NatsBroker",
    "NatsConsumer",
    "NatsEffectsJournal",
    "NatsLogReader",
    "NatsPublisher",
    "connect",
    "ensure_stream",
    "headers_of",
    "publish_all",
    "wire_of",
]
