"""The event ids a consumer completed most recently: brokers without transactions redeliver what
a consumer processed but could not acknowledge, and the consumer drops those ids on sight."""

from __future__ import annotations

from collections import OrderedDict

RECENT_IDS = 20_000


class RecentIds:
    """A bounded set of event ids; the oldest is forgotten first."""

    def __init__(self, capacity: int = RECENT_IDS) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
