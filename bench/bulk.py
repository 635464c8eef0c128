"""Bulk subscribe throughput: chunked concurrency against sequential.

Two settings, each comparing ``concurrency=1`` with the default 10 in the same run:

- **30 ms simulated latency** (in-process emulator with ``Faults(latency=0.03)``), like a real
  round trip to Tencent: concurrency is what makes a bulk job fast, up to the 200 calls/s limit.
- **loopback, no added latency** (emulator in another process): both processes are CPU-bound on
  this 2-core machine, so this measures the client's own cost per id.

Each round adds fresh ids to a fresh account, so every id really is added (Result 1).
"""

from __future__ import annotations

import statistics
import time

import anyio

import tim_oa
from tim_oa.testing import Emulator, Faults

from ._server import SDKAPPID, SECRET_KEY, emulator_process

CONCURRENCY = (1, 10)
LATENCY = 0.03


async def _add(oa: tim_oa.Session, ids: list[str], concurrency: int) -> float:
    account_id = await oa.create_account("owner", "Bench", max_subscribers=10_000_000)
    start = time.perf_counter()
    report = await oa.add_subscribers(account_id, ids, concurrency=concurrency)
    elapsed = time.perf_counter() - start
    assert report.ok and len(report.succeeded) == len(ids), report
    return len(ids) / elapsed


async def _loopback(base_url: str, ids: list[str], concurrency: int) -> float:
    signer = tim_oa.UserSigSigner(SDKAPPID, SECRET_KEY)
    async with tim_oa.Session(SDKAPPID, "administrator", signer, base_url=base_url) as oa:
        return await _add(oa, ids, concurrency)


async def _with_latency(ids: list[str], concurrency: int) -> float:
    emulator = Emulator(request_log_size=0, faults=Faults(latency=LATENCY))
    async with emulator.session() as oa:  # the session's default 200 calls/s limiter applies
        return await _add(oa, ids, concurrency)


def _report(name: str, samples: dict[int, list[float]]) -> dict[str, object]:
    med = {c: statistics.median(v) for c, v in samples.items()}
    ratio = med[CONCURRENCY[1]] / med[CONCURRENCY[0]]
    print(
        f"  {name:22s}: concurrency=1 {med[1]:8.0f} ids/s   concurrency=10 {med[10]:8.0f} ids/s"
        f"   ratio {ratio:5.2f}x"
    )
    return {"ids_per_second": med, "ratio_10_vs_1": ratio}


def run(*, quick: bool = False) -> dict[str, object]:
    """Measure and print ids/s medians and the concurrent/sequential ratio."""
    rounds = 3 if quick else 5
    slow_ids = [f"user{i}" for i in range(2_000 if quick else 5_000)]
    fast_ids = [f"user{i}" for i in range(5_000 if quick else 20_000)]
    slow: dict[int, list[float]] = {c: [] for c in CONCURRENCY}
    fast: dict[int, list[float]] = {c: [] for c in CONCURRENCY}
    with emulator_process() as base_url:
        for _ in range(rounds):
            for c in CONCURRENCY:  # interleaved, so drift in machine load hits both alike
                slow[c].append(anyio.run(_with_latency, slow_ids, c))
                fast[c].append(anyio.run(_loopback, base_url, fast_ids, c))
    print(f"\nadd_subscribers throughput (median of {rounds} rounds)")
    return {
        "latency_30ms": _report(f"{len(slow_ids)} ids, 30 ms latency", slow),
        "loopback": _report(f"{len(fast_ids)} ids, loopback", fast),
    }
