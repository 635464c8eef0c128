"""The client-side limiters, on a virtual clock (trio's MockClock) so no test sleeps for real."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable

import anyio
import httpx
import pytest
import trio
import trio.testing

import tim_oa
from tim_oa._ratelimit import KeyedRateLimiter, RateLimiter

from .conftest import BASE_URL, ok


def on_virtual_clock(func: Callable[[], Awaitable[object]]) -> object:
    return trio.run(func, clock=trio.testing.MockClock(autojump_threshold=0))


def test_limiter_spaces_calls_at_the_rate() -> None:
    async def main() -> list[float]:
        limiter = RateLimiter(100.0)
        stamps: list[float] = []

        async def caller() -> None:
            for _ in range(10):
                await limiter.acquire()
                stamps.append(anyio.current_time())

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(caller)
        return sorted(stamps)

    stamps = on_virtual_clock(main)
    assert isinstance(stamps, list)
    assert len(stamps) == 50
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) == pytest.approx(0.01, abs=1e-9)
    # 50 calls at 100/s take 0.49 s of (virtual) time: never more than the rate in any second.
    assert stamps[-1] - stamps[0] == pytest.approx(0.49, abs=1e-6)


def test_keyed_limiter_is_per_key() -> None:
    async def main() -> dict[str, list[float]]:
        pacer = KeyedRateLimiter(1.0)
        stamps: dict[str, list[float]] = {"a": [], "b": []}
        for _ in range(3):
            for key in ("a", "b"):
                await pacer.acquire(key)
                stamps[key].append(anyio.current_time())
        return stamps

    stamps = on_virtual_clock(main)
    assert isinstance(stamps, dict)
    start = stamps["a"][0]
    assert [round(t - start, 6) for t in stamps["a"]] == [0.0, 1.0, 2.0]
    assert [round(t - start, 6) for t in stamps["b"]] == [0.0, 1.0, 2.0]


def test_session_rate_limit_is_per_command_and_shared_by_tasks() -> None:
    async def main() -> dict[str, list[float]]:
        stamps: dict[str, list[float]] = {}

        def handler(request: httpx.Request) -> httpx.Response:
            command = request.url.path.rsplit("/", 1)[1]
            stamps.setdefault(command, []).append(anyio.current_time())
            return ok(OfficialAccountInfoList=[], SubscriberList=[], Next="")

        oa = tim_oa.Session(
            sdkappid=1,
            identifier="a",
            usersig="s",
            base_url=BASE_URL,
            transport=httpx.MockTransport(handler),
            rate_limit=20.0,
        )
        async with oa, anyio.create_task_group() as tg:
            for i in range(10):
                tg.start_soon(oa.destroy_account, f"@TOA#_{i}")
                tg.start_soon(oa.modify_subscriber, "@TOA#_a", f"u{i}", "x")
        return stamps

    stamps = on_virtual_clock(main)
    assert isinstance(stamps, dict)
    for command in ("destroy_official_account", "modify_subscriber_info"):
        times = stamps[command]
        assert len(times) == 10
        # Each command is spaced at 1/20 s on its own; the two commands don't queue on each other.
        assert times[-1] - times[0] == pytest.approx(9 / 20, abs=1e-6)


def test_rate_limit_none_disables() -> None:
    async def main() -> float:
        oa = tim_oa.Session(
            sdkappid=1,
            identifier="a",
            usersig="s",
            base_url=BASE_URL,
            transport=httpx.MockTransport(lambda r: ok()),
            rate_limit=None,
        )
        start = anyio.current_time()
        async with oa:
            for i in range(50):
                await oa.destroy_account(f"@TOA#_{i}")
        return anyio.current_time() - start

    assert on_virtual_clock(main) == 0.0
