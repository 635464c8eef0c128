"""Rows: the subscriber pager's CPU per 200-item page, and its memory over a million subscribers."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

from . import _clients as C
from ._harness import Context, Measurement, Metrics, Outcome, Row, Series, paired_ratio

PAGE = 200


def _pages(ctx: Context) -> int:
    return ctx.size(150, 20)


async def _walk_lib(base_url: str) -> tuple[float, int]:
    count = 0
    async with C.session(base_url, rate_limit=C.UNLIMITED_RATE) as oa:
        await oa.subscribers(C.ACCOUNT).collect(limit=1)  # warm: connection, converter hooks
        cpu0 = time.process_time()
        async for _subscriber in oa.subscribers(C.ACCOUNT):
            count += 1
        cpu = time.process_time() - cpu0
    return cpu, count


async def _walk_bare(base_url: str) -> tuple[float, int]:
    client = C.BareHttpx(base_url)
    try:
        body = {"Official_Account": C.ACCOUNT, "Limit": PAGE, "Next": ""}
        await client.call("get_subscriber_info", body)  # warm: the connection
        count, cursor = 0, ""
        cpu0 = time.process_time()
        while True:
            data = await client.call(
                "get_subscriber_info",
                {"Official_Account": C.ACCOUNT, "Limit": PAGE, "Next": cursor},
            )
            for _item in data["SubscriberList"]:
                count += 1
            cursor = data["Next"]
            if not cursor:
                break
        cpu = time.process_time() - cpu0
    finally:
        await client.aclose()
    return cpu, count


def _pager(key: str, walk: Any) -> Measurement:
    def run(ctx: Context) -> Metrics:
        pages = _pages(ctx)
        ctx.server.configure(subscribers=pages * PAGE)
        cpu, count = asyncio.run(walk(ctx.server.base_url))
        if count != pages * PAGE:
            raise RuntimeError(f"walked {count} subscribers, expected {pages * PAGE}")
        return {"cpu_us": cpu / pages * 1e6}

    return Measurement(key, run)


LIB_PAGER = _pager("lib.pager", _walk_lib)
BARE_PAGER = _pager("httpx.pager", _walk_bare)


def _memory(ctx: Context) -> Metrics:
    total = ctx.size(1_000_000, 100_000)
    ctx.server.configure(subscribers=total)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(
        [sys.executable, "-m", "bench._pager_memory", ctx.server.base_url, str(total)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pager memory run failed: {done.stderr.strip()[-500:]}")
    metrics: Metrics = json.loads(done.stdout.strip().splitlines()[-1])
    return metrics


PAGER_MEMORY = Measurement("lib.pager_memory", _memory, max_samples=1)


def _cpu(medians: list[Series]) -> Outcome:
    lib, bare = medians
    ratio = paired_ratio(lib, bare, "cpu_us")
    return Outcome(f"{lib['cpu_us']:.0f} vs {bare['cpu_us']:.0f} µs/page", ratio, ratio <= 1.15)


def _mem(medians: list[Series]) -> Outcome:
    m = medians[0]
    worst = max(m["traced_peak_mb"], m["rss_delta_mb"])
    return Outcome(
        f"+{m['rss_delta_mb']:.1f} MB peak RSS over {m['subscribers']:,.0f}, "
        f"{m['traced_peak_mb']:.1f} MB traced peak over {m['traced_subscribers']:,.0f}",
        None,
        worst < 20,
    )


def rows() -> list[Row]:
    """The pager rows."""
    return [
        Row(
            "pager.cpu",
            "pager CPU per 200-item page vs bare httpx + json",
            "≤ 1.15x",
            [LIB_PAGER, BARE_PAGER],
            _cpu,
        ),
        Row(
            "pager.memory",
            "pager memory over 1,000,000 subscribers",
            "< 20 MB",
            [PAGER_MEMORY],
            _mem,
        ),
    ]
