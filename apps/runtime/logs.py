"""Structured JSON logs, one object per line, carrying the current event's ids.

The processor sets `event_id` / `correlation_id` in context variables around each event, so
any log line written while handling it (by the runtime or the service) carries them.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

event_id_var: ContextVar[str | None] = ContextVar("event_id", default=None)
correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)

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
        if (event_id := event_id_var.get()) is not None:
            entry["event_id"] = event_id
        if (correlation_id := correlation_id_var.get()) is not None:
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
    event_token = event_id_var.set(event_id)
    correlation_token = correlation_id_var.set(correlation_id)
    try:
        yield
    finally:
        event_id_var.reset(event_token)
        correlation_id_var.reset(correlation_token)
