"""A manual clock for deterministic tests."""

from __future__ import annotations

import threading


class ManualClock:
    """A clock that only moves when told to.

    Pass it as ``Emulator(clock=ManualClock())`` to control UserSig expiry, rate limits, send
    pacing and message deduplication from a test; ``Emulator.advance`` forwards to it. Calling the
    instance returns the current time in Unix seconds. Thread-safe.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (not backwards) and return the new time."""
        if seconds < 0:
            raise ValueError("a ManualClock cannot go backwards")
        with self._lock:
            self._now += seconds
            return self._now

    def advance_to(self, when: float) -> float:
        """Move the clock forward to ``when`` if it is earlier, and return the new time."""
        with self._lock:
            self._now = max(self._now, float(when))
            return self._now

    def set(self, now: float) -> None:
        """Jump to an absolute time (may go backwards, for edge-case tests)."""
        with self._lock:
            self._now = float(now)

    def __repr__(self) -> str:
        return f"ManualClock({self():.3f})"


class SessionClock:
    """A ``tim_oa.limiters.Clock`` over a ``ManualClock``, for a session's own waits.

    ``monotonic()`` is the manual time; ``sleep(s)`` moves the manual clock ``s`` seconds forward
    and yields to the event loop once. A session given this clock waits out its backoff, pacing
    and rate limits in virtual time, and the emulator sharing the ``ManualClock`` sees that time
    pass, so a test of a retry or a paced send takes milliseconds. Get one from
    ``Emulator.clock_for_session()``.

    Each sleep moves the clock forward to its own wake-up time (the time it started plus its
    wait) unless the clock is already past it, so tasks sleeping side by side overlap as they
    would in real time: three tasks that start together and sleep 1, 2 and 1.5 seconds leave the
    clock 2 seconds later. Every task wakes at or after its own wake-up time, never early, which
    is what pacing and rate-limit tests need.
    """

    def __init__(self, clock: ManualClock) -> None:
        self._clock = clock

    def __repr__(self) -> str:
        return f"SessionClock({self._clock!r})"

    def monotonic(self) -> float:
        """The manual clock's current time."""
        return self._clock()

    def time(self) -> float:
        """The manual clock's current time as Unix seconds (the session's wall clock)."""
        return self._clock()

    async def sleep(self, seconds: float) -> None:
        """Yield to the event loop once, then move the manual clock to this wake-up time."""
        import anyio.lowlevel  # lazy: keeps ``import tim_oa.testing`` cheap

        wake_at = self._clock() + max(0.0, seconds)
        # Yield first, so tasks that start sleeping together all take their wake-up times from
        # the same clock reading before any of them moves it.
        await anyio.lowlevel.checkpoint()
        self._clock.advance_to(wake_at)
