"""Rows: the cost of a call through ``tim_oa.SyncSession`` (issue 19).

- ``sync.cpu.1``: this process's CPU per call (every thread counted: the caller's and the session's
  loop thread) of ``SyncSession.call`` from one thread, against the bare ``httpx.Client`` loop a
  sync user would write (the same signed URL and body, ``json.loads``, the ``ErrorCode`` check);
  target ≤ 1.3x.
- ``sync.cpu.aiohttp.1``: the same with ``SyncSession(..., backend="aiohttp")``: the async httpx
  stack costs more per request than the sync one (``sync.session.1`` shows the bridge is not where
  the difference lies), aiohttp much less.
- ``sync.session.1``: the same SyncSession call against ``Session.call`` awaited on one loop
  (the bridge's own cost: one hand-off to the loop thread and one back).
- ``sync.threads.10``: throughput of 10 threads sharing one SyncSession against 10 tasks sharing
  one Session (the ratio is threads ÷ tasks; target: the same, ≥ 0.9x given the noise).

The sessions get ``rate_limit=1_000_000`` as in the CPU rows: the limiter runs but never waits.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

import tim_oa

from . import _clients as C
from ._harness import Context, Measurement, Metrics, Outcome, Row, Series, paired_ratio
from ._rows_cpu import CALL_BODY, LIB_CALL, _aiohttp_backend_missing, _calls

COMMAND = "get_official_account_info"


class BareSyncHttpx:
    """``httpx.Client`` used directly: what a sync user writes without tim_oa."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client()
        self.prefix = base_url + C.SERVICE_PATH
        self.query = (
            f"?sdkappid={C.SDKAPPID}&identifier={quote(C.IDENTIFIER, safe='')}"
            f"&usersig={quote(C.USERSIG, safe='')}&contenttype=json&random="
        )

    def call(self, command: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.prefix}{command}{self.query}{random.getrandbits(32)}"
        response = self.client.post(url, json=body)
        data: dict[str, Any] = json.loads(response.content)
        if response.status_code != 200 or data.get("ErrorCode"):
            raise RuntimeError(f"{command}: HTTP {response.status_code} {data.get('ErrorInfo')}")
        return data

    def close(self) -> None:
        self.client.close()


def _drive_threads(call: Callable[[], Any], calls: int, threads: int) -> Metrics:
    """``calls`` calls from ``threads`` threads (the caller's own when 1); CPU and wall per call."""
    per_thread = max(1, calls // threads)
    warm = max(2, min(per_thread // 5, 20))

    def caller(count: int) -> None:
        for _ in range(count):
            call()

    def run_all(count: int) -> None:
        if threads == 1:
            caller(count)
            return
        workers = [threading.Thread(target=caller, args=(count,)) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    run_all(warm)
    total = per_thread * threads
    cpu0, wall0 = time.process_time(), time.perf_counter()
    run_all(per_thread)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"cpu_us": cpu / total * 1e6, "wall_us": wall / total * 1e6, "calls": float(total)}


def _measure(ctx: Context, make: Callable[[Context], Any], threads: int) -> Metrics:
    ctx.server.configure()
    client = make(ctx)
    try:
        client.call(COMMAND, CALL_BODY)
        before = ctx.server.stats()
        metrics = _drive_threads(lambda: client.call(COMMAND, CALL_BODY), _calls(ctx), threads)
        after = ctx.server.stats()
    finally:
        client.close()
    served = after["requests"] - before["requests"]
    metrics["server_us"] = (after["cpu"] - before["cpu"]) / max(1, served) * 1e6
    return metrics


def _sync_session(ctx: Context, **options: Any) -> tim_oa.SyncSession:
    return tim_oa.SyncSession(
        C.SDKAPPID,
        C.IDENTIFIER,
        C.SIGNER,
        base_url=ctx.server.base_url,
        rate_limit=C.UNLIMITED_RATE,
        **options,
    )


SYNC_1 = Measurement("sync.call.1", lambda ctx: _measure(ctx, _sync_session, 1))
SYNC_AIOHTTP_1 = Measurement(
    "sync_aiohttp.call.1",
    lambda ctx: _measure(ctx, lambda c: _sync_session(c, backend="aiohttp"), 1),
    _aiohttp_backend_missing,
)
SYNC_10 = Measurement("sync.call.10threads", lambda ctx: _measure(ctx, _sync_session, 10))
BARE_SYNC_1 = Measurement(
    "httpx_sync.get_info.1",
    lambda ctx: _measure(ctx, lambda c: BareSyncHttpx(c.server.base_url), 1),
)


def _cpu(limit: float | None) -> Callable[[list[Series]], Outcome]:
    def summarize(medians: list[Series]) -> Outcome:
        sync, base = medians[0], medians[1]
        ratio = paired_ratio(sync, base, "cpu_us")
        return Outcome(
            f"{sync['cpu_us']:.0f} vs {base['cpu_us']:.0f} µs/call",
            ratio,
            None if limit is None else ratio <= limit,
        )

    return summarize


def _throughput(medians: list[Series]) -> Outcome:
    threads, tasks = medians[0], medians[1]
    ratio = paired_ratio(tasks, threads, "wall_us")  # calls/s of threads ÷ calls/s of tasks
    return Outcome(
        f"{1e6 / threads['wall_us']:,.0f} vs {1e6 / tasks['wall_us']:,.0f} calls/s",
        ratio,
        ratio >= 0.9,
    )


def rows() -> list[Row]:
    """The SyncSession rows, in table order."""
    return [
        Row(
            "sync.cpu.1",
            "SyncSession.call() CPU/call vs bare httpx.Client, 1 thread",
            "≤ 1.30x",
            [SYNC_1, BARE_SYNC_1],
            _cpu(1.30),
        ),
        Row(
            "sync.cpu.aiohttp.1",
            'SyncSession(backend="aiohttp").call() CPU/call vs bare httpx.Client, 1 thread',
            "≤ 1.30x",
            [SYNC_AIOHTTP_1, BARE_SYNC_1],
            _cpu(1.30),
        ),
        Row(
            "sync.session.1",
            "SyncSession.call() CPU/call vs Session.call() on one loop, 1 caller",
            "(info)",
            [SYNC_1, LIB_CALL[1]],
            _cpu(None),
        ),
        Row(
            "sync.threads.10",
            "10 threads on one SyncSession vs 10 tasks on one Session: calls/s",
            "≥ 0.90x",
            [SYNC_10, LIB_CALL[10]],
            _throughput,
        ),
    ]
