"""A Session on each HTTP backend against the emulator on loopback: same answers, same errors.

The transport-level promises are tested in ``test_transport.py`` for every backend; here the whole
session (signing, envelopes, retries, bulk jobs, pagers) runs over each one.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Iterator

import pytest

import tim_oa
from tim_oa.testing import Emulator, Faults, serve

pytestmark = pytest.mark.loopback

SDKAPPID = 1400000000
KEY = "backend-secret-key"
BACKENDS = [
    "httpx",
    pytest.param(
        "aiohttp",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("aiohttp") is None, reason="aiohttp not installed"
        ),
    ),
]


@pytest.fixture(scope="module")
def emulator() -> Emulator:
    return Emulator(SDKAPPID, KEY, rate_limit=None, send_per_second=None, broadcasts_per_hour=None)


@pytest.fixture(scope="module")
def base_url(emulator: Emulator) -> Iterator[str]:
    with serve(emulator) as url:
        yield url


def session(base_url: str, backend: str, **options: object) -> tim_oa.Session:
    return tim_oa.Session(
        SDKAPPID,
        "administrator",
        tim_oa.UserSigSigner(SDKAPPID, KEY),
        base_url=base_url,
        backend=backend,
        send_rate=None,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_session_works_the_same_on_each_backend(
    base_url: str, emulator: Emulator, backend: str
) -> None:
    async with session(base_url, backend) as oa:
        account_id = await oa.create_account("owner", f"News {backend}")
        users = [f"{backend}-u{i}" for i in range(250)]
        report = await oa.add_subscribers(account_id, users)
        assert report.ok and sorted(report.succeeded) == sorted(users)
        listed = [s.user_id async for s in oa.subscribers(account_id, page_size=100)]
        assert sorted(listed) == sorted(users)
        with pytest.raises(tim_oa.AccountNotFoundError):
            await oa.destroy_account("@TOA#_no_such_account")
        await oa.destroy_account(account_id)
    assert account_id not in emulator.accounts


@pytest.mark.parametrize("backend", BACKENDS)
async def test_dropped_answers_are_retried_on_each_backend(
    base_url: str, emulator: Emulator, backend: str
) -> None:
    async with session(base_url, backend, max_retries=10) as oa:
        account_id = await oa.create_account("owner", "Faulty")
        emulator.faults = Faults(drop_rate=0.3)
        try:
            report = await oa.add_subscribers(account_id, [f"f{i}" for i in range(300)])
        finally:
            emulator.faults = None
        assert report.ok
        assert len(emulator.account(account_id).subscribers) == 300


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_module_level_session_under_two_asyncio_runs(base_url: str, backend: str) -> None:
    oa = session(base_url, backend)

    async def count() -> int:
        return len(await oa.get_accounts(["@TOA#_a", "@TOA#_b"]))

    assert asyncio.run(count()) == 2
    assert asyncio.run(count()) == 2  # a fresh pool for the second loop
    asyncio.run(oa.aclose())
