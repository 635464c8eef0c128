"""Rows: a 100,000-id add against a rate-limited server at a given round trip; memory per id.

The throughput rows run ``add_subscribers`` with the session's defaults (its limiter, its adaptive
concurrency; only ``rate_limit`` is set, to the tier's rate) against the bench server answering
after ``latency`` seconds and enforcing the same rate with a token bucket or a strict sliding
window. The floor is ``calls / rate`` plus one round trip: the calls cannot leave faster than the
rate, and the last answer still takes its round trip (1,000 calls at 200/s and 50 ms: 5.05 s).
(Until issue 22 the floor left out the round trip: 5 s at every latency.) A 200/s row passes at
≤ 1.05x its floor, a paid-tier row (1,000 and 2,000/s) at ≤ 1.10x with a client CPU per call no
higher than at 200/s; every row needs no refusal in any round and no failed id.
"""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import httpx

from . import _clients as C
from ._harness import Context, Measurement, Metrics, Outcome, Row, Series

RATE = 200
LATENCIES_MS = (50, 100, 300, 1000)
TIERS = (1000, 2000)
"""The paid rate tiers, measured at 50 ms."""
TIER_LATENCY_MS = 50
MODELS = ("token_bucket", "sliding_window")
MODEL_NAMES = {"token_bucket": "token bucket", "sliding_window": "strict sliding window"}


def _ids(ctx: Context) -> list[str]:
    return [f"user{i:07d}" for i in range(ctx.size(100_000, 5_000))]


def _throughput(
    latency_ms: int, model: str, rate: int = RATE, backend: str = "httpx"
) -> Measurement:
    def run(ctx: Context) -> Metrics:
        ids = _ids(ctx)
        calls = -(-len(ids) // 100)
        ctx.server.configure(latency=latency_ms / 1000, limit=model, rate=rate)
        options: dict[str, Any] = {} if rate == RATE else {"rate_limit": rate}
        if backend != "httpx":
            options["backend"] = backend

        async def main() -> tuple[float, float, Any]:
            async with C.session(ctx.server.base_url, **options) as oa:
                cpu0, start = time.process_time(), time.perf_counter()
                result = await oa.add_subscribers(C.ACCOUNT, ids)
                return time.perf_counter() - start, time.process_time() - cpu0, result

        elapsed, cpu, result = asyncio.run(main())
        stats = ctx.server.stats()
        minimum = calls / rate + latency_ms / 1000
        return {
            "elapsed_s": elapsed,
            "minimum_s": minimum,
            "ratio": elapsed / minimum,
            "refused": float(stats["refused"]),
            "requests": float(stats["requests"]),
            "failed_ids": float(len(result.failed)),
            "server_max_in_flight": float(stats["max_in_flight"]),
            "client_cpu_s": cpu,
            "cpu_us_per_call": cpu / calls * 1e6,
        }

    key = f"lib.bulk.{latency_ms}ms.{model}" + ("" if rate == RATE else f".{rate}rps")
    key += "" if backend == "httpx" else f".{backend}"
    return Measurement(key, run, primary="ratio", requires=_backend_missing(backend))


def _backend_missing(backend: str) -> Callable[[Context], str | None]:
    def requires(ctx: Context) -> str | None:
        if backend == "httpx":
            return None
        try:
            import aiohttp  # noqa: F401
        except ImportError:
            return "n/a: aiohttp is not installed"
        return None

    return requires


def _throughput_summary(limit: float) -> Callable[[list[Series]], Outcome]:
    """Elapsed over the floor, refusals, in flight, CPU per call; a second series (the same
    model at 200/s and 50 ms) makes the CPU per call a target too."""

    def summarize(medians: list[Series]) -> Outcome:
        m = medians[0]
        refused, worst = m["refused"], m["refused@max"]
        failed = m["failed_ids@max"]
        cpu = m["cpu_us_per_call"]
        text = (
            f"{m['elapsed_s']:.2f} s vs {m['minimum_s']:.2f} s, {refused:.0f} refused"
            + (f" (up to {worst:.0f})" if worst != refused else "")
            + f", ≤{m['server_max_in_flight@max']:.0f} in flight, {cpu:.0f} µs CPU/call"
            + (f", up to {failed:.0f} ids failed" if failed else "")
        )
        ok = m["ratio"] <= limit and worst == 0 and failed == 0
        if len(medians) > 1:
            base = medians[1]["cpu_us_per_call"]
            text += f" (200/s: {base:.0f})"
            ok = ok and cpu <= base * 1.2  # the same within noise (~20 % on this machine)
        return Outcome(text, m["ratio"], ok)

    return summarize


def _info(summarize: Callable[[list[Series]], Outcome]) -> Callable[[list[Series]], Outcome]:
    def info(medians: list[Series]) -> Outcome:
        outcome = summarize(medians)
        return Outcome(outcome.measured, outcome.ratio, None, outcome.note)

    return info


THROUGHPUT = {(lat, model): _throughput(lat, model) for lat in LATENCIES_MS for model in MODELS}
TIER_THROUGHPUT = {
    (rate, model): _throughput(TIER_LATENCY_MS, model, rate) for rate in TIERS for model in MODELS
}
TIER_AIOHTTP = {
    rate: _throughput(TIER_LATENCY_MS, "sliding_window", rate, "aiohttp") for rate in TIERS
}


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
            f"≤ 1.05x of {1000 / RATE + lat / 1000:.2f} s, 0 refused",
            [THROUGHPUT[lat, model]],
            _throughput_summary(1.05),
        )
        for lat in LATENCIES_MS
        for model in MODELS
    ]
    out += [
        Row(
            f"bulk.{rate}rps.{TIER_LATENCY_MS}ms.{model.split('_')[0]}",
            f"100,000-id add, rate_limit={rate}, {TIER_LATENCY_MS} ms RTT, server "
            f"{MODEL_NAMES[model]} {rate}/s",
            f"≤ 1.10x of {1000 / rate + TIER_LATENCY_MS / 1000:.2f} s, 0 refused, CPU/call ≤ 200/s",
            [TIER_THROUGHPUT[rate, model], THROUGHPUT[TIER_LATENCY_MS, model]],
            _throughput_summary(1.10),
        )
        for rate in TIERS
        for model in MODELS
    ]
    out += [
        Row(
            f"bulk.{rate}rps.{TIER_LATENCY_MS}ms.sliding.aiohttp",
            f'the same with backend="aiohttp", server strict sliding window {rate}/s',
            "(info)",
            [TIER_AIOHTTP[rate], THROUGHPUT[TIER_LATENCY_MS, "sliding_window"]],
            _info(_throughput_summary(1.10)),
        )
        for rate in TIERS
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
