"""The RabbitMQ adapter, on pika (BlockingConnection).

Why pika, not aio-pika: the runtime is synchronous (the processor loop, the HTTP API threads,
kafka-python), so a blocking client fits the `Consumer`/`Publisher` interface directly; aio-pika
would need an event-loop thread and a bridge for every call, for no gain in a one-consumer-per-
process design. pika's BlockingConnection is not thread-safe: every adapter object owns its
connection, and the publisher serialises callers with a lock.

Topology (declared idempotently by whoever needs it; `declare_topics` for deploy steps/tests):
- a topic `T` is a durable fanout exchange `T` bound to a durable stream `T` (the log: replays
  for event-sourced state, the effects journal, dead-letter listings);
- consumer group `G` reading `T` owns a quorum queue `G.T` bound to exchange `T`, with an explicit
  `x-delivery-limit` (3.10's default is unlimited) and `x-dead-letter-exchange` `G.dlx`
  (at-least-once dead-lettering) into quorum queue `G.dlx`: a message that keeps killing its
  consumer ends there with its `x-death` history, and the group's consumers move it to the
  dead-letter topic `G.dlq` with `dlq.*` headers (streams would drop `x-death`).

Delivery: publishers use confirms (many in flight, see ConfirmWindow), persistent messages,
`mandatory` (an unroutable message is an error, not a silent drop) and `message_id` = the
CloudEvents id. Consumers ack manually after the batch's outputs were confirmed (`complete`); a
crash before that redelivers the batch. Without transactions a redelivered batch may republish
outputs already confirmed: their event ids are derived from the input's, consumers skip ids they
completed recently, and the domain handlers are idempotent by event (apps/BROKERS.md). A poll
holding a redelivered message reports it as an assignment change, so the processor rebuilds
state and refreshes the effects journal first. Log reads end at a fence (RabbitMQLogReader).

Modules: connection, wire (and properties: fast AMQP header decoding), publisher, consumer, log
(log reader and effects journal), broker — the shape of event_platform.apps.runtime.kafka.
"""


from event_platform.apps.runtime.rabbitmq.broker import RabbitMQBroker
from event_platform.apps.runtime.rabbitmq.connection import (
    AMQP_ERRORS,
    BATCH,
    CONFIRM_POLL_S,
    FENCE_HEADER,
    LINGER_S,
    PERSISTENT,
    SEND_TIMEOUT_S,
    STREAM_PREFETCH,
    connect,
    declare_topic,
    declare_topics,
)
from event_platform.apps.runtime.rabbitmq.consumer import RabbitMQConsumer
from event_platform.apps.runtime.rabbitmq.log import RabbitMQEffectsJournal, RabbitMQLogReader
from event_platform.apps.runtime.rabbitmq.publisher import ConfirmWindow, RabbitMQPublisher, Refused
from event_platform.apps.runtime.rabbitmq.wire import properties_of, routing_key_of, wire_of

__all__ = [
    "AMQP_ERRORS",
    "BATCH",
    "CONFIRM_POLL_S",
    "FENCE_HEADER",
    "LINGER_S",
    "PERSISTENT",
    "SEND_TIMEOUT_S",
    "STREAM_PREFETCH",
    "ConfirmWindow",
    "RabbitMQBroker",
    "RabbitMQConsumer",
    "RabbitMQEffectsJournal",
    "RabbitMQLogReader",
    "RabbitMQPublisher",
    "Refused",
    "connect",
    "declare_topic",
    "declare_topics",
    "properties_of",
    "routing_key_of",
    "wire_of",
]
