"""Many threads, one SyncSession: one limiter and one in-flight bound for all of them."""

from __future__ import annotations

import threading
import time

import anyio
import httpx

import tim_oa
from tim_oa.testing import Emulator

THREADS = 8
CALLS_PER_THREAD = 5
RATE = 20.0


class CountingTransport(httpx.AsyncBaseTransport):
    """The emulator's transport, holding each request a while and counting those in flight."""

    def __init__(self, inner: httpx.AsyncBaseTransport, hold: float) -> None:
        self.inner = inner
        self.hold = hold
        self.now = 0
        self.most = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            await anyio.sleep(self.hold)
            return await self.inner.handle_async_request(request)
        finally:
            self.now -= 1


def busiest_second(times: list[float]) -> int:
    """The most requests that arrived within any one second."""
    times = sorted(times)
    most = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_threads_share_one_rate_limit_and_one_in_flight_bound() -> None:
    emulator = Emulator(rate_limit=None)
    transport = CountingTransport(emulator.transport(), hold=0.2)
    oa = emulator.sync_session(transport=transport, rate_limit=RATE, max_concurrency=3)
    with emulator.sync_session() as setup:
        account_id = setup.create_account("107867", "News")
    errors: list[BaseException] = []
    threads_seen: set[str] = set()

    def worker() -> None:
        for _ in range(CALLS_PER_THREAD):
            try:
                (found,) = oa.get_accounts([account_id])
                assert found.ok
                threads_seen.add(threading.current_thread().name)
            except BaseException as exc:  # reported below
                errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, name=f"caller-{i}") for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    elapsed = time.monotonic() - started
    oa.close()

    assert not errors, errors
    assert len(threads_seen) == THREADS
    calls = THREADS * CALLS_PER_THREAD
    arrivals = [r.time for r in emulator.requests if r.command == "get_official_account_info"]
    assert len(arrivals) == calls
    # One limiter for every thread: never more than the rate within a second (one request of
    # slack for the gap between a grant and the arrival), so the calls took at least this long.
    assert busiest_second(arrivals) <= RATE + 1
    assert elapsed >= (calls - RATE) / RATE
    # One in-flight bound for every thread: requests held 0.2 s and granted every 0.05 s would
    # overlap four at a time without it.
    assert 2 <= transport.most <= 3


def test_many_threads_on_the_default_options() -> None:
    emulator = Emulator()
    with emulator.sync_session() as oa:
        account_id = oa.create_account("107867", "News")
        results: list[tim_oa.BatchResult] = []

        def worker(n: int) -> None:
            results.append(oa.add_subscribers(account_id, [f"t{n}-u{i}" for i in range(150)]))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(results) == 20 and all(r.ok for r in results)
        assert emulator.account(account_id).subscriber_num == 20 * 150
