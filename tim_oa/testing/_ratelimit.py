"""Rate limits: the per-command call limit and the per-account send pacing."""

from __future__ import annotations

import collections
from collections.abc import Mapping


class CommandRateLimiter:
    """A token bucket per command: ``rate`` calls per second, bursts of up to one second's worth.

    ``rates`` gives some commands a lower rate of their own (the account commands' documented
    rates); ``rate`` caps them too. The bucket starts full, so a client that stays at or under
    its rate on average is never refused. Time comes from the caller, which makes it follow the
    emulator's injectable clock. Not thread-safe on its own; the emulator calls it under its lock.
    """

    def __init__(self, rate: float, rates: Mapping[str, float] | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self._rates = {key: min(self.rate, float(r)) for key, r in (rates or {}).items()}
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def rate_of(self, key: str) -> float:
        """The calls per second allowed for ``key``."""
        return self._rates.get(key, self.rate)

    def try_acquire(self, key: str, now: float) -> bool:
        """Take one token for ``key``; False when the bucket is empty."""
        rate = self.rate_of(key)
        capacity = max(1.0, rate)
        tokens, at = self._buckets.get(key, (capacity, now))
        # A clock that goes backwards (ManualClock.set) must not mint tokens.
        tokens = min(capacity, tokens + max(0.0, now - at) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1.0, now)
        return True

    def reset(self) -> None:
        """Forget all buckets."""
        self._buckets.clear()


class SendPacer:
    """Per-account broadcast pacing: a minimum interval and a cap per rolling hour.

    ``check`` says which limit a send at ``now`` would break (``"per_second"`` or
    ``"per_hour"``), ``record`` notes an accepted send. Either limit may be None (off).
    """

    _HOUR = 3600.0

    def __init__(self, per_second: float | None, per_hour: int | None) -> None:
        self._min_interval = 1.0 / per_second if per_second else 0.0
        self._per_hour = per_hour
        self._sent: collections.deque[float] = collections.deque()

    def check(self, now: float) -> str | None:
        """Return the name of the limit a send now would exceed, or None."""
        if self._sent and self._min_interval and now - self._sent[-1] < self._min_interval:
            return "per_second"
        if self._per_hour is not None:
            while self._sent and self._sent[0] <= now - self._HOUR:
                self._sent.popleft()
            if len(self._sent) >= self._per_hour:
                return "per_hour"
        return None

    def record(self, now: float) -> None:
        """Note an accepted send at ``now``."""
        self._sent.append(now)
        if self._per_hour is None and len(self._sent) > 1:
            # Only the last send matters for the interval check.
            self._sent.popleft()
