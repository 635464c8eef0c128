"""Bulk jobs of 100,000 ids under ~10 % injected faults, checked against the emulator's final
state (issue 8, the reliability suite's bulk item).

Faults come from two places: the emulator's seeded random faults, decided *before* a request is
applied (an error envelope, HTTP 502, a dropped connection), and faults queued by a transport
wrapper just before a request goes in, with ``after_commit=True``: the emulator applies the
chunk, then the answer is lost or replaced. The client cannot tell the two apart; the final
state must still agree with what the client reports.
"""

from __future__ import annotations

import random
import time
from typing import Any

import httpx
import pytest

import tim_oa
from tim_oa.testing import Emulator, Faults

from .support import count, emulator_session

IDS = 100_000
BEFORE = Faults(error_rate=0.02, drop_rate=0.015, http_502_rate=0.015)  # ~5 % before applying
AFTER_RATE = 0.05  # ~5 % after applying


class AfterCommitFaults(httpx.AsyncBaseTransport):
    """The emulator's in-process transport, queueing an after-commit fault on some requests."""

    def __init__(self, emulator: Emulator, command: str, rate: float, seed: int) -> None:
        self._emulator = emulator
        self._inner = emulator.transport()
        self._command = command
        self._rate = rate
        self._rng = random.Random(seed)
        self.queued = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/" + self._command) and self._rng.random() < self._rate:
            kind = self._rng.choice(("drop", "http", "code"))
            if kind == "drop":
                self._emulator.fail_next(self._command, drop=True, after_commit=True)
            elif kind == "http":
                self._emulator.fail_next(self._command, http_status=502, after_commit=True)
            else:
                self._emulator.fail_next(self._command, code=20005, after_commit=True)
            self.queued += 1
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def emulator() -> Emulator:
    return Emulator(
        rate_limit=None,
        send_per_second=None,
        broadcasts_per_hour=None,
        request_log_size=None,
        seed=8,
    )


def may_have_applied(error: BaseException | None) -> bool:
    """Whether a failed id's error admits the server may have applied its chunk."""
    if error is None:
        return False
    if getattr(error, "after_unknown_outcome", False):
        return True
    if isinstance(error, tim_oa.MalformedResponseError):
        return error.may_have_taken_effect
    if isinstance(error, tim_oa.TransportError):
        return error.request_sent
    return isinstance(error, tim_oa.ServerError)  # a transient code after sending


def faults_seen(emu: Emulator) -> int:
    return sum(1 for r in emu.requests if r.fault is not None)


@pytest.mark.parametrize(
    ("retries", "total"), [(3, IDS), (0, 20_000)], ids=["retried-100k", "no-retries-20k"]
)
async def test_a_bulk_add_under_faults_loses_and_invents_nothing(retries: int, total: int) -> None:
    emu = emulator()
    account = emu.call("create_official_account", {"Owner_Account": "o", "Name": "Bulk"})[
        "OfficialAccountUserID"
    ]
    emu.faults = BEFORE
    wrapper = AfterCommitFaults(emu, "add_subscriber", AFTER_RATE, seed=1)
    ids = [f"user{i:06d}" for i in range(total)]
    started = time.monotonic()
    async with emulator_session(emu, rate_limit=None, transport=wrapper, max_retries=retries) as oa:
        result = await oa.add_subscribers(account, ids + ids[:500])  # duplicates: sent once
    elapsed = time.monotonic() - started
    emu.faults = None

    held = set(emu.account(account).subscribers)
    outcomes = result.outcomes
    assert list(outcomes) == ids, "every distinct id has exactly one outcome, in input order"
    reported = set(result.succeeded) | set(result.unchanged)
    invented = reported - held
    assert not invented, f"{len(invented)} ids reported done that the server does not hold"
    assert held <= set(ids)
    unexplained = [i for i in held - reported if not may_have_applied(outcomes[i].error)]
    assert not unexplained, (
        f"{len(unexplained)} ids held by the server but reported failed without saying the "
        f"chunk may have been applied, e.g. {outcomes[unexplained[0]]!r}"
    )
    for outcome in outcomes.values():
        if outcome.status is tim_oa.Status.FAILED:
            assert isinstance(outcome.error, tim_oa.TimOAError), outcome
    injected = faults_seen(emu)
    assert injected > 0.05 * (total // 100) and wrapper.queued > 0  # the faults really happened
    if retries == 0:
        assert result.failed, "without retries some chunks must have failed"
    count("faults injected", injected)
    count("ids checked", total)
    print(
        f"{total} ids add: {elapsed:.1f} s, {len(emu.requests)} requests, {injected} faults, "
        f"{len(result.failed)} failed"
    )


async def test_a_100k_export_under_faults_has_no_duplicates_and_no_gaps() -> None:
    emu = emulator()
    account = emu.call("create_official_account", {"Owner_Account": "o", "Name": "Export"})[
        "OfficialAccountUserID"
    ]
    ids = [f"user{i:06d}" for i in range(IDS)]
    for start in range(0, IDS, 100):
        chunk = [{"Subscriber_Account": u} for u in ids[start : start + 100]]
        answer = emu.call("add_subscriber", {"Official_Account": account, "SubscriberList": chunk})
        assert answer["ErrorCode"] == 0
    emu.faults = BEFORE
    wrapper = AfterCommitFaults(emu, "get_subscriber_info", AFTER_RATE, seed=2)
    started = time.monotonic()
    seen: list[str] = []
    pages = 0
    async with emulator_session(emu, rate_limit=None, transport=wrapper) as oa:
        async for page in oa.subscribers(account).pages():
            pages += 1
            seen.extend(s.user_id for s in page.items)
            if page.total is not None:
                assert page.total == IDS
    elapsed = time.monotonic() - started
    emu.faults = None

    duplicates = len(seen) - len(set(seen))
    assert duplicates == 0, f"{duplicates} subscribers exported twice"
    held = set(emu.account(account).subscribers)
    missing = held - set(seen)
    assert not missing, f"{len(missing)} subscribers missing from the export"
    assert set(seen) == held == set(ids)
    injected = faults_seen(emu)
    assert injected > 0.05 * pages and wrapper.queued > 0
    count("faults injected", injected)
    count("ids checked", IDS)
    print(f"100k export: {elapsed:.1f} s, {pages} pages, {injected} faults")


async def test_a_bulk_remove_under_faults_agrees_with_the_server() -> None:
    emu = emulator()
    account = emu.call("create_official_account", {"Owner_Account": "o", "Name": "Remove"})[
        "OfficialAccountUserID"
    ]
    ids = [f"user{i:05d}" for i in range(20_000)]
    for start in range(0, len(ids), 100):
        chunk = [{"Subscriber_Account": u} for u in ids[start : start + 100 : 2]]
        emu.call("add_subscriber", {"Official_Account": account, "SubscriberList": chunk})
    emu.faults = BEFORE
    wrapper = AfterCommitFaults(emu, "delete_subscriber", AFTER_RATE, seed=3)
    async with emulator_session(emu, rate_limit=None, transport=wrapper) as oa:
        result = await oa.remove_subscribers(account, ids)
    emu.faults = None

    still_held = set(emu.account(account).subscribers)
    reported: Any = set(result.succeeded) | set(result.unchanged)
    assert list(result.outcomes) == ids
    assert not (reported & still_held), "ids reported removed are still subscribed"
    for user_id in set(ids) - still_held - reported:
        # removed on the server but reported failed: the error must admit it may have applied
        assert may_have_applied(result.outcomes[user_id].error), result.outcomes[user_id]
    count("faults injected", faults_seen(emu))
    count("ids checked", len(ids))
