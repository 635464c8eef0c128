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


async def test_side_by_side_sleeps_overlap_as_in_real_time() -> None:
    clock = ManualClock(T0)
    session_clock = SessionClock(clock)
    woke: list[float] = []
    late: list[float] = []

    async def nap(seconds: float) -> None:
        started = clock()
        await session_clock.sleep(seconds)
        woke.append(seconds)
        late.append(clock() - (started + seconds))

    async with anyio.create_task_group() as tg:
        for seconds in (1.0, 2.0, 1.5):
            tg.start_soon(nap, seconds)
    assert clock() == T0 + 2.0  # the waits overlapped, as they would in real time
    assert sorted(woke) == [1.0, 1.5, 2.0]
    assert min(late) >= 0  # no task woke before its own wake-up time


async def test_emulator_sessions_wait_in_the_emulators_manual_time() -> None:
    # A retry's backoff and a paced send take no real time when the emulator's clock is manual.
    import time

    emulator = Emulator(clock=ManualClock(T0))
    async with emulator.session() as oa:
        account_id = await oa.create_account("owner", "News", account_id="@TOA#_clock")
        emulator.fail_next("add_subscriber", code=20005, times=2)
        started = time.monotonic()
        with anyio.fail_after(5):
            report = await oa.add_subscribers(account_id, ["alice"])
            await oa.send_message(account_id, "one")
            await oa.send_message(account_id, "two")  # paced 1 s after the first, virtually
        assert report.succeeded == ["alice"]
        assert time.monotonic() - started < 1.0
    assert emulator.clock() >= T0 + 1.0  # the backoff and the pacing happened in manual time
    assert [m.body[0]["MsgContent"]["Text"] for m in emulator.account(account_id).messages] == [
        "one",
        "two",
    ]


async def test_a_session_option_clock_wins_over_the_emulators() -> None:
    from tim_oa.limiters import AnyioClock

    emulator = Emulator(clock=ManualClock(T0))
    own = AnyioClock()
    async with emulator.session(clock=own) as oa:
        assert oa._clock is own


def test_clock_for_session_needs_a_manual_clock() -> None:
    with pytest.raises(TypeError, match="ManualClock"):
        Emulator().clock_for_session()
