"""Client CPU per request by connection-pool size (the session's ``max_concurrency``).

Against the emulator in another process over loopback, each variant keeps ``max_concurrency``
requests in flight and we measure this process's CPU time per request. The default (10) is compared
with larger pools; the README's advice to keep the pool small rests on this ratio.
"""

from __future__ import annotations

import statistics
import time

import anyio

import tim_oa

from ._server import SDKAPPID, SECRET_KEY, emulator_process

SIZES = (10, 40)


async def _cpu_per_request(base_url: str, account_id: str, size: int, requests: int) -> float:
    signer = tim_oa.UserSigSigner(SDKAPPID, SECRET_KEY)
    async with tim_oa.Session(
        SDKAPPID,
        "administrator",
        signer,
        base_url=base_url,
        rate_limit=None,
        max_concurrency=size,
    ) as oa:
        await oa.get_accounts([account_id])  # warm the connection
        per_task = requests // size

        async def worker() -> None:
            for _ in range(per_task):
                await oa.get_accounts([account_id])

        start = time.process_time()
        async with anyio.create_task_group() as tg:
            for _ in range(size):
                tg.start_soon(worker)
        return (time.process_time() - start) / (per_task * size)


def run(*, quick: bool = False) -> dict[str, object]:
    """Measure and print; return the medians (µs of client CPU per request) and ratios."""
    rounds, requests = (3, 800) if quick else (7, 4000)
    samples: dict[int, list[float]] = {s: [] for s in SIZES}
    with emulator_process() as base_url:

        async def setup() -> str:
            signer = tim_oa.UserSigSigner(SDKAPPID, SECRET_KEY)
            async with tim_oa.Session(SDKAPPID, "administrator", signer, base_url=base_url) as oa:
                return await oa.create_account("owner", "Bench")

        account_id = anyio.run(setup)
        for _ in range(rounds):
            for size in SIZES:  # interleaved, so drift in machine load hits both alike
                samples[size].append(
                    anyio.run(_cpu_per_request, base_url, account_id, size, requests)
                )
    medians = {s: statistics.median(v) * 1e6 for s, v in samples.items()}
    base = medians[SIZES[0]]
    print("client CPU per request by pool size (median of", rounds, "rounds)")
    for size, value in medians.items():
        print(f"  max_concurrency={size:3d}: {value:7.0f} µs  ratio {value / base:4.2f}x")
    return {"cpu_us_per_request": medians, "ratio_vs_10": {s: v / base for s, v in medians.items()}}
