"""Cancellation storms and slow UserSig providers (issue 8, items 1 and 7).

A cancelled call must leave nothing behind that slows or blocks the next one: no rate-limit or
pacing reservation, no concurrency slot, no connection, no task, no "Task was destroyed" or
unraisable warning. A sync UserSig provider that blocks must neither outlive the timeout nor
hold a concurrency slot, and cancelling a call stuck in it must return at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import random
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest

import tim_oa

from .hostile import HostileServer
from .support import (
    ACCOUNT,
    assert_usable,
    check_public,
    count,
    failure_of,
    make_session,
    mock_session,
    result_of,
)

SLACK = 0.25  # seconds of scheduling noise allowed on top of one interval


def open_fds() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:  # not Linux: the server's connection count still applies
        return None


@contextlib.contextmanager
def no_stray_warnings() -> Iterator[list[Any]]:
    """Collect unraisable exceptions and asyncio exception-handler reports (e.g. "Task was
    destroyed but it is pending!") during the block, after a final garbage collection."""
    seen: list[Any] = []
    previous_hook = sys.unraisablehook
    loop = asyncio.get_running_loop()
    previous_handler = loop.get_exception_handler()
    sys.unraisablehook = lambda info: seen.append(("unraisable", info.exc_value, info.object))
    loop.set_exception_handler(lambda _loop, context: seen.append(("asyncio", context)))
    try:
        yield seen
        gc.collect()
    finally:
        sys.unraisablehook = previous_hook
        loop.set_exception_handler(previous_handler)


async def wait_until(predicate: Callable[[], bool], limit: float = 2.0) -> bool:
    """Poll ``predicate`` for up to ``limit`` seconds."""
    for _ in range(int(limit / 0.01)):
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


async def settle_tasks(baseline: int, limit: float = 2.0) -> int:
    """Wait (briefly) for tasks to finish; return how many remain above ``baseline``."""
    await wait_until(lambda: len(asyncio.all_tasks()) <= baseline, limit)
    return len(asyncio.all_tasks()) - baseline


async def timed(call: Callable[[], Awaitable[Any]], limit: float) -> float:
    started = time.monotonic()
    await result_of(call, limit=limit)
    return time.monotonic() - started


# --- item 1: reservations of cancelled waiters -------------------------------------------------


async def test_cancelled_sends_to_one_account_do_not_delay_another() -> None:
    sent: list[httpx.Request] = []
    async with mock_session(sent, send_rate=1.0) as oa:
        with anyio.move_on_after(0.2):
            async with anyio.create_task_group() as tg:
                for _ in range(10):
                    tg.start_soon(oa.send_message, ACCOUNT, "hello")
        count("cancellations", 9)
        waited = await timed(lambda: oa.send_message("@TOA#_another", "hello"), limit=3)
    assert waited <= SLACK


# --- many bulk jobs cancelled at random points over loopback ---------------------------------


async def test_fifty_cancelled_bulk_jobs_leak_nothing(hostile: HostileServer) -> None:
    hostile.delay = 0.01  # keep requests in flight when the cancellation lands
    rng = random.Random(50)
    fds_before = open_fds()
    tasks_before = len(asyncio.all_tasks())
    cancelled = 0
    with no_stray_warnings() as warnings_seen:
        oa = make_session(hostile.base_url, max_concurrency=4, max_retries=2)
        async with oa:
            for job in range(50):
                ids = [f"job{job}-u{i}" for i in range(1000)]
                with anyio.move_on_after(rng.uniform(0.0, 0.06)) as scope:
                    await oa.add_subscribers(ACCOUNT, ids, concurrency=4)
                cancelled += scope.cancelled_caught
            assert await settle_tasks(tasks_before) == 0, "tasks outlived their cancelled job"
            await wait_until(lambda: hostile.open_connections <= 4)
            assert hostile.open_connections <= 4, "more connections open than the pool allows"
            await assert_usable(oa)
            result = await result_of(lambda: oa.add_subscribers(ACCOUNT, ["after"]), limit=5)
            assert result.succeeded == ["after"]
        await wait_until(lambda: hostile.open_connections == 0, 3)
    assert cancelled >= 15, f"only {cancelled} of 50 jobs were cut short: the test proves little"
    count("cancellations", cancelled)
    assert hostile.open_connections == 0, "connections left open after the session closed"
    assert warnings_seen == [], warnings_seen
    assert await settle_tasks(tasks_before) == 0
    fds_after = open_fds()
    if fds_before is not None and fds_after is not None:
        assert fds_after <= fds_before + 2, f"file descriptors: {fds_before} -> {fds_after}"


# --- cancel at every await of one call ---------------------------------------------------------


async def _async_usersig(identifier: str) -> str:
    await asyncio.sleep(0)
    return "sig-from-an-async-provider"


CALLS: dict[str, Callable[[tim_oa.Session], Awaitable[Any]]] = {
    "send": lambda oa: oa.send_message(ACCOUNT, "hello"),
    "add-3-chunks": lambda oa: oa.add_subscribers(ACCOUNT, [f"u{i}" for i in range(250)]),
    "get-3-chunks": lambda oa: oa.get_accounts([f"@TOA#_a{i}" for i in range(120)]),
    "pager": lambda oa: oa.subscribers(ACCOUNT).collect(),
}


@pytest.mark.parametrize("name", list(CALLS))
async def test_cancelling_at_every_checkpoint_leaves_the_next_call_unaffected(name: str) -> None:
    sent: list[httpx.Request] = []
    call = CALLS[name]
    tasks_before = len(asyncio.all_tasks())
    with no_stray_warnings() as warnings_seen:
        # No rate limit here: its real-time waits would make the number of checkpoints depend
        # on the machine's speed (the storms above test what cancelling does to the limiter).
        # One slot: a slot leaked by a cancelled call would hang the next one.
        async with mock_session(
            sent, max_concurrency=1, rate_limit=None, send_rate=None, usersig=_async_usersig
        ) as oa:
            completed = False
            steps = 0
            while not completed:
                steps += 1
                assert steps < 2000, "the call never completed"
                task = asyncio.ensure_future(call(oa))
                for _ in range(steps):
                    await asyncio.sleep(0)
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    count("cancellations")
                except BaseException as exc:
                    pytest.fail(f"cancelled after {steps} steps, the call raised {exc!r}")
                else:
                    completed = True
                # the next call neither waits on a leaked slot nor fails
                await result_of(lambda: oa.destroy_account(ACCOUNT), limit=2)
            assert await settle_tasks(tasks_before) == 0
    assert warnings_seen == [], warnings_seen


# --- item 7: slow and blocking UserSig providers -----------------------------------------------


class BlockingProvider:
    """A sync provider that blocks on its first ``block`` calls until released (or 3 s)."""

    def __init__(self, block: int = 10**9) -> None:
        self.release = threading.Event()
        self.calls = 0
        self.block = block

    def __call__(self, identifier: str) -> str:
        self.calls += 1
        if self.calls <= self.block:
            self.release.wait(3)
        return "sig-from-a-vault"


async def test_a_blocking_sync_provider_is_bounded_by_the_timeout() -> None:
    provider = BlockingProvider()
    sent: list[httpx.Request] = []
    try:
        async with mock_session(sent, usersig=provider, timeout=0.5) as oa:
            exc, elapsed = await failure_of(lambda: oa.destroy_account(ACCOUNT), limit=2.5)
    finally:
        provider.release.set()
    check_public(exc)
    assert elapsed < 2, f"timeout=0.5 but the call took {elapsed:.1f} s in the provider"
    assert sent == []


async def test_cancelling_a_call_stuck_in_a_sync_provider_returns_at_once() -> None:
    provider = BlockingProvider()
    sent: list[httpx.Request] = []
    try:
        async with mock_session(sent, usersig=provider, timeout=30) as oa:
            started = time.monotonic()
            with anyio.move_on_after(2.5) as guard, anyio.move_on_after(0.2):
                await oa.destroy_account(ACCOUNT)
            elapsed = time.monotonic() - started
    finally:
        provider.release.set()
    count("cancellations")
    # Awaiting the thread would run into the 2.5 s guard; 2 s leaves a loaded machine room.
    assert not guard.cancelled_caught and elapsed < 2.0, (
        f"a call cancelled at 0.2 s returned after {elapsed:.1f} s (the thread was awaited)"
    )


async def test_a_slow_provider_does_not_hold_a_concurrency_slot() -> None:
    provider = BlockingProvider(block=1)  # only the first call blocks
    sent: list[httpx.Request] = []
    try:
        oa = mock_session(sent, usersig=provider, max_concurrency=1, timeout=30)
        async with oa, anyio.create_task_group() as tg:
            tg.start_soon(oa.destroy_account, ACCOUNT)  # stuck in the provider
            await anyio.sleep(0.1)
            waited = await timed(lambda: oa.destroy_account("@TOA#_other"), limit=2)
            provider.release.set()
    finally:
        provider.release.set()
    assert waited < 1, f"a call waited {waited:.1f} s behind another one's UserSig fetch"
    assert len(sent) == 2
