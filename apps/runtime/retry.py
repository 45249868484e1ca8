"""Retry timing: exponential backoff with full jitter, bounded by attempts and a delay cap.

Full jitter (a uniform delay between 0 and the exponential bound) spreads the retries of many
consumers that failed together, so a recovering dependency is not hit in lock-step.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


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


def connect_delays(deadline: float, first_s: float = 0.1, cap_s: float = 2.0) -> Iterator[float]:
    """Sleeps between connection attempts until ``deadline`` (time.monotonic()): full jitter over a
    bound doubling from ``first_s`` to ``cap_s``. Ends when the next wait would pass the deadline."""
    bound = first_s
    while time.monotonic() + bound <= deadline:
        yield random.uniform(0, bound)
        bound = min(bound * 2, cap_s)


def connect_with_backoff(attempt: Callable[[], T], errors: tuple[type[BaseException], ...], timeout_s: float,
                         give_up: Callable[[BaseException], BaseException]) -> T:
    """``attempt()`` until it succeeds, retrying ``errors`` with backoff for up to ``timeout_s``;
    then ``give_up(last error)`` is raised (chained to it)."""
    delays = connect_delays(time.monotonic() + timeout_s)
    while True:
        try:
            return attempt()
        except errors as error:
            delay = next(delays, None)
            if delay is None:
                raise give_up(error) from error
            time.sleep(delay)


async def connect_with_backoff_async(attempt: Callable[[float], Awaitable[T]],
                                     errors: tuple[type[BaseException], ...], timeout_s: float,
                                     give_up: Callable[[BaseException], BaseException]) -> T:
    """The same for a coroutine; ``attempt(remaining_s)`` gets the time left until the deadline."""
    deadline = time.monotonic() + timeout_s
    delays = connect_delays(deadline)
    while True:
        try:
            return await attempt(deadline - time.monotonic())
        except errors as error:
            delay = next(delays, None)
            if delay is None:
                raise give_up(error) from error
            await asyncio.sleep(delay)
