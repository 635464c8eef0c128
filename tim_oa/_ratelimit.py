"""Client-side rate limiting: spacing calls so a command stays under its documented rate.

A limiter is a "next free slot" clock (GCRA with no burst): each caller reserves the next slot and
sleeps until it. Reservation happens without an await, so no lock is needed within one event loop.
"""

from __future__ import annotations

import anyio
import anyio.lowlevel


class RateLimiter:
    """Lets calls through at most ``rate`` per second, shared by every task that uses it."""

    __slots__ = ("_interval", "_next", "rate")

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._interval = 1.0 / rate
        self._next = float("-inf")

    async def acquire(self) -> None:
        """Wait for this caller's slot."""
        now = anyio.current_time()
        slot = max(self._next, now)
        self._next = slot + self._interval
        if slot > now:
            await anyio.sleep(slot - now)
        else:
            # Still a checkpoint, so a tight loop of calls stays cancellable.
            await anyio.lowlevel.checkpoint()


class KeyedRateLimiter:
    """One :class:`RateLimiter` per key (e.g. per Official Account), created on first use."""

    __slots__ = ("_limiters", "rate")

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._limiters: dict[str, RateLimiter] = {}

    async def acquire(self, key: str) -> None:
        """Wait for the next slot of ``key``."""
        limiter = self._limiters.get(key)
        if limiter is None:
            if len(self._limiters) > 10_000:
                self._prune()
            limiter = self._limiters[key] = RateLimiter(self.rate)
        await limiter.acquire()

    def _prune(self) -> None:
        now = anyio.current_time()
        self._limiters = {k: v for k, v in self._limiters.items() if v._next > now}
