"""Memory of walking a long subscriber list, in a fresh interpreter (a clean high-water mark).

``python -m bench._pager_memory BASE_URL TOTAL`` walks ``async for sub in oa.subscribers(...)``
over the bench server's generated list of TOTAL subscribers, for the growth of the process's peak
RSS (which would show anything kept per item), then walks the first ``TRACED`` of them again under
tracemalloc, for the peak of Python allocations (tracemalloc makes the walk about five times
slower, so it does not cover the whole list). Both start after a first page, so imports, the
connection and the converter's generated code are not counted. It prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
import tracemalloc

from . import _clients as C

TRACED = 200_000


def _max_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


async def main(base_url: str, total: int) -> dict[str, float]:
    async with C.session(base_url, rate_limit=C.UNLIMITED_RATE) as oa:
        await oa.subscribers(C.ACCOUNT).collect(limit=1)

        async def walk(limit: int) -> int:
            count = 0
            async for _subscriber in oa.subscribers(C.ACCOUNT):
                count += 1
                if count == limit:
                    break
            return count

        rss0 = _max_rss()
        start = time.perf_counter()
        walked = await walk(total)
        elapsed = time.perf_counter() - start
        rss = _max_rss() - rss0
        tracemalloc.start()
        base, _ = tracemalloc.get_traced_memory()
        traced = await walk(min(total, TRACED))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    if walked != total:
        raise SystemExit(f"walked {walked} subscribers, expected {total}")
    return {
        "rss_delta_mb": rss / 1e6,
        "traced_peak_mb": (peak - base) / 1e6,
        "walk_s": elapsed,
        "subscribers": float(total),
        "traced_subscribers": float(traced),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], int(sys.argv[2])))))
