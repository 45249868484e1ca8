"""Inspect and replay dead letters.

    python -m event_platform.apps.runtime.dlq list   payment-service.dlq [--json]
    python -m event_platform.apps.runtime.dlq replay payment-service.dlq [--offset 3 --offset 7] [--to inventory]

`list` prints one line per dead letter (where it came from, why, how often it was tried).
`replay` re-publishes the original records, byte for byte minus the `dlq.*` headers, to their
source topic (or `--to`), once the cause is fixed. Connection settings come from the same
environment variables as the services (BROKER and KAFKA_*, RABBITMQ_* or NATS_*).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from event_platform.apps.runtime import deadletter
from event_platform.apps.runtime.adapter import Broker, InboundRecord, OutboundRecord
from event_platform.apps.runtime.bindings import attribute
from event_platform.apps.runtime.brokers import broker_from_environment


@dataclass(frozen=True)
class DeadLetter:
    dlq_partition: int
    dlq_offset: int
    reason: str
    error: str
    attempts: int
    source: str
    source_topic: str
    event_type: str | None
    event_id: str | None
    first_failure: str
    last_failure: str

    @classmethod
    def of(cls, record: InboundRecord) -> DeadLetter:
        info = deadletter.dlq_headers(record.message)
        ce_type = attribute(record.message, "type")
        ce_id = attribute(record.message, "id")
        topic = info.get(deadletter.SOURCE_TOPIC, "?")
        return cls(
            dlq_partition=record.partition,
            dlq_offset=record.offset,
            reason=info.get(deadletter.REASON, "?"),
            error=info.get(deadletter.ERROR, ""),
            attempts=int(info.get(deadletter.ATTEMPTS, "0")),
            source=f"{topic}/{info.get(deadletter.SOURCE_PARTITION, '?')}@{info.get(deadletter.SOURCE_OFFSET, '?')}",
            source_topic=topic,
            event_type=ce_type,
            event_id=ce_id,
            first_failure=info.get(deadletter.FIRST_FAILURE, ""),
            last_failure=info.get(deadletter.LAST_FAILURE, ""),
        )


def list_dead_letters(broker: Broker, topic: str) -> list[DeadLetter]:
    return [DeadLetter.of(record) for record in broker.replay([topic])]


def replay(broker: Broker, topic: str, offsets: Sequence[int] = (), to: str | None = None) -> int:
    """Re-publish dead letters (all, or those at `offsets`); returns how many."""
    publisher = broker.publisher()
    count = 0
    try:
        for record in broker.replay([topic]):
            if offsets and record.offset not in offsets:
                continue
            target = to or DeadLetter.of(record).source_topic
            publisher.publish(OutboundRecord(target, deadletter.original_message(record.message)))
            count += 1
        publisher.flush(30.0)
    finally:
        publisher.close()
    return count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m event_platform.apps.runtime.dlq",
                                     description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("list", help="print the dead letters of a topic")
    show.add_argument("topic")
    show.add_argument("--json", action="store_true", help="one JSON object per line")
    again = commands.add_parser("replay", help="re-publish dead letters to their source topic")
    again.add_argument("topic")
    again.add_argument("--offset", type=int, action="append", default=[], help="only this offset (repeatable)")
    again.add_argument("--to", help="publish to this topic instead of the source topic")
    args = parser.parse_args(argv)

    broker = broker_from_environment()
    if args.command == "list":
        letters = list_dead_letters(broker, args.topic)
        for letter in letters:
            if args.json:
                print(json.dumps(letter.__dict__))
            else:
                print(f"{letter.dlq_offset:>6}  {letter.reason:<16} attempts={letter.attempts}  from {letter.source}  "
                      f"{letter.event_type or '-'} {letter.event_id or '-'}  {letter.error[:120]}")
        print(f"{len(letters)} dead letter(s) in {args.topic}", file=sys.stderr)
        return 0
    count = replay(broker, args.topic, args.offset, args.to)
    print(f"replayed {count} dead letter(s) from {args.topic}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
