"""One worker process of the multi-process tests: takes slots from a RedisLimiter for a while.

Usage: python hammer.py PORT KIND NAME RATE DURATION TASKS

KIND is ``call`` (``acquire(NAME)``) or ``send`` (``acquire_send(NAME)``); RATE is the rate of that
kind. Once connected the process prints ``ready`` and reads a wall-clock start time from stdin; from
then until DURATION seconds later, TASKS tasks each take slots in a loop. Then it prints a JSON list
of the wall-clock times at which slots were granted (every process on one machine shares that
clock, so the parent can merge them).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable

import redis.asyncio

from tim_oa._redis_limiter import RedisLimiter

APP = 1400000000


async def main(
    port: int, kind: str, name: str, rate: float, duration: float, tasks: int
) -> list[float]:
    client = redis.asyncio.Redis(port=port, socket_timeout=5)
    take: Callable[[], Awaitable[object]]
    if kind == "call":
        limiter = RedisLimiter(client, rate=rate, send_rate=None)
        take = lambda: limiter.acquire(name, app=APP)  # noqa: E731
    else:
        limiter = RedisLimiter(client, rate=None, send_rate=rate)
        take = lambda: limiter.acquire_send(name, app=APP)  # noqa: E731
    await client.ping()  # connect before the start, so the first slot is not late
    print("ready", flush=True)
    start_at = float(await asyncio.to_thread(sys.stdin.readline))
    granted: list[float] = []
    end = start_at + duration

    async def loop() -> None:
        while time.time() < end:
            await take()
            granted.append(time.time())

    await asyncio.sleep(max(0.0, start_at - time.time()))
    await asyncio.gather(*(loop() for _ in range(tasks)))
    await client.aclose()
    return granted


if __name__ == "__main__":
    port, kind, name, rate, duration, tasks = sys.argv[1:]
    result = asyncio.run(main(int(port), kind, name, float(rate), float(duration), int(tasks)))
    print(json.dumps(result))
