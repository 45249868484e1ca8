"""Dead-letter records: the original record, untouched, plus headers saying why and whence.

Keeping key, value and the original `ce_*` headers byte-for-byte means a dead letter is still
the original CloudEvent: the replay tool re-publishes it by dropping the `dlq.*` headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from event_platform.apps.runtime.adapter import InboundRecord, OutboundRecord
from event_platform.apps.runtime.envelope import WireMessage

PREFIX = "dlq."
REASON = PREFIX + "reason"
ERROR = PREFIX + "error"
ATTEMPTS = PREFIX + "attempts"
FIRST_FAILURE = PREFIX + "first_failure"
LAST_FAILURE = PREFIX + "last_failure"
SOURCE_TOPIC = PREFIX + "source_topic"
SOURCE_PARTITION = PREFIX + "source_partition"
SOURCE_OFFSET = PREFIX + "source_offset"
CONSUMER_GROUP = PREFIX + "consumer_group"
MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True)
class Failure:
    reason: str  # short and enumerable: malformed, unknown-type, invalid-payload, handler-error...
    error: str  # the last exception, for humans
    attempts: int
    first_failure: datetime
    last_failure: datetime


def dead_letter(record: InboundRecord, failure: Failure, topic: str, group: str) -> OutboundRecord:
    extra = {
        REASON: failure.reason,
        ERROR: failure.error[:MAX_ERROR_LENGTH],
        ATTEMPTS: str(failure.attempts),
        FIRST_FAILURE: failure.first_failure.isoformat(),
        LAST_FAILURE: failure.last_failure.isoformat(),
        SOURCE_TOPIC: record.topic,
        SOURCE_PARTITION: str(record.partition),
        SOURCE_OFFSET: str(record.offset),
        CONSUMER_GROUP: group,
    }
    original = tuple(h for h in record.message.headers if not h[0].startswith(PREFIX))
    # Bytes, which every broker's adapter takes (Kafka's only takes bytes).
    headers = original + tuple((name, value.encode()) for name, value in extra.items())
    message = WireMessage(value=record.message.value, key=record.message.key, headers=headers)
    return OutboundRecord(topic=topic, message=message)


def dlq_headers(message: WireMessage) -> dict[str, str]:
    return {
        name: value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        for name, value in message.headers
        if name.startswith(PREFIX)
    }


def original_message(message: WireMessage) -> WireMessage:
    """The record as it was before it was dead-lettered (for replays)."""
    headers = tuple(h for h in message.headers if not h[0].startswith(PREFIX))
    return WireMessage(value=message.value, key=message.key, headers=headers)
