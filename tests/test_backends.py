"""A Session on each HTTP backend against the emulator on loopback: same answers, same errors.

The transport-level promises are tested in ``test_transport.py`` for every backend; here the whole
session (signing, envelopes, retries, bulk jobs, pagers) runs over each one.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import tim_oa
from tim_oa.testing import Emulator, Faults, serve

pytestmark = pytest.mark.loopback

SDKAPPID = 1400000000
KEY = "backend-secret-key"
HAVE_HTTPX2 = sys.version_info >= (3, 11) and importlib.util.find_spec("httpx2") is not None
needs_httpx2 = pytest.mark.skipif(not HAVE_HTTPX2, reason="httpx2 not installed (Python 3.11+)")
BACKENDS = [
    "httpx",
    pytest.param("httpx2", marks=needs_httpx2),
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


# --- httpx2 objects of the caller's ----------------------------------------------------------


@needs_httpx2
async def test_a_callers_httpx2_client_is_used_as_is(base_url: str, emulator: Emulator) -> None:
    import httpx2

    seen: list[str] = []

    async def hook(request: Any) -> None:
        seen.append(request.url.path)

    async with httpx2.AsyncClient(timeout=7, event_hooks={"request": [hook]}) as client:
        async with session(base_url, "httpx", http_client=client) as oa:
            assert oa._shared.transport.backend == "httpx2"  # the client brings its stack
            assert oa._usersig_timeout == 7  # its own timeout bounds the provider too
            account_id = await oa.create_account("owner", "Theirs")
            await oa.destroy_account(account_id)
        assert not client.is_closed  # a caller's client is never closed
    assert seen and all(path.endswith("_official_account") for path in seen)


@needs_httpx2
async def test_httpx2_transports_and_timeouts_are_taken(emulator: Emulator) -> None:
    import httpx2

    oa = emulator.session(
        backend="httpx2",
        transport=emulator.transport("httpx2"),
        timeout=httpx2.Timeout(3, pool=1),
        rate_limit=None,
        send_rate=None,
    )
    async with oa:
        assert oa._shared.transport.backend == "httpx2"
        account_id = await oa.create_account("owner", "In process")
        [info] = await oa.get_accounts([account_id])
        assert info.name == "In process"
    with pytest.raises(tim_oa.ValidationError) as caught:
        tim_oa.Session(1, "admin", "sig", base_url="https://x.test", http_client=object())  # type: ignore[arg-type]
    assert caught.value.field == "http_client"
    with pytest.raises(tim_oa.ValidationError) as caught:
        tim_oa.Session(
            1,
            "admin",
            "sig",
            base_url="https://x.test",
            backend="aiohttp",
            http_client=httpx2.AsyncClient(),
        )
    assert caught.value.field == "http_client"
    with pytest.raises(tim_oa.ValidationError) as caught:
        tim_oa.Session(1, "admin", "sig", base_url="https://x.test", timeout=httpx2.Timeout(-1))
    assert caught.value.field == "timeout"


def test_httpx2_missing_is_a_clear_validation_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx2", None)  # import httpx2 -> ImportError
    with pytest.raises(tim_oa.ValidationError, match=r"tim-oa\[httpx2\]") as info:
        tim_oa.Session(1, "admin", "sig", base_url="https://x.test", backend="httpx2")
    assert info.value.field == "backend"
