"""The Kafka adapter, on kafka-python.

Producers are idempotent with acks=all. Consumers never auto-commit: a processed batch is
completed in one Kafka transaction holding its output records and its input offsets
(consume-transform-produce, exactly-once towards read_committed readers). A batch with no
outputs commits its offsets directly, which is the same guarantee at a fraction of the cost.
"""

from event_platform.apps.runtime.kafka.broker import KafkaBroker
from event_platform.apps.runtime.kafka.consumer import KafkaConsumerAdapter
from event_platform.apps.runtime.kafka.log import KafkaEffectsJournal, KafkaLogReader
from event_platform.apps.runtime.kafka.options import client_options, durable_producer_options
from event_platform.apps.runtime.kafka.publisher import KafkaPublisher

__all__ = [
    "KafkaBroker",
    "KafkaConsumerAdapter",
    "KafkaEffectsJournal",
    "KafkaLogReader",
    "KafkaPublisher",
    "client_options",
    "durable_producer_options",
]
