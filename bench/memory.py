"""Memory per id of a bulk job: what ``add_subscribers`` holds for a job of many ids.

The API is replaced by an in-memory ``httpx.MockTransport`` that answers Result 1, so only the
client's own allocations are traced (tracemalloc), for two job sizes: per-id cost should not grow
with the job.
"""

from __future__ import annotations

import json
import tracemalloc

import anyio
import httpx

import tim_oa


def _answer(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    items = [
        {"Subscriber_Account": s["Subscriber_Account"], "Result": 1} for s in body["SubscriberList"]
    ]
    return httpx.Response(200, json={"ActionStatus": "OK", "ErrorCode": 0, "SubscriberList": items})


async def _bytes_per_id(count: int) -> tuple[float, float]:
    ids = [f"user{i:08d}" for i in range(count)]  # allocated before tracing: the caller's input
    transport = httpx.MockTransport(_answer)
    async with tim_oa.Session(
        1, "admin", "sig", base_url="http://bench", transport=transport, rate_limit=None
    ) as oa:
        tracemalloc.start()
        report = await oa.add_subscribers("@TOA#_bench", ids)
        retained, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert len(report.succeeded) == count
    return peak / count, retained / count


def run(*, quick: bool = False) -> dict[str, object]:
    """Measure and print bytes per id (peak during the job, and retained in the result)."""
    sizes = (50_000, 200_000) if quick else (100_000, 500_000)
    result: dict[str, object] = {}
    print("\nadd_subscribers memory per id (client side, tracemalloc)")
    for size in sizes:
        peak, retained = anyio.run(_bytes_per_id, size)
        print(
            f"  {size:7,d} ids: peak {peak:4.0f} B/id, kept in the BatchResult {retained:4.0f} B/id"
        )
        result[str(size)] = {"peak_bytes_per_id": peak, "retained_bytes_per_id": retained}
    return result
