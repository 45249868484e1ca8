"""Wall time per benchmark phase, so each result JSON says where the minutes of `make bench` go."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Phases(dict[str, float]):
    """phase name -> seconds, filled by `timed`."""

    def timed(self, phase: str, measure: Callable[[], T]) -> T:
        started = time.monotonic()
        try:
            return measure()
        finally:
            self[phase] = round(time.monotonic() - started, 1)
