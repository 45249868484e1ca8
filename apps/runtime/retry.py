"""Retry timing: exponential backoff with full jitter, bounded by attempts and a delay cap.

Full jitter (a uniform delay between 0 and the exponential bound) spreads the retries of many
consumers that failed together, so a recovering dependency is not hit in lock-step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


class PermanentError(Exception):
    """A handler failure that retrying cannot fix (a business rule, bad reference data):
    the event goes to the dead-letter topic after the first attempt."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    initial_delay_s: float = 0.2
    max_delay_s: float = 10.0
    multiplier: float = 2.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def should_retry(self, attempt: int, error: BaseException) -> bool:
        """`attempt` counts from 1 and is the attempt that just failed."""
        return attempt < self.max_attempts and not isinstance(error, PermanentError)

    def delay_s(self, attempt: int) -> float:
        """How long to wait after failed attempt number `attempt` (1-based)."""
        bound = min(self.max_delay_s, self.initial_delay_s * self.multiplier ** (attempt - 1))
        return self.rng.uniform(0, bound)
