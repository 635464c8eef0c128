"""The hand-over between the shared budget and the fallback, both ways (issue 17, defect 5).

A real redis-server is killed under load and started again; every grant's time is recorded and
no sliding second may hold more grants than the rate. Before the fix the fallback started from
an empty budget (the last second's shared grants plus a fresh fallback second) and the shared
schedule restarted empty after the outage (the fallback's last second plus a fresh shared
second): 57-60 grants in one sliding second at 50/s.
"""

from __future__ import annotations

import time

import anyio
import anyio.to_thread
import pytest
import redis.asyncio

from tim_oa.limiters import RedisLimiter

from .server import RedisServer

APP = 1400000000
RATE = 50


def busiest_second(times: list[float]) -> int:
    """The most grants in any sliding one-second window (closed at its end)."""
    times = sorted(times)
    most, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_no_sliding_second_goes_over_the_rate_across_an_outage(
    redis_server: RedisServer,
) -> None:
    client = redis.asyncio.Redis(
        port=redis_server.port, socket_connect_timeout=0.2, socket_timeout=0.2
    )
    limiter = RedisLimiter(client, rate=RATE, timeout=0.2, retry_redis_after=0.3)
    grants: list[float] = []
    modes: list[bool] = []

    async def caller() -> None:
        while True:
            await limiter.acquire("add_subscribers", app=APP)
            grants.append(time.monotonic())
            modes.append(limiter.redis_available)

    try:
        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(caller)
            await anyio.sleep(1.5)
            await anyio.to_thread.run_sync(redis_server.stop)
            await anyio.sleep(2.0)
            await anyio.to_thread.run_sync(redis_server.start)
            await anyio.sleep(2.0)
            tg.cancel_scope.cancel()
    finally:
        await client.aclose()
    assert not all(modes) and modes[-1], "the limiter never fell back, or never came back"
    # The shared schedule alone keeps to floor(50 x 0.97 x 1.015) + 1 = 50 (module docs); the
    # hand-overs must add nothing to that.
    assert busiest_second(grants) <= RATE


def test_the_window_counter() -> None:
    assert busiest_second([0.0, 0.5, 0.99, 1.0, 1.5]) == 3  # a second is (t - 1, t]
    assert busiest_second([0.0, 0.2, 0.5, 0.99]) == 4
    assert busiest_second([]) == 0


@pytest.fixture(autouse=True)
def _quiet_outage_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("ERROR", logger="tim_oa")
