"""RedisLimiter's error paths and arguments, against a fake Redis (no server needed).

The fake runs no Lua: it answers the reserve script with a scripted slot, or fails the way a client
does when the server is gone or slow. Behaviour against a real server is in test_redis_limiter.py.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from typing import Any

import pytest
import redis.exceptions

from tim_oa import LimiterUnavailableError, ValidationError
from tim_oa._redis_limiter import _RELEASE, _RESERVE, RedisLimiter

APP = 1400000000


class FakeClock:
    """Virtual time: ``sleep`` records the wait and moves the clock on at once."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class FakeRedis:
    """``register_script`` of a client whose answers the test decides.

    ``mode``: "ok" (reserve answers ``wait_us`` and slot 123), "down" (ConnectionError), "hang"
    (never answers), "garbage" (an answer of the wrong shape), "late" (answers after ``gate``).
    """

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock
        self.round_trips: list[float] = []  # seconds each reserve takes on ``clock`` (then 0)
        self.mode = "ok"
        self.wait_us = 0
        self.reserves = 0
        self.reserve_args: list[Sequence[Any]] = []
        self.releases: list[tuple[Sequence[str], Sequence[Any]]] = []
        self.gate = asyncio.Event()

    def register_script(self, script: str) -> Any:
        async def run(keys: Sequence[str] = (), args: Sequence[Any] = ()) -> Any:
            if script == _RELEASE:
                self.releases.append((keys, args))
                return 1
            assert script == _RESERVE
            self.reserves += 1
            self.reserve_args.append(tuple(args))
            if self.clock is not None and self.round_trips:
                self.clock.now += self.round_trips.pop(0)
            if self.mode == "down":
                raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:1.")
            if self.mode == "hang":
                await asyncio.Event().wait()
            if self.mode == "garbage":
                return [b"not a number"]
            if self.mode == "late":
                await self.gate.wait()
            return [self.wait_us, b"123"]

        return run


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"rate": 0}, "rate"),
        ({"rate": True}, "rate"),
        ({"rate": float("inf")}, "rate"),
        ({"send_rate": -1}, "send_rate"),
        ({"prefix": ""}, "prefix"),
        ({"margin": 1.5}, "margin"),
        ({"timeout": 0}, "timeout"),
        ({"on_redis_error": "ignore"}, "on_redis_error"),
        ({"fallback_share": 0}, "fallback_share"),
        ({"retry_redis_after": -1}, "retry_redis_after"),
        ({"late_tolerance": 0}, "late_tolerance"),
        ({"clock": object()}, "clock"),
    ],
)
def test_bad_arguments_name_the_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        RedisLimiter(FakeRedis(), **options)  # type: ignore[arg-type]
    assert info.value.field == field


def test_not_a_redis_client() -> None:
    with pytest.raises(ValidationError) as info:
        RedisLimiter("redis://localhost")  # type: ignore[arg-type]
    assert info.value.field == "redis"


async def test_disabled_rates_never_touch_redis() -> None:
    fake = FakeRedis()
    limiter = RedisLimiter(fake, rate=None, send_rate=None)  # type: ignore[arg-type]
    await limiter.acquire("add_subscribers", app=APP)
    await limiter.acquire_send("@TOA#_news", app=APP)
    assert fake.reserves == 0


async def test_waits_as_long_as_redis_says_on_the_given_clock() -> None:
    fake, clock = FakeRedis(), FakeClock()
    fake.wait_us = 250_000
    limiter = RedisLimiter(fake, clock=clock)  # type: ignore[arg-type]
    await limiter.acquire("add_subscribers", app=APP)
    assert clock.sleeps == [0.25]


async def test_down_falls_back_to_a_share_of_the_rate_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, clock = FakeRedis(), FakeClock()
    fake.mode = "down"
    limiter = RedisLimiter(fake, rate=100, fallback_share=0.5, clock=clock)  # type: ignore[arg-type]
    for _ in range(4):
        await limiter.acquire("add_subscribers", app=APP)
    interval = 1 / (100 * 0.97 * 0.5)
    assert clock.sleeps == pytest.approx([interval] * 3)
    [warning] = warnings_of(caplog)
    assert "ConnectionError" in warning and "50%" in warning
    # Within retry_redis_after, Redis is asked once, not once per call.
    assert fake.reserves == 1
    # Each command and account keeps its own fallback schedule.
    clock.sleeps.clear()
    await limiter.acquire("delete_subscriber", app=APP)
    await limiter.acquire_send("@TOA#_news", app=APP)
    assert clock.sleeps == []


async def test_one_probe_per_interval_then_back_to_redis(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tim_oa")
    fake, clock = FakeRedis(), FakeClock()
    fake.mode = "down"
    limiter = RedisLimiter(fake, rate=1000, retry_redis_after=2.0, clock=clock)  # type: ignore[arg-type]
    await limiter.acquire("add_subscribers", app=APP)
    assert fake.reserves == 1 and not limiter.redis_available
    clock.now += 1.0
    await limiter.acquire("add_subscribers", app=APP)
    assert fake.reserves == 1  # too early to ask again
    clock.now += 1.5
    await limiter.acquire("add_subscribers", app=APP)
    assert fake.reserves == 2  # asked, still down: no second warning
    assert len(warnings_of(caplog)) == 1
    fake.mode = "ok"
    clock.now += 2.0
    await limiter.acquire("add_subscribers", app=APP)
    assert fake.reserves == 3 and limiter.redis_available
    assert any("answers again" in r.getMessage() for r in caplog.records)
    await limiter.acquire("add_subscribers", app=APP)
    assert fake.reserves == 4  # every call goes to Redis again


async def test_only_one_caller_probes_while_redis_is_down() -> None:
    fake = FakeRedis()
    fake.mode = "hang"
    limiter = RedisLimiter(fake, rate=1000, timeout=0.05, retry_redis_after=60)  # type: ignore[arg-type]
    await limiter.acquire("add_subscribers", app=APP)  # times out: an outage begins
    assert fake.reserves == 1
    limiter._next_probe = 0.0  # the probe is due
    await asyncio.gather(*(limiter.acquire("add_subscribers", app=APP) for _ in range(10)))
    assert fake.reserves == 2  # one probe; the other nine used the fallback


async def test_a_hung_redis_times_out(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeRedis()
    fake.mode = "hang"
    limiter = RedisLimiter(fake, timeout=0.05)  # type: ignore[arg-type]
    await asyncio.wait_for(limiter.acquire("add_subscribers", app=APP), 1.0)
    [warning] = warnings_of(caplog)
    assert "no answer from Redis within 0.05 s" in warning


async def test_an_answer_of_the_wrong_shape_counts_as_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeRedis()
    fake.mode = "garbage"
    limiter = RedisLimiter(fake)  # type: ignore[arg-type]
    await limiter.acquire("add_subscribers", app=APP)
    assert not limiter.redis_available
    assert "unexpected answer from Redis" in warnings_of(caplog)[0]


async def test_raise_policy_raises_timoaerror_without_a_context() -> None:
    fake = FakeRedis()
    fake.mode = "down"
    limiter = RedisLimiter(fake, on_redis_error="raise")  # type: ignore[arg-type]
    with pytest.raises(LimiterUnavailableError) as info:
        await limiter.acquire("add_subscribers", app=APP)
    assert "cannot reach Redis" in str(info.value) and "ConnectionError" in str(info.value)
    assert info.value.__context__ is None and info.value.__cause__ is None
    assert not isinstance(info.value, ValidationError)
    with pytest.raises(LimiterUnavailableError):
        await limiter.acquire_send("@TOA#_news", app=APP)
    assert fake.reserves == 1


async def test_cancelled_while_waiting_gives_the_slot_back() -> None:
    fake, clock = FakeRedis(), FakeClock()
    fake.wait_us = 5_000_000

    async def never(seconds: float) -> None:
        await asyncio.Event().wait()

    clock.sleep = never  # type: ignore[method-assign]
    limiter = RedisLimiter(fake, rate=100, clock=clock)  # type: ignore[arg-type]
    task = asyncio.create_task(limiter.acquire("add_subscribers", app=APP))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [(keys, args)] = fake.releases
    assert keys == limiter.keys("call", APP, "add_subscribers")
    assert args == (round(1_000_000 / 97 + 0.5), 123)


async def test_cancelled_during_the_round_trip_gives_the_slot_back_when_it_arrives() -> None:
    fake = FakeRedis()
    fake.mode = "late"
    fake.wait_us = 1_000_000
    limiter = RedisLimiter(fake, send_rate=1)  # type: ignore[arg-type]
    task = asyncio.create_task(limiter.acquire_send("@TOA#_news", app=APP))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fake.releases == []  # the reservation has not arrived yet
    fake.gate.set()
    for _ in range(10):
        await asyncio.sleep(0)
    [(keys, args)] = fake.releases
    assert keys == limiter.keys("send", APP, "@TOA#_news")
    assert args[1] == 123


def test_repr_shows_no_client() -> None:
    limiter = RedisLimiter(FakeRedis(), prefix="prod")  # type: ignore[arg-type]
    assert repr(limiter) == (
        "RedisLimiter(rate=200.0, send_rate=1.0, prefix='prod', on_redis_error='fallback')"
    )


class OversleepingClock(FakeClock):
    """Each sleep lasts ``extra`` seconds longer than asked, as in a stalled process."""

    def __init__(self, extra: list[float]) -> None:
        super().__init__()
        self.extra = extra

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds + (self.extra.pop(0) if self.extra else 0.0))


async def test_a_late_waker_takes_a_new_slot_instead_of_sending() -> None:
    clock = OversleepingClock(extra=[0.05])  # the first sleep ends 50 ms after the slot
    fake = FakeRedis(clock)
    fake.wait_us = 100_000
    limiter = RedisLimiter(fake, clock=clock)  # type: ignore[arg-type]
    await limiter.acquire("add_subscribers", app=APP)
    assert fake.reserves == 2  # the late slot was not used; the new one was on time
    clock.extra = [0.01]  # 10 ms late: within the 15 ms tolerance
    await limiter.acquire("add_subscribers", app=APP)
    assert fake.reserves == 3


async def test_a_stall_during_the_round_trip_counts_as_late() -> None:
    clock = FakeClock()
    fake = FakeRedis(clock)
    fake.wait_us = 100_000
    fake.round_trips = [0.002, 0.002, 0.060, 0.002]
    limiter = RedisLimiter(fake, clock=clock)  # type: ignore[arg-type]
    await limiter.acquire("add_subscribers", app=APP)
    await limiter.acquire("add_subscribers", app=APP)
    assert fake.reserves == 2  # a steady 2 ms round trip is the usual one, never "late"
    await limiter.acquire("add_subscribers", app=APP)
    assert fake.reserves == 4  # 58 ms above the usual round trip: a new slot


async def test_a_slow_network_is_not_mistaken_for_stalls() -> None:
    clock = FakeClock()
    fake = FakeRedis(clock)
    fake.round_trips = [0.040] * 5  # a Redis far away: 40 ms every time
    limiter = RedisLimiter(fake, clock=clock)  # type: ignore[arg-type]
    for _ in range(5):
        await limiter.acquire("add_subscribers", app=APP)
    assert fake.reserves == 5


async def test_a_caller_late_every_time_goes_ahead_after_three_new_slots() -> None:
    clock = OversleepingClock(extra=[1.0] * 10)
    fake = FakeRedis(clock)
    fake.wait_us = 100_000
    limiter = RedisLimiter(fake, clock=clock)  # type: ignore[arg-type]
    await limiter.acquire("add_subscribers", app=APP)
    assert fake.reserves == 4


async def test_the_fallback_counts_the_last_shared_second() -> None:
    # Issue 17, defect 5: 60 shared grants just now; the fallback's second (48 at 100/s x 0.5
    # x 0.97) must not come on top of them.
    fake, clock = FakeRedis(), FakeClock()
    limiter = RedisLimiter(fake, rate=100, fallback_share=0.5, clock=clock)  # type: ignore[arg-type]
    for _ in range(60):
        await limiter.acquire("add_subscribers", app=APP)
    assert clock.sleeps == []
    fake.mode = "down"
    await limiter.acquire("add_subscribers", app=APP)
    assert sum(clock.sleeps) == pytest.approx(1.0, abs=0.01)  # until the shared second is over


async def test_coming_back_carries_the_fallback_grants_into_redis_once() -> None:
    fake, clock = FakeRedis(), FakeClock()
    fake.mode = "down"
    limiter = RedisLimiter(fake, rate=100, retry_redis_after=0.5, clock=clock)  # type: ignore[arg-type]
    for _ in range(5):
        await limiter.acquire("add_subscribers", app=APP)  # 5 fallback grants, ~41 ms apart
    fake.mode = "ok"
    clock.now += 0.5
    await limiter.acquire("add_subscribers", app=APP)
    await limiter.acquire("add_subscribers", app=APP)
    interval = math.ceil(1_000_000 / (100 * 0.97))
    # the first call was the probe (down); then one carry of the 5, then none
    assert fake.reserve_args == [(interval,), (interval, 5), (interval,)]
    assert limiter.redis_available
