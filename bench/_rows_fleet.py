"""Rows of issue 11: many worker processes sharing one app's 200 calls/s, and the Redis limiter.

- ``fleet.local.4``: 4 worker processes, each with its own in-process limiter, add 200,000 ids in
  all to one account (server: 20 ms latency, token bucket 200/s, as the emulator models it). Each
  process allows itself 200/s, so the refusals show what a shared limit avoids.
- ``fleet.redis.4``: the same with ``tim_oa.limiters.RedisLimiter`` shared through one Redis:
  target 0 refusals and ≤ 1.10x the theoretical minimum (2,000 calls at 200/s: 10 s).
- ``redis.cpu`` / ``redis.latency``: a call's CPU (10 in flight) and wall time (1 in flight) with
  the Redis limiter against ``LocalLimiter``.

The Redis rows need ``tim_oa.limiters.RedisLimiter``, the ``redis`` package and a server: the URL
in ``TIM_OA_BENCH_REDIS_URL``, or a ``redis-server`` on ``PATH`` that the bench starts on a free
loopback port for the run. Workers inherit the client core's pinning.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from typing import Any

from . import _clients as C
from ._harness import Context, Measurement, Metrics, Outcome, Row, Series, paired_ratio
from ._rows_cpu import CALL_BODY, _cpu_measurement

WORKERS = 4
RATE = 200
LATENCY = 0.02


def _limiters() -> Any:
    try:
        return importlib.import_module("tim_oa.limiters")
    except ImportError:
        return None


def _redis_missing(ctx: Context) -> str | None:
    limiters = _limiters()
    if limiters is None or not hasattr(limiters, "RedisLimiter"):
        return "n/a: tim_oa.limiters.RedisLimiter not available"
    if not C.session_supports("limiter"):
        return "n/a: Session has no limiter= option"
    try:
        importlib.import_module("redis.asyncio")
    except ImportError:
        return "n/a: the redis package is not installed"
    if "redis_url" not in ctx.cache:
        ctx.cache["redis_url"] = os.environ.get("TIM_OA_BENCH_REDIS_URL") or _start_redis(ctx)
    if not ctx.cache["redis_url"]:
        return "n/a: no Redis (set TIM_OA_BENCH_REDIS_URL or put redis-server on PATH)"
    return None


def _start_redis(ctx: Context) -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        return ""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ctx.stack.callback(proc.wait, 10)
    ctx.stack.callback(proc.terminate)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    return ""


def _fleet(kind: str) -> Measurement:
    def run(ctx: Context) -> Metrics:
        total = ctx.size(200_000, 8_000)
        share = total // WORKERS
        calls = WORKERS * -(-share // 100)
        redis = (
            ["--redis-url", ctx.cache["redis_url"], "--prefix", f"bench-{uuid.uuid4().hex}"]
            if kind == "redis"
            else []
        )
        ctx.server.configure(latency=LATENCY, limit="token_bucket", rate=RATE)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench._fleet_worker",
                    ctx.server.base_url,
                    str(w * share),
                    str(share),
                    *redis,
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for w in range(WORKERS)
        ]
        try:
            for proc in procs:
                assert proc.stdout is not None
                line = proc.stdout.readline()
                if line.strip() != "ready":
                    raise RuntimeError(f"a fleet worker did not start (it printed {line!r})")
            start = time.perf_counter()
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.flush()
            reports = []
            for proc in procs:
                assert proc.stdout is not None
                reports.append(json.loads(proc.stdout.readline()))
            elapsed = time.perf_counter() - start
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait(10)
        stats = ctx.server.stats()
        minimum = calls / RATE
        return {
            "elapsed_s": elapsed,
            "minimum_s": minimum,
            "ratio": elapsed / minimum,
            "refused": float(stats["refused"]),
            "requests": float(stats["requests"]),
            "failed_ids": sum(r["failed_ids"] for r in reports),
            "ids": float(share * WORKERS),
        }

    requires = _redis_missing if kind == "redis" else (lambda ctx: None)
    return Measurement(f"fleet.{kind}", run, requires)


FLEET_LOCAL = _fleet("local")
FLEET_REDIS = _fleet("redis")


def _limited_session(kind: str) -> Any:
    def make(ctx: Context) -> Any:
        limiters = _limiters()
        if kind == "local":
            limiter = limiters.LocalLimiter(rate=C.UNLIMITED_RATE)
        else:
            aioredis = importlib.import_module("redis.asyncio")
            limiter = limiters.RedisLimiter(
                aioredis.Redis.from_url(ctx.cache["redis_url"]),
                rate=C.UNLIMITED_RATE,
                prefix=f"bench-{uuid.uuid4().hex}",
            )
        return C.session(ctx.server.base_url, limiter=limiter)

    return make


def _local_missing(ctx: Context) -> str | None:
    limiters = _limiters()
    if limiters is None or not hasattr(limiters, "LocalLimiter"):
        return "n/a: tim_oa.limiters.LocalLimiter not available"
    if not C.session_supports("limiter"):
        return "n/a: Session has no limiter= option"
    return _redis_missing(ctx)  # the rows compare against Redis; without it they are n/a anyway


def _call(oa: Any) -> Any:
    return oa.call("get_official_account_info", CALL_BODY)


LIMITER = {
    (kind, n): _cpu_measurement(
        f"lib.limiter_{kind}.{n}",
        _limited_session(kind),
        _call,
        n,
        calls=1000,
        requires=_local_missing if kind == "local" else _redis_missing,
    )
    for kind in ("local", "redis")
    for n in (1, 10)
}


def _fleet_summary(target: bool) -> Any:
    def summarize(medians: list[Series]) -> Outcome:
        m = medians[0]
        text = (
            f"{m['elapsed_s']:.1f} s vs {m['minimum_s']:.1f} s, {m['refused']:.0f} refused"
            + (f" (up to {m['refused@max']:.0f})" if m["refused@max"] != m["refused"] else "")
            + (f", {m['failed_ids']:.0f} ids failed" if m["failed_ids@max"] else "")
            + (
                f" (up to {m['failed_ids@max']:.0f})"
                if m["failed_ids@max"] != m["failed_ids"]
                else ""
            )
        )
        if not target:
            return Outcome(text, m["ratio"])
        ok = m["ratio"] <= 1.10 and m["refused@max"] == 0 and m["failed_ids@max"] == 0
        return Outcome(text, m["ratio"], ok)

    return summarize


def _overhead(metric: str, unit: str) -> Any:
    def summarize(medians: list[Series]) -> Outcome:
        redis, local = medians[0][metric], medians[1][metric]
        ratio = paired_ratio(medians[0], medians[1], metric)
        return Outcome(f"{redis:.0f} vs {local:.0f} {unit}", ratio)

    return summarize


def rows() -> list[Row]:
    """The fleet and Redis-limiter rows."""
    return [
        Row(
            "fleet.local.4",
            "4 workers, own limiters each: 200,000 ids, 20 ms, 200/s bucket",
            "(info)",
            [FLEET_LOCAL],
            _fleet_summary(False),
        ),
        Row(
            "fleet.redis.4",
            "4 workers, RedisLimiter: 200,000 ids, 20 ms, 200/s bucket",
            "≤ 1.10x of 10 s, 0 refused",
            [FLEET_REDIS],
            _fleet_summary(True),
        ),
        Row(
            "redis.cpu.10",
            "RedisLimiter vs LocalLimiter: CPU/call, 10 in flight",
            "(info)",
            [LIMITER["redis", 10], LIMITER["local", 10]],
            _overhead("cpu_us", "µs/call"),
        ),
        Row(
            "redis.latency.1",
            "RedisLimiter vs LocalLimiter: wall time/call, 1 in flight",
            "(info)",
            [LIMITER["redis", 1], LIMITER["local", 1]],
            _overhead("wall_us", "µs/call"),
        ),
    ]
