"""The rate-limit models of the bench server: how a server might count 200 calls per second.

Each model is asked ``allow(now)`` for one command's call arriving at ``now`` (seconds, any
monotonic clock) and says whether the call is accepted; a refused call is not counted.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any


class TokenBucket:
    """``rate`` tokens a second, ``burst`` at most (default ``rate``); the bucket starts full."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = float(rate)
        self.capacity = float(burst if burst is not None else rate)
        self.tokens = self.capacity
        self.at: float | None = None

    def allow(self, now: float) -> bool:
        if self.at is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class FixedWindow:
    """At most ``rate`` calls in each whole second (windows aligned to the monotonic clock)."""

    def __init__(self, rate: float) -> None:
        self.rate = int(rate)
        self.window = -1
        self.count = 0

    def allow(self, now: float) -> bool:
        window = int(now)
        if window != self.window:
            self.window, self.count = window, 0
        if self.count >= self.rate:
            return False
        self.count += 1
        return True


class SlidingWindow:
    """Strict: refuse a call when ``rate`` calls were accepted in the last 1.000 s."""

    def __init__(self, rate: float, window: float = 1.0) -> None:
        self.rate = int(rate)
        self.window = window
        self.accepted: collections.deque[float] = collections.deque()

    def allow(self, now: float) -> bool:
        accepted = self.accepted
        horizon = now - self.window
        while accepted and accepted[0] <= horizon:
            accepted.popleft()
        if len(accepted) >= self.rate:
            return False
        accepted.append(now)
        return True


MODELS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "token_bucket": lambda c: TokenBucket(c["rate"], c.get("burst")),
    "fixed_window": lambda c: FixedWindow(c["rate"]),
    "sliding_window": lambda c: SlidingWindow(c["rate"]),
}
