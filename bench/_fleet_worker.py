"""One worker process of the fleet rows: ``add_subscribers`` over its share of the ids.

``python -m bench._fleet_worker BASE_URL FIRST COUNT [--redis-url URL --prefix P]`` builds its
session (the default in-process limiter, or ``tim_oa.limiters.RedisLimiter`` on the given Redis),
prints ``ready``, waits for a line on standard input so every worker starts together, runs the job
and prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
import time
from typing import Any

from . import _clients as C


def _session(base_url: str, redis_url: str | None, prefix: str) -> Any:
    if redis_url is None:
        return C.session(base_url)
    # Imported by name: neither exists until the Redis limiter lands (the row is n/a till then).
    aioredis = importlib.import_module("redis.asyncio")
    limiters = importlib.import_module("tim_oa.limiters")
    redis = aioredis.Redis.from_url(redis_url)
    limiter = limiters.RedisLimiter(redis, rate=200, prefix=prefix)
    return C.session(base_url, limiter=limiter)


async def main(args: argparse.Namespace) -> dict[str, float]:
    ids = [f"fleet{i:08d}" for i in range(args.first, args.first + args.count)]
    async with _session(args.base_url, args.redis_url, args.prefix) as oa:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        cpu0, start = time.process_time(), time.perf_counter()
        result = await oa.add_subscribers(C.ACCOUNT, ids)
        elapsed = time.perf_counter() - start
    return {
        "elapsed_s": elapsed,
        "cpu_s": time.process_time() - cpu0,
        "failed_ids": float(len(result.failed)),
        "ids": float(len(ids)),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench._fleet_worker")
    parser.add_argument("base_url")
    parser.add_argument("first", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--prefix", default="tim_oa_bench")
    print(json.dumps(asyncio.run(main(parser.parse_args()))), flush=True)
