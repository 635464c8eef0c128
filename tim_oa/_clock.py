"""The clock every wait of a session goes through: backoff, send pacing and rate limiting.

A :class:`Clock` reads a monotonic time and sleeps. The default reads the running event loop's
clock (so trio's ``MockClock`` drives it in tests) and sleeps with :func:`anyio.sleep`; a test may
pass its own to run a session on virtual time.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Protocol, runtime_checkable

import anyio


@runtime_checkable
class Clock(Protocol):
    """A monotonic clock and a way to wait on it."""

    def monotonic(self) -> float:
        """The current time in seconds; only differences between two readings matter."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time (cancellable)."""
        ...


class AnyioClock:
    """The default clock: the running event loop's time, and :func:`anyio.sleep`."""

    __slots__ = ()

    def monotonic(self) -> float:
        """The event loop's current time (asyncio's ``loop.time()``, trio's ``current_time()``)."""
        try:
            # The asyncio loop's clock directly: anyio's backend lookup costs ~10x more.
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return anyio.current_time()

    async def sleep(self, seconds: float) -> None:
        """Sleep with :func:`anyio.sleep`."""
        await anyio.sleep(seconds)

    def __repr__(self) -> str:
        return "AnyioClock()"


DEFAULT_CLOCK = AnyioClock()
"""The clock sessions and limiters use unless given one."""


def loop_key() -> object:
    """An object identifying the running event loop (``None`` outside any loop we know).

    Primitives that hold waiters compare it to notice use from a new loop (a second
    ``asyncio.run``), and then drop the waiters of the old loop, which can never wake.
    """
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            return trio.lowlevel.current_trio_token()
        except RuntimeError:
            pass
    return None
