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

    Tasks sleeping side by side each move the clock by their own wait, one after the other, so
    virtual time runs ahead of the wall time the same waits would take concurrently (three tasks
    sleeping one second end three seconds later). Waits never end early, which is what pacing
    and rate-limit tests need.
    """

    def __init__(self, clock: ManualClock) -> None:
        self._clock = clock

    def __repr__(self) -> str:
        return f"SessionClock({self._clock!r})"

    def monotonic(self) -> float:
        """The manual clock's current time."""
        return self._clock()

    async def sleep(self, seconds: float) -> None:
        """Move the manual clock ``seconds`` forward and yield to the event loop once."""
        import anyio.lowlevel  # lazy: keeps ``import tim_oa.testing`` cheap

        if seconds > 0:
            self._clock.advance(seconds)
        await anyio.lowlevel.checkpoint()
