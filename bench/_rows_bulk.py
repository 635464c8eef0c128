"""Rows: a 100,000-id add against a rate-limited server at a given round trip; memory per id.

The throughput rows run ``add_subscribers`` with the session's defaults (its 200 calls/s limiter,
its default concurrency) against the bench server answering after ``latency`` seconds and
enforcing 200 calls/s with a token bucket or a strict sliding window. The theoretical minimum is
``calls / 200`` seconds (1,000 calls: 5 s); the row passes at ≤ 1.05x that with no refusal (in
any round) and no failed id.
"""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
from typing import Any

import httpx

from . import _clients as C
from ._harness import Context, Measurement, Metrics, Outcome, Row, Series

RATE = 200
LATENCIES_MS = (50, 100, 300)
MODELS = ("token_bucket", "sliding_window")
MODEL_NAMES = {"token_bucket": "token bucket", "sliding_window": "strict sliding window"}


def _ids(ctx: Context) -> list[str]:
    return [f"user{i:07d}" for i in range(ctx.size(100_000, 5_000))]


def _throughput(latency_ms: int, model: str) -> Measurement:
    def run(ctx: Context) -> Metrics:
        ids = _ids(ctx)
        calls = -(-len(ids) // 100)
        ctx.server.configure(latency=latency_ms / 1000, limit=model, rate=RATE)

        async def main() -> tuple[float, float, Any]:
            async with C.session(ctx.server.base_url) as oa:
                cpu0, start = time.process_time(), time.perf_counter()
                result = await oa.add_subscribers(C.ACCOUNT, ids)
                return time.perf_counter() - start, time.process_time() - cpu0, result

        elapsed, cpu, result = asyncio.run(main())
        stats = ctx.server.stats()
        minimum = calls / RATE
        return {
            "elapsed_s": elapsed,
            "minimum_s": minimum,
            "ratio": elapsed / minimum,
            "refused": float(stats["refused"]),
            "requests": float(stats["requests"]),
            "failed_ids": float(len(result.failed)),
            "server_max_in_flight": float(stats["max_in_flight"]),
            "client_cpu_s": cpu,
        }

    return Measurement(f"lib.bulk.{latency_ms}ms.{model}", run)


def _throughput_summary(medians: list[Series]) -> Outcome:
    m = medians[0]
    refused, worst = m["refused"], m["refused@max"]
    failed = m["failed_ids@max"]
    text = (
        f"{m['elapsed_s']:.2f} s vs {m['minimum_s']:.2f} s, {refused:.0f} refused"
        + (f" (up to {worst:.0f})" if worst != refused else "")
        + f", ≤{m['server_max_in_flight@max']:.0f} in flight"
        + (f", up to {failed:.0f} ids failed" if failed else "")
    )
    ok = m["ratio"] <= 1.05 and worst == 0 and failed == 0
    return Outcome(text, m["ratio"], ok)


THROUGHPUT = {(lat, model): _throughput(lat, model) for lat in LATENCIES_MS for model in MODELS}


def _answer(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    items = [
        {"Subscriber_Account": s["Subscriber_Account"], "Result": 1} for s in body["SubscriberList"]
    ]
    return httpx.Response(200, json={"ActionStatus": "OK", "ErrorCode": 0, "SubscriberList": items})


def _memory(ctx: Context) -> Metrics:
    """tracemalloc over one add_subscribers job answered in memory (only the client allocates)."""
    count = ctx.size(100_000, 20_000)
    ids = [f"user{i:08d}" for i in range(count)]  # allocated before tracing: the caller's input

    async def main() -> tuple[float, float]:
        async with C.session(
            "http://bench.invalid", transport=httpx.MockTransport(_answer), rate_limit=None
        ) as oa:
            tracemalloc.start()
            result = await oa.add_subscribers(C.ACCOUNT, ids)
            retained, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        if len(result.succeeded) != count:
            raise RuntimeError(f"{len(result.succeeded)} of {count} ids succeeded")
        return peak / count, retained / count

    peak, retained = asyncio.run(main())
    return {"peak_b_per_id": peak, "retained_b_per_id": retained, "ids": float(count)}


BULK_MEMORY = Measurement("lib.bulk_memory", _memory, max_samples=1)


def _memory_summary(medians: list[Series]) -> Outcome:
    m = medians[0]
    return Outcome(
        f"{m['peak_b_per_id']:.0f} B/id peak, {m['retained_b_per_id']:.0f} B/id kept "
        f"({m['ids']:,.0f} ids)",
        None,
        m["peak_b_per_id"] <= 100,
    )


def rows() -> list[Row]:
    """The bulk rows."""
    out = [
        Row(
            f"bulk.{lat}ms.{model.split('_')[0]}",
            f"100,000-id add, {lat} ms RTT, server {MODEL_NAMES[model]} 200/s",
            "≤ 1.05x of 5 s, 0 refused",
            [THROUGHPUT[lat, model]],
            _throughput_summary,
        )
        for lat in LATENCIES_MS
        for model in MODELS
    ]
    out.append(
        Row(
            "bulk.memory",
            "bulk memory per id (add_subscribers, tracemalloc peak)",
            "≤ 100 B/id",
            [BULK_MEMORY],
            _memory_summary,
        )
    )
    return out
