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
