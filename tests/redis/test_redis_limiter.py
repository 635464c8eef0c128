"""RedisLimiter against a real redis-server: shared budgets, pacing, keys, cancellation, outages."""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis.asyncio

from tim_oa import LimiterUnavailableError
from tim_oa._clock import AnyioClock
from tim_oa._redis_limiter import RedisLimiter

from .server import RedisServer

APP = 1400000000
HAMMER = Path(__file__).with_name("hammer.py")


class WaitLog(AnyioClock):
    """The real clock, noting each wait the limiter asks for, by task.

    A wait is the limiter's decision, read from Redis's schedule: a loaded machine does not
    change it (it only wakes the task late), so tests assert on it where wall time would flake.
    """

    def __init__(self) -> None:
        self.waits: dict[asyncio.Task[Any] | None, list[float]] = collections.defaultdict(list)

    def of(self, task: asyncio.Task[Any] | None) -> list[float]:
        return self.waits.get(task, [])

    async def sleep(self, seconds: float) -> None:
        self.waits[asyncio.current_task()].append(seconds)
        await super().sleep(seconds)


class HeldWaits(WaitLog):
    """A ``WaitLog`` whose waits by the tasks in ``held`` end only when they are cancelled.

    Their slots then never come while a test is still busy with them, however loaded the machine
    (a real wait could end, and the task be granted, before the test got round to cancelling it).
    """

    def __init__(self) -> None:
        super().__init__()
        self.held: set[asyncio.Task[Any]] = set()
        self._waited = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        task = asyncio.current_task()
        if task in self.held:
            self.waits[task].append(seconds)
            self._waited.set()
            await anyio.sleep_forever()
        await super().sleep(seconds)

    async def all_held(self) -> None:
        """Return once every held task waits (each holds its slot)."""
        while not all(self.of(task) for task in self.held):
            self._waited.clear()
            await self._waited.wait()


def most_in_one_second(times: list[float]) -> int:
    """The largest number of ``times`` inside any window [t, t + 1 s)."""
    times = sorted(times)
    best = 0
    j = 0
    for i, start in enumerate(times):
        j = max(j, i)
        while j < len(times) and times[j] < start + 1.0:
            j += 1
        best = max(best, j - i)
    return best


def run_processes(
    port: int, kind: str, name: str, rate: float, *, processes: int, duration: float, tasks: int
) -> list[list[float]]:
    """Run ``processes`` hammer.py workers, started together; return the grants of each."""
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(HAMMER),
                str(port),
                kind,
                name,
                str(rate),
                str(duration),
                str(tasks),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        start_at = time.time() + 0.1
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(f"{start_at}\n")
            proc.stdin.close()
        results = []
        for proc in procs:
            assert proc.stdout is not None
            results.append(json.loads(proc.stdout.read()))
            assert proc.wait(60) == 0
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    return results


def rate_while_all_ran(grants: list[list[float]]) -> float:
    """Grants per second, merged, between the first grant of the last process to start and the
    last grant of the first to stop (so a process slow to start does not count as idle budget)."""
    begin = max(g[0] for g in grants)
    end = min(g[-1] for g in grants)
    inside = [t for g in grants for t in g if begin <= t <= end]
    return (len(inside) - 1) / (end - begin)


def test_one_budget_shared_by_three_processes(redis_server: RedisServer) -> None:
    rate, duration = 100.0, 1.5
    grants = run_processes(
        redis_server.port, "call", "add_subscribers", rate, processes=3, duration=duration, tasks=4
    )
    merged = [t for g in grants for t in g]
    # Never more than the rate in any one-second window, merged over every process...
    assert most_in_one_second(merged) <= rate
    # ...and the budget is used: near rate x margin (97/s) while they all ran (a third of it if
    # each process kept its own budget). 0.75 rather than 0.9: on a loaded machine late wake-ups
    # give their slots back and take new ones.
    assert rate_while_all_ran(grants) >= 0.75 * rate * 0.97
    # Every process got a real share (one schedule, served in order of reservation).
    assert all(len(g) >= 0.15 * len(merged) for g in grants)


def test_send_pacing_per_account_shared_by_three_processes(redis_server: RedisServer) -> None:
    send_rate = 5.0
    grants = run_processes(
        redis_server.port, "send", "@TOA#_news", send_rate, processes=3, duration=1.5, tasks=2
    )
    merged = sorted(t for g in grants for t in g)
    interval = 1 / (send_rate * 0.97)
    gaps = [b - a for a, b in itertools.pairwise(merged)]
    # Spaced one interval apart across processes (less a little for a late wake-up).
    assert min(gaps) >= interval - 0.05
    assert most_in_one_second(merged) <= send_rate
    assert len(merged) >= 5  # ~1.5 s / 0.206 s + 1 = 8, shared by all (fewer when loaded)


async def test_pacing_is_smooth(redis_client: redis.asyncio.Redis) -> None:
    clock = WaitLog()
    limiter = RedisLimiter(redis_client, rate=50, clock=clock)
    order: list[int] = []
    times: list[float] = []
    tasks: dict[int, asyncio.Task[Any] | None] = {}

    async def one(i: int) -> None:
        tasks[i] = asyncio.current_task()
        await limiter.acquire("add_subscribers", app=APP)
        order.append(i)
        times.append(time.monotonic())

    await redis_client.ping()
    async with anyio.create_task_group() as tg:
        for i in range(30):
            tg.start_soon(one, i)
    interval = 1 / (50 * 0.97)
    assert sorted(order) == list(range(30))
    assert clock.of(tasks[order[0]]) == []  # the first slot is free: no wait asked
    # Never faster than the rate; the upper bound (no slot lost) leaves room for late wake-ups
    # on a loaded machine.
    assert 29 * interval - 0.02 <= times[-1] - times[0] <= 29 * interval + 1.0
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= interval - 0.015


async def test_budgets_are_per_app_command_and_account(redis_client: redis.asyncio.Redis) -> None:
    clock = WaitLog()
    limiter = RedisLimiter(redis_client, rate=1, send_rate=1, clock=clock)
    # The first slot of each schedule is free: none of these waits for another.
    await limiter.acquire("add_subscribers", app=APP)
    await limiter.acquire("delete_subscriber", app=APP)
    await limiter.acquire("add_subscribers", app=APP + 1)
    await limiter.acquire_send("@TOA#_a", app=APP)
    await limiter.acquire_send("@TOA#_b", app=APP)
    assert not any(clock.waits.values())  # a shared schedule would have asked for ~1 s
    names = {k.decode() for k in await redis_client.keys("*")}
    assert names == {
        f"tim_oa:{{{APP}}}:call:add_subscribers",
        f"tim_oa:{{{APP}}}:call:delete_subscriber",
        f"tim_oa:{{{APP + 1}}}:call:add_subscribers",
        f"tim_oa:{{{APP}}}:send:@TOA#_a",
        f"tim_oa:{{{APP}}}:send:@TOA#_b",
    }


async def test_every_key_expires_and_vanishes_when_idle(
    redis_client: redis.asyncio.Redis,
) -> None:
    limiter = RedisLimiter(redis_client, rate=20, send_rate=2, prefix="test-env")
    # A burst of calls, sends, and a cancelled waiter in the middle (a given-back slot).
    await asyncio.gather(*(limiter.acquire("add_subscribers", app=APP) for _ in range(3)))
    await limiter.acquire_send("@TOA#_news", app=APP)
    waiters = [asyncio.create_task(limiter.acquire("add_subscribers", app=APP)) for _ in range(3)]
    await asyncio.sleep(0.02)
    waiters[1].cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    keys = sorted(k.decode() for k in await redis_client.keys("*"))
    assert keys == [
        f"test-env:{{{APP}}}:call-gaps:add_subscribers",  # the cancelled waiter's slot
        f"test-env:{{{APP}}}:call:add_subscribers",
        f"test-env:{{{APP}}}:send:@TOA#_news",
    ]
    assert all(k.startswith(f"test-env:{{{APP}}}:") for k in keys)
    for key in keys:
        ttl = await redis_client.pttl(key)
        assert 0 < ttl <= 1000, (key, ttl)  # at most the schedule's length, never -1 (no TTL)
    await asyncio.sleep(0.6)  # past the end of every schedule
    assert await redis_client.keys("*") == []


@pytest.mark.parametrize("order", ["first-to-last", "last-to-first", "interleaved"])
async def test_a_cancelled_burst_costs_the_next_caller_nothing(
    redis_client: redis.asyncio.Redis, order: str
) -> None:
    # The waiters' waits last until they are cancelled: no waiter's slot comes while the burst
    # is cancelled, however long that takes on a loaded machine.
    clock = HeldWaits()
    limiter = RedisLimiter(redis_client, rate=2, clock=clock)  # slots 0.5 s apart
    interval = 1 / (2 * 0.97)
    await limiter.acquire("add_subscribers", app=APP)  # takes the free slot
    waiters = [asyncio.create_task(limiter.acquire("add_subscribers", app=APP)) for _ in range(20)]
    clock.held.update(waiters)
    # Every waiter holds a slot, up to 10 s ahead, and waits for it.
    with anyio.fail_after(10):
        await clock.all_held()
    assert not any(task.done() for task in waiters)
    sequence = {
        "first-to-last": waiters,
        "last-to-first": waiters[::-1],
        "interleaved": waiters[::2] + waiters[1::2],
    }[order]
    for task in sequence:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    t0 = time.monotonic()
    await limiter.acquire("add_subscribers", app=APP)
    # The next caller is asked to wait at most one interval, not ~10 s behind the cancelled
    # slots; the wall-clock bound leaves room for a late wake-up on a loaded machine.
    first_wait = clock.of(asyncio.current_task())[:1]
    assert sum(first_wait) <= interval + 0.005
    assert time.monotonic() - t0 < interval + 1.0
    _, gaps_key = limiter.keys("call", APP, "add_subscribers")
    assert await redis_client.exists(gaps_key) == 0  # every given-back slot was used up


async def test_a_cancelled_slot_in_the_middle_goes_to_the_next_caller(
    redis_client: redis.asyncio.Redis,
) -> None:
    clock = WaitLog()
    limiter = RedisLimiter(redis_client, rate=5, clock=clock)  # slots 0.206 s apart
    await limiter.acquire("add_subscribers", app=APP)
    started = time.monotonic()  # the free slot's time, give or take a round trip
    first = asyncio.create_task(limiter.acquire("add_subscribers", app=APP))
    middle = asyncio.create_task(limiter.acquire("add_subscribers", app=APP))
    last = asyncio.create_task(limiter.acquire("add_subscribers", app=APP))
    await asyncio.sleep(0.02)
    middle.cancel()
    await asyncio.gather(middle, return_exceptions=True)
    # The newcomer is given the middle slot (~0.41 s after the free one), not a new one after
    # the last (~0.62 s): where its wait ends, not how late it woke.
    asked = time.monotonic()
    await limiter.acquire("add_subscribers", app=APP)
    [wait, *_] = clock.of(asyncio.current_task())
    assert 0.3 < asked + wait - started < 0.52
    await asyncio.gather(first, last)


async def test_cancelled_while_the_reservation_is_in_flight(
    redis_client: redis.asyncio.Redis,
) -> None:
    limiter = RedisLimiter(redis_client, rate=10)
    await limiter.acquire("add_subscribers", app=APP)
    next_key, _ = limiter.keys("call", APP, "add_subscribers")
    before = await redis_client.get(next_key)
    task = asyncio.create_task(limiter.acquire("add_subscribers", app=APP))
    await asyncio.sleep(0)  # the reserve script is sent; its answer has not arrived
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The answer arrives later and the slot is given back: the schedule is as before.
    for _ in range(100):
        if await redis_client.get(next_key) == before:
            break
        await asyncio.sleep(0.01)
    assert await redis_client.get(next_key) == before


async def test_cancelled_by_an_anyio_scope_gives_the_slot_back(
    redis_client: redis.asyncio.Redis,
) -> None:
    limiter = RedisLimiter(redis_client, rate=5)
    await limiter.acquire("add_subscribers", app=APP)
    next_key, _ = limiter.keys("call", APP, "add_subscribers")
    before = await redis_client.get(next_key)
    with anyio.move_on_after(0.05) as scope:
        await limiter.acquire("add_subscribers", app=APP)
    assert scope.cancelled_caught
    for _ in range(100):
        if await redis_client.get(next_key) == before:
            break
        await asyncio.sleep(0.01)
    assert await redis_client.get(next_key) == before


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "tim_oa" and r.levelno == logging.WARNING
    ]


async def test_redis_down_falls_back_warns_once_and_comes_back(
    redis_server: RedisServer, redis_client: redis.asyncio.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tim_oa")
    limiter = RedisLimiter(redis_client, rate=1000, timeout=0.3, retry_redis_after=0.2)
    await limiter.acquire("add_subscribers", app=APP)
    assert limiter.redis_available

    redis_server.stop()
    t0 = time.monotonic()
    for _ in range(20):
        await limiter.acquire("add_subscribers", app=APP)
    elapsed = time.monotonic() - t0
    assert not limiter.redis_available
    [warning] = warnings_of(caplog)  # one warning for the outage, not one per call
    assert "Redis is unavailable" in warning and "25%" in warning
    # Paced locally at a quarter of the rate: 19 intervals of 1 / (1000 x 0.97 x 0.25) s.
    assert elapsed >= 19 / (1000 * 0.97 * 0.25) - 0.005

    redis_server.start()  # same port
    deadline = time.monotonic() + 5
    while not limiter.redis_available:
        assert time.monotonic() < deadline, "the limiter did not come back to Redis"
        await limiter.acquire("add_subscribers", app=APP)
        await asyncio.sleep(0.05)
    await limiter.acquire("add_subscribers", app=APP)
    assert await redis_client.exists(limiter.keys("call", APP, "add_subscribers")[0])
    assert any("answers again" in r.getMessage() for r in caplog.records)
    assert len(warnings_of(caplog)) == 1

    redis_server.stop()  # a second outage gets its own warning
    await limiter.acquire("add_subscribers", app=APP)
    assert len(warnings_of(caplog)) == 2


async def test_a_slow_redis_times_out_to_the_fallback(
    redis_server: RedisServer, redis_client: redis.asyncio.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = RedisLimiter(redis_client, rate=1000, timeout=0.1, retry_redis_after=0.2)
    await limiter.acquire("add_subscribers", app=APP)
    other = redis.asyncio.Redis(port=redis_server.port)
    try:
        sleeper = asyncio.create_task(other.execute_command("DEBUG", "SLEEP", "1"))  # type: ignore[no-untyped-call]
        await asyncio.sleep(0.05)  # the server is now blocked for a second
        t0 = time.monotonic()
        await limiter.acquire("add_subscribers", app=APP)
        await limiter.acquire("add_subscribers", app=APP)
        # One timeout (0.1 s), then the fallback without waiting; not the 1 s Redis is blocked
        # for (the slack is for a loaded machine).
        assert time.monotonic() - t0 < 0.8
        assert not limiter.redis_available
        [warning] = warnings_of(caplog)
        assert "no answer from Redis within 0.1 s" in warning
        await sleeper
    finally:
        await other.aclose()
    deadline = time.monotonic() + 5
    while not limiter.redis_available:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
        await limiter.acquire("add_subscribers", app=APP)


async def test_raise_policy_raises_a_tim_oa_error(
    redis_server: RedisServer, redis_client: redis.asyncio.Redis
) -> None:
    limiter = RedisLimiter(redis_client, on_redis_error="raise", timeout=0.3)
    await limiter.acquire("add_subscribers", app=APP)
    redis_server.stop()
    with pytest.raises(LimiterUnavailableError, match="cannot reach Redis") as info:
        await limiter.acquire("add_subscribers", app=APP)
    assert info.value.__context__ is None and info.value.__cause__ is None
    with pytest.raises(
        LimiterUnavailableError
    ):  # within retry_redis_after: raised without asking Redis
        await limiter.acquire_send("@TOA#_news", app=APP)
