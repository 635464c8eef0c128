"""The paid rate tiers and the far regions, on a virtual clock: a default session keeps the rate
it is given busy at any round trip up to the ceiling of its in-flight bound, and a strict
sliding-window server refuses nothing.

The floor of a job of ``calls`` calls is ``calls / rate`` plus one round trip (the last answer).
"""

from __future__ import annotations

import math
import random

import anyio
import anyio.lowlevel
import httpx
import pytest
import trio

from tim_oa._adaptive import (
    ADAPTIVE_MAX_RTT,
    INITIAL_RTT,
    adaptive_ceiling,
    adaptive_limit,
    next_rtt,
    open_file_budget,
)
from tim_oa._ratelimit import GROUP, Pacer
from tim_oa.limiters import DEFAULT_SLACK

from .test_ratelimit import (
    StrictServer,
    _flood,
    grant_times,
    most_in_any_second,
    on_virtual_clock,
    session_on,
)


def test_the_bound_follows_rate_and_round_trip_up_to_a_ceiling_scaled_by_the_rate() -> None:
    assert adaptive_limit(200, 0.05) == 13  # 200 x 0.05 x 1.25
    assert adaptive_limit(200, 1.0) == 250  # no fixed cap of 64 any more
    assert adaptive_limit(1000, 0.05) == 63
    assert adaptive_limit(200, INITIAL_RTT) == adaptive_ceiling(200) == 500
    assert adaptive_limit(200, 30.0) == 500  # a stalled server does not open thousands
    assert adaptive_ceiling(2000) == min(5000, open_file_budget())
    assert adaptive_limit(None, 1.0) == adaptive_ceiling(None) == 16
    assert adaptive_limit(1, 0.001) == 4  # never below ADAPTIVE_MIN
    assert adaptive_ceiling(1e300) == open_file_budget()  # finite, however absurd the rate
    assert ADAPTIVE_MAX_RTT == 2.0


def test_the_ceiling_stays_under_half_the_open_file_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    resource = pytest.importorskip("resource")
    monkeypatch.setattr(resource, "getrlimit", lambda which: (1024, 4096))
    open_file_budget.cache_clear()
    try:
        assert adaptive_ceiling(1000) == 512  # not 2,500 sockets with 1,024 files allowed
        assert adaptive_ceiling(200) == 500
    finally:
        open_file_budget.cache_clear()


def test_the_first_answer_replaces_the_unknown_round_trip_then_an_average_moves() -> None:
    first = next_rtt(INITIAL_RTT, 0.8)
    assert first == 0.8
    assert next_rtt(first, 1.8) == pytest.approx(1.0)
    assert math.isinf(INITIAL_RTT)


@pytest.mark.parametrize(
    ("rate", "rtt", "calls"),
    [(200, 1.0, 1200), (200, 0.3, 1000), (200, 0.05, 1000), (1000, 0.05, 2000)],
)
def test_a_default_session_keeps_the_rate_busy_at_any_round_trip(
    rate: int, rtt: float, calls: int
) -> None:
    """Within 1.05x of calls / rate + one round trip, 0 refused (a fixed cap of 64 in flight
    made 1,000 ms at 200/s take 3x the floor, and the first wave was sized for 50 ms)."""

    async def main() -> tuple[StrictServer, float, int]:
        server = StrictServer(limit=rate, rtt=rtt)
        async with session_on(server, rate_limit=rate, max_retries=0) as oa:
            start = oa._clock.monotonic()
            await _flood(oa, calls, workers=oa.max_concurrency)
            elapsed = oa._clock.monotonic() - start
            return server, elapsed, oa.in_flight_limit

    server, elapsed, bound = on_virtual_clock(main)
    assert server.refused == 0
    assert len(server.stamps) == calls
    assert most_in_any_second(server.stamps) <= rate
    floor = calls / rate + rtt
    assert elapsed <= 1.05 * floor, (elapsed, floor)
    assert bound == adaptive_limit(rate, rtt)


class JitteryServer(StrictServer):
    """A strict server whose requests arrive after a delay varying in ``[0, spread]`` seconds."""

    def __init__(self, spread: float, seed: int = 3, **options: float) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.spread = spread
        self.rng = random.Random(seed)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        await anyio.sleep(self.rng.random() * self.spread)
        return await super().__call__(request)


class StallingClock:
    """trio's virtual clock whose sleeps now and then (5 %) overshoot by ``stall`` s: a busy
    event loop."""

    def __init__(self, stall: float, seed: int = 7) -> None:
        self.stall = stall
        self.rng = random.Random(seed)

    def monotonic(self) -> float:
        return trio.current_time()

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(seconds + (self.stall if self.rng.random() < 0.05 else 0.0))


def _jittery_flood(spread: float, calls: int = 2000) -> tuple[JitteryServer, float]:
    async def main() -> tuple[JitteryServer, float]:
        server = JitteryServer(spread, limit=200, rtt=0.05)
        async with session_on(server, max_retries=10) as oa:  # refusals are retried
            start = oa._clock.monotonic()
            await _flood(oa, calls, workers=200)
            return server, oa._clock.monotonic() - start

    result: tuple[JitteryServer, float] = on_virtual_clock(main)
    return result


def test_the_slack_absorbs_delay_variation_up_to_itself_and_costs_its_share() -> None:
    """Window arithmetic: no window of 1 + slack s holds more than 200 grants, so arrivals whose
    delays vary by at most the slack put at most 200 in any closed second. The price is
    slack / (1 + slack) of the rate, not the 3 % a 0.97 margin cut."""
    server, elapsed = _jittery_flood(DEFAULT_SLACK)
    assert server.refused == 0
    assert most_in_any_second(server.stamps) <= 200
    assert elapsed <= (2000 / 200) * (1 + DEFAULT_SLACK) * 1.005 + 0.05 + DEFAULT_SLACK
    assert elapsed <= 1.026 * (2000 / 200)  # a 3 % cut of the rate would take 10.3 s


def test_a_delay_varying_well_beyond_the_slack_is_refused() -> None:
    """The same flood with 3x the slack of variation: the strict server does refuse (so the
    test above would see a slack too small)."""
    server, _ = _jittery_flood(3 * DEFAULT_SLACK)
    assert server.refused > 0


def test_a_lagging_event_loop_widens_the_window_by_the_lag_it_sees() -> None:
    """A loop that stalls wakes late and sends late. Here 5 % of pacing sleeps overshoot by
    30 ms: the pacer widens its window by the largest overshoot of the last window, so even a
    window 20 ms wider than 1 s + slack holds no more than the rate (it tolerates that much more
    variation of the delay to the server). Without it the same grants put 204 there."""

    pacer = Pacer(200.0, slack=DEFAULT_SLACK, clock=StallingClock(0.03))
    stamps = grant_times(pacer, callers=50, each=40)
    assert most_in_any_second(stamps, 1 + DEFAULT_SLACK + 0.02) <= 200
    assert max(stamps) - min(stamps) <= 1999 / 200 * 1.08  # it costs what the loop lags


class CountingClock:
    """trio's virtual clock, counting the pacing sleeps (each is a wake-up of the event loop)."""

    def __init__(self) -> None:
        self.sleeps = 0

    def monotonic(self) -> float:
        return trio.current_time()

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        await trio.sleep(seconds)


@pytest.mark.parametrize("rate", [1000.0, 2000.0, 5000.0])
def test_above_250_a_second_slots_due_within_4_ms_are_granted_together(rate: float) -> None:
    """One wake-up per group of slots, not per slot: at 2,000/s the pacer sleeps about once per
    eight grants. The window still holds (never more than the rate in any 1 + slack s, counted
    on the times granted), and the job takes what even spacing takes."""
    clock = CountingClock()
    pacer = Pacer(rate, slack=DEFAULT_SLACK, clock=clock)
    calls = int(rate * 3)
    stamps = grant_times(pacer, callers=200, each=calls // 200)
    group = (
        math.floor(GROUP / ((1 + DEFAULT_SLACK) / rate)) + 1
    )  # slots within 4 ms, the head's too
    assert clock.sleeps <= calls / group * 1.1
    # The window a strict server counts in is half-open, (t - 1 s, t]: a grant 1 + slack s after
    # another is in the next one.
    assert most_in_any_second(stamps, 1 + DEFAULT_SLACK - 1e-6) <= rate
    assert max(stamps) - min(stamps) == pytest.approx(
        (calls - 1) * (1 + DEFAULT_SLACK) / rate, rel=0.01
    )
    assert len(set(stamps)) <= calls / group * 1.1 + 1  # the members of a group share its time


def test_at_200_a_second_every_grant_is_made_alone() -> None:
    clock = CountingClock()
    stamps = grant_times(Pacer(200.0, slack=DEFAULT_SLACK, clock=clock), callers=20, each=20)
    gaps = [b - a for a, b in zip(sorted(stamps)[:-1], sorted(stamps)[1:], strict=True)]
    assert min(gaps) == pytest.approx(1.02 / 200)
    assert clock.sleeps >= 399


def test_a_granted_member_of_a_group_cancelled_before_it_runs_holds_up_nobody(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Waiters cancelled while the head grants them with itself cost their turn at most (the
    window counts it), and every waiter behind them is still served, in order."""

    async def main() -> tuple[list[int], int]:
        pacer = Pacer(2000.0, slack=DEFAULT_SLACK, clock=CountingClock())
        for _ in range(pacer._cap):  # a full window: the next grants wait
            await pacer.acquire()
        served: list[int] = []
        scopes: dict[int, anyio.CancelScope] = {}

        async def waiter(i: int) -> None:
            with anyio.CancelScope() as scope:
                scopes[i] = scope
                await pacer.acquire()
                served.append(i)

        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(waiter, i)
                await anyio.lowlevel.checkpoint()
            # Cancel waiters 2 and 3 in the pass in which the head grants them with itself.
            original = Pacer._may_join

            def joining(self: Pacer, now: float) -> bool:
                ok = original(self, now)
                if ok and not served:
                    scopes[2].cancel()
                    scopes[3].cancel()
                return ok

            monkeypatch.setattr(Pacer, "_may_join", joining)
        return served, len(pacer._waiters)

    served, left = on_virtual_clock(main)
    # 2 and 3 either got their grant before the cancellation reached them or left without it.
    assert [i for i in served if i not in (2, 3)] == [i for i in range(20) if i not in (2, 3)]
    assert served == sorted(served)
    assert left == 0
