"""Many workers, one app: the shared Redis limiter against one in-process limiter per worker.

``python bench/fleet.py [--quick]`` (needs a ``redis-server`` binary and ``tim-oa[redis]``).

1. **Fleet**: 4 worker processes add 200,000 ids in all (50,000 each, 2,000 calls of 100) to one
   account of an emulator served over loopback that enforces 200 calls/s per command and answers
   after 20 ms. With ``Session(limiter=RedisLimiter(...))`` in every worker the fleet should see
   no rate-limit refusal (60007) and take at most 1.10x the theoretical minimum (2,000 calls at
   200/s: 10 s). The same run with each worker's own in-process limiter (the default) shows the
   refusals the shared one avoids.
   A second pair of runs at 50 calls/s (50,000 ids) shows the same where a busy machine keeps
   up. Each row also shows the most calls in any sliding second: granted by the workers'
   limiters (what the limiter controls) and arrived at the emulator (after the client's and the
   emulator's own delays on a loaded machine).
2. **Overhead**: the cost of one ``acquire`` that does not wait, in one process: the Redis limiter
   (one script round trip to a local Redis) against the in-process one. Client CPU and latency
   per call, and the Redis server's CPU per call (``INFO cpu``).

Prints a table and writes ``bench/results/fleet.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

WORKERS = 4
IDS_PER_WORKER = 50_000
RATE = 200
LATENCY = 0.02


# --- a redis-server of our own ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def redis_server() -> Iterator[int]:
    """Start ``redis-server`` on a free loopback port (no persistence); yield the port."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("bench/fleet.py needs a redis-server binary (apt-get install redis-server)")
    port = _free_port()
    with tempfile.TemporaryDirectory() as workdir:
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                workdir,
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                        sock.sendall(b"PING\r\n")
                        if sock.recv(16).startswith(b"+PONG"):
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.02)
            yield port
        finally:
            proc.terminate()
            proc.wait(10)


# --- one worker process ----------------------------------------------------------------------


class _Recording:
    """A limiter that notes the wall-clock time of every call slot its inner limiter grants."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.rate = inner.rate  # the session sizes its concurrency from it
        self.granted: list[float] = []

    async def acquire(self, command: str, *, app: int) -> None:
        await self.inner.acquire(command, app=app)
        self.granted.append(time.time())

    async def acquire_send(self, account_id: str, *, app: int) -> None:
        await self.inner.acquire_send(account_id, app=app)


async def _worker(
    base_url: str,
    redis_port: int,
    account_id: str,
    first: int,
    count: int,
    shared: bool,
    rate: float,
) -> dict[str, Any]:
    import redis.asyncio

    import tim_oa
    from tim_oa.limiters import LocalLimiter, RedisLimiter
    from tim_oa.testing import DEFAULT_SDKAPPID, DEFAULT_SECRET_KEY

    client = redis.asyncio.Redis(port=redis_port)
    # Per process: the default limiter (LocalLimiter(rate)), recorded the same way.
    limiter = _Recording(RedisLimiter(client, rate=rate) if shared else LocalLimiter(rate))
    signer = tim_oa.UserSigSigner(DEFAULT_SDKAPPID, DEFAULT_SECRET_KEY)
    ids = [f"u{i:07d}" for i in range(first, first + count)]
    async with tim_oa.Session(
        DEFAULT_SDKAPPID, "administrator", signer, base_url=base_url, limiter=limiter
    ) as oa:
        await client.ping()
        print("ready", flush=True)
        start_at = float(await asyncio.to_thread(sys.stdin.readline))
        await asyncio.sleep(max(0.0, start_at - time.time()))
        cpu = time.process_time()
        report = await oa.add_subscribers(account_id, ids)
        done = time.time()
        cpu = time.process_time() - cpu
    await client.aclose()
    return {"done": done, "cpu": cpu, "failed": len(report.failed), "granted": limiter.granted}


# --- the runs ----------------------------------------------------------------------------------


def _rate_limited(emulator: Any) -> int:
    return int(emulator.stats["rate_limited"])


def _most_in_one_second(times: list[float]) -> int:
    """The largest number of ``times`` inside any window [t, t + 1 s)."""
    times = sorted(times)
    best = j = 0
    for i, start in enumerate(times):
        j = max(j, i)
        while j < len(times) and times[j] < start + 1.0:
            j += 1
        best = max(best, j - i)
    return best


def fleet_run(
    redis_port: int, *, shared: bool, ids_per_worker: int, rate: float = RATE
) -> dict[str, Any]:
    """One run of the fleet; return its elapsed time, refusals and failed ids."""
    from tim_oa.testing import Emulator, Faults, serve

    emulator = Emulator(faults=Faults(latency=LATENCY), request_log_size=None, rate_limit=rate)
    with serve(emulator) as base_url:
        account = emulator.call(
            "create_official_account",
            {"Owner_Account": "o", "Name": "Bench", "MaxSubscriberNum": 1_000_000},
        )
        account_id = account["OfficialAccountUserID"]
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    base_url,
                    str(redis_port),
                    account_id,
                    str(w * ids_per_worker),
                    str(ids_per_worker),
                    "shared" if shared else "local",
                    str(rate),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for w in range(WORKERS)
        ]
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"a worker did not start: {line!r}")
        start = time.time() + 0.2
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(f"{start}\n")
            proc.stdin.close()
        results = []
        for proc in procs:
            assert proc.stdout is not None
            results.append(json.loads(proc.stdout.read()))
            proc.wait(120)
        calls = WORKERS * ids_per_worker // 100
        elapsed = max(r["done"] for r in results) - start
        subscribed = emulator.account(account_id).subscriber_num
        return {
            "elapsed_s": round(elapsed, 3),
            "vs_minimum": round(elapsed / (calls / rate), 3),
            "rate_limited": _rate_limited(emulator),
            # Slots granted by the limiters of all workers, and arrivals at the emulator
            # (refused or not), in any sliding second.
            "granted_max_1s": _most_in_one_second([t for r in results for t in r["granted"]]),
            "arrived_max_1s": _most_in_one_second([r.time for r in emulator.requests]),
            "failed_ids": sum(r["failed"] for r in results),
            "subscribed": subscribed,
            "client_cpu_ms_per_call": round(1000 * sum(r["cpu"] for r in results) / calls, 3),
        }


async def _overhead(redis_port: int, calls: int) -> dict[str, Any]:
    import redis.asyncio

    from tim_oa.limiters import LocalLimiter, RedisLimiter

    client = redis.asyncio.Redis(port=redis_port)
    await client.ping()
    limiters = {
        "local": LocalLimiter(rate=1e9),
        "redis": RedisLimiter(client, rate=1e9),  # a slot every microsecond: never a wait
    }
    out: dict[str, Any] = {}
    for name, limiter in limiters.items():
        await limiter.acquire("warm", app=1)
        before = await client.info("cpu")
        latencies = []
        cpu = time.process_time()
        for _ in range(calls):
            t0 = time.perf_counter()
            await limiter.acquire("add_subscriber", app=1)
            latencies.append(time.perf_counter() - t0)
        cpu = time.process_time() - cpu
        after = await client.info("cpu")
        server = sum(after[k] - before[k] for k in ("used_cpu_sys", "used_cpu_user"))
        latencies.sort()
        out[name] = {
            "client_cpu_us": round(1e6 * cpu / calls, 1),
            "latency_us_p50": round(1e6 * statistics.median(latencies), 1),
            "latency_us_p99": round(1e6 * latencies[int(0.99 * len(latencies))], 1),
            "redis_cpu_us": round(1e6 * server / calls, 1),
        }
    await client.aclose()
    return out


LOW_RATE = 50
"""The second pair of runs: an emulator enforcing 50 calls/s, well within what a busy 2-core
machine serves, so per-process limiters (4 x 48.5/s offered) certainly overrun it."""


def run(*, quick: bool = False) -> dict[str, Any]:
    """Run everything and print a table; return the numbers."""
    ids_per_worker = 12_500 if quick else IDS_PER_WORKER
    rows: dict[str, dict[str, Any]] = {}
    with redis_server() as port:
        for rate, ids in ((RATE, ids_per_worker), (LOW_RATE, ids_per_worker // 4)):
            for shared in (True, False):
                key = f"{'shared' if shared else 'per_process'}_{rate}"
                rows[key] = fleet_run(port, shared=shared, ids_per_worker=ids, rate=rate)
                rows[key].update(rate=rate, ids=WORKERS * ids)
        overhead = asyncio.run(_overhead(port, 2_000 if quick else 10_000))
    print(
        f"{WORKERS} worker processes, one account, emulator answering after "
        f"{LATENCY * 1000:.0f} ms and refusing calls over its rate (60007)"
    )
    print(
        f"{'limiter':<24}{'rate':>5}{'ids':>9}{'elapsed':>9}{'x min':>7}{'granted/1s':>11}"
        f"{'arrived/1s':>11}{'60007s':>8}{'failed ids':>11}"
    )
    for key, row in rows.items():
        name = "RedisLimiter, shared" if key.startswith("shared") else "in-process, one each"
        print(
            f"{name:<24}{row['rate']:>5}{row['ids']:>9,}{row['elapsed_s']:>8.2f}s"
            f"{row['vs_minimum']:>7.3f}{row['granted_max_1s']:>11}{row['arrived_max_1s']:>11}"
            f"{row['rate_limited']:>8}"
            f"{row['failed_ids']:>11}"
        )
    print("one acquire() that does not wait:")
    for name, row in overhead.items():
        print(
            f"  {name:<6} client CPU {row['client_cpu_us']:>7.1f} us, latency p50 "
            f"{row['latency_us_p50']:>7.1f} us / p99 {row['latency_us_p99']:>7.1f} us, "
            f"Redis CPU {row['redis_cpu_us']:>5.1f} us"
        )
    load = os.getloadavg()[0]
    print(
        f"(load average {load:.1f} on {os.cpu_count()} cores: other work on the machine "
        "skews the times)"
    )
    result = {"fleet": rows, "acquire_overhead": overhead, "load_average": round(load, 2)}
    out = pathlib.Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "fleet.json").write_text(json.dumps(result, indent=2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the ids, fewer calls")
    parser.add_argument("--worker", nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        base_url, port, account_id, first, count, mode, rate = args.worker
        result = asyncio.run(
            _worker(
                base_url,
                int(port),
                account_id,
                int(first),
                int(count),
                mode == "shared",
                float(rate),
            )
        )
        print(json.dumps(result))
        return
    run(quick=args.quick)


if __name__ == "__main__":
    main()
