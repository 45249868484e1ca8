"""The broker object names the runtime declares and reads, in one place with no client imports.

The runtime owns the RabbitMQ topology and the per-group NATS objects (apps/BROKERS.md); the
platform (event_platform.infra.workloads) grants, scales on and documents exactly these names, so it imports
them from here instead of repeating the conventions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field


def group_queue(group: str, topic: str) -> str:
    """RabbitMQ: the quorum queue consumer group `group` reads `topic` from."""
    return f"{group}.{topic}"


def dead_letter_exchange(group: str) -> str:
    """RabbitMQ: where the group's queues dead-letter to (and the quorum queue holding them)."""
    return f"{group}.dlx"


def stream_name(topic: str) -> str:
    """NATS: stream names may not contain `.`, `*`, `>` or whitespace; subjects keep the topic."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", topic)


@dataclass(frozen=True)
class WorkloadTopics:
    """What one workload touches: enough to derive every name it declares or reads."""

    group: str
    consumes: list[str] = field(default_factory=list)
    produces: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)  # replayed logs (event-sourced state)
    dead_letter_topic: str | None = None  # defaults to <group>.dlq
    effects_journal: str | None = None  # the journal topic, when the service keeps one

    @property
    def dlq(self) -> str:
        return self.dead_letter_topic or f"{self.group}.dlq"

    def topics(self) -> list[str]:
        """Every topic (log) the workload declares, writes or reads, in a stable order."""
        logs = [*self.consumes, *self.produces, *self.reads]
        if self.consumes:
            logs.append(self.dlq)
        if self.effects_journal:
            logs.append(self.effects_journal)
        return list(dict.fromkeys(logs))

    def rabbitmq_names(self) -> list[str]:
        """Every exchange and queue the RabbitMQ adapter declares for this workload: a topic is an
        exchange and a stream of the same name; a consumer adds its group queues and its DLX."""
        names = self.topics()
        if self.consumes:
            names += [group_queue(self.group, topic) for topic in self.consumes]
            names.append(dead_letter_exchange(self.group))
        return list(dict.fromkeys(names))


def exact_names_pattern(names: Iterable[str]) -> str:
    """A RabbitMQ permission regex that matches exactly `names` and nothing else."""
    return "^(" + "|".join(re.escape(name) for name in names) + ")$"
