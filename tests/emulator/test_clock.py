from __future__ import annotations

import anyio
import pytest

from tim_oa.testing import Emulator, ManualClock, SessionClock

from .helpers import T0


async def test_session_clock_sleeps_in_manual_time() -> None:
    emulator = Emulator(clock=ManualClock(T0))
    session_clock = emulator.clock_for_session()
    assert isinstance(session_clock, SessionClock)
    assert session_clock.monotonic() == T0
    with anyio.fail_after(1):  # virtual: an hour passes at once
        await session_clock.sleep(3600)
    assert session_clock.monotonic() == emulator.clock() == T0 + 3600
    await session_clock.sleep(0)
    await session_clock.sleep(-1)
    assert emulator.clock() == T0 + 3600


async def test_side_by_side_sleeps_each_wait_their_own_time() -> None:
    clock = ManualClock(T0)
    session_clock = SessionClock(clock)
    woke: list[float] = []

    async def nap(seconds: float) -> None:
        await session_clock.sleep(seconds)
        woke.append(seconds)

    async with anyio.create_task_group() as tg:
        for seconds in (1.0, 2.0, 1.5):
            tg.start_soon(nap, seconds)
    assert clock() == T0 + 4.5  # one after the other: never early
    assert sorted(woke) == [1.0, 1.5, 2.0]


def test_clock_for_session_needs_a_manual_clock() -> None:
    with pytest.raises(TypeError, match="ManualClock"):
        Emulator().clock_for_session()
