"""Structured JSON logs, one object per line, carrying the current event's ids.

The processor sets the event's ids (`event_id`, `correlation_id`) in a context variable around
each event, so any log line written while handling it (by the runtime or the service) carries
them. One variable for both: each set and reset copies the context, per event.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

# (event_id, correlation_id) of the event being handled
event_ids_var: ContextVar[tuple[str | None, str | None]] = ContextVar("event_ids", default=(None, None))

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        event_id, correlation_id = event_ids_var.get()
        if event_id is not None:
            entry["event_id"] = event_id
        if correlation_id is not None:
            entry["correlation_id"] = correlation_id
        # `logger.info("...", extra={"order_id": ...})` fields become top-level keys.
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # kafka-python is chatty at INFO about every (re)connection, and its IO loop warns about
    # its own slow tasks on a busy CPU; neither is actionable for whoever reads service logs.
    logging.getLogger("kafka").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("kafka.net.selector").setLevel(logging.ERROR)


@contextmanager
def event_context(event_id: str | None, correlation_id: str | None) -> Iterator[None]:
    token = event_ids_var.set((event_id, correlation_id))
    try:
        yield
    finally:
        event_ids_var.reset(token)
