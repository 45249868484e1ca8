"""The idempotency guard for side effects outside the broker (payments, carriers, e-mail).

`EffectGuard.once(key, action)` runs `action` at most once per key across redeliveries,
crashes and restarts: the result is journaled durably before the triggering event is committed,
and a redelivered event gets the journaled result back instead of acting again. The key is also
what the action passes to the external system as its idempotency key, which closes the one gap
left (a crash after the effect but before the journal write).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel

from event_platform.apps.runtime.adapter import EffectsJournal
from event_platform.apps.runtime.metrics import Metrics

log = logging.getLogger(__name__)
ResultT = TypeVar("ResultT", bound=BaseModel)


class EffectGuard:
    def __init__(self, journal_factory: Callable[[], EffectsJournal], metrics: Metrics | None = None) -> None:
        self._journal_factory = journal_factory
        self._journal: EffectsJournal | None = None
        self._metrics = metrics

    def once(self, key: str, result_type: type[ResultT], action: Callable[[], ResultT]) -> ResultT:
        journal = self._open()
        recorded = journal.get(key)
        if recorded is not None:
            log.info("effect already performed; reusing its journaled result", extra={"effect_key": key})
            if self._metrics is not None:
                self._metrics.effects_replayed.labels(self._metrics.service).inc()
            return result_type.model_validate_json(recorded)
        result = action()
        journal.put(key, result.model_dump_json())
        return result

    def refresh(self) -> None:
        """Catch up with entries written by other instances (after a rebalance)."""
        self._open().refresh()

    def reset(self) -> None:
        """Drop the connection (after a broker failure); the next use reconnects."""
        if self._journal is not None:
            try:
                self._journal.close()
            except Exception:  # the broker may be gone
                log.debug("closing the effects journal failed", exc_info=True)
        self._journal = None

    def close(self) -> None:
        self.reset()

    def _open(self) -> EffectsJournal:
        if self._journal is None:
            self._journal = self._journal_factory()
        return self._journal
