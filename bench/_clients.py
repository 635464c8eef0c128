"""The clients under test: a tim_oa Session, and the bare code a user would write without it.

The bare clients post the same signed URL (a fresh ``random`` each call, the UserSig made once)
and the same JSON body, and ``json.loads`` the answer, checking ``ErrorCode``: what a careful user
writes with ``httpx.AsyncClient`` or ``aiohttp.ClientSession`` directly.

:func:`drive` keeps ``in_flight`` callers busy for ``calls`` calls in all and measures this
process's CPU time (all threads) per call, after a warm-up that opens the connections.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx

import tim_oa

SDKAPPID = 1400000000
SECRET_KEY = "bench-secret-key-not-a-real-one"
IDENTIFIER = "administrator"
ACCOUNT = "@TOA#_bench"
UNLIMITED_RATE = 1_000_000.0
"""The ``rate_limit`` of the CPU rows: the limiter runs but never waits."""

SIGNER = tim_oa.UserSigSigner(SDKAPPID, SECRET_KEY)
USERSIG = SIGNER.get(IDENTIFIER)
SERVICE_PATH = "/v4/official_account_open_http_svc/"


def session(base_url: str, **options: Any) -> tim_oa.Session:
    """A Session on the bench server, signed by a real signer."""
    return tim_oa.Session(SDKAPPID, IDENTIFIER, SIGNER, base_url=base_url, **options)


def session_supports(option: str) -> bool:
    """Whether ``tim_oa.Session`` takes the keyword ``option``."""
    return option in inspect.signature(tim_oa.Session).parameters


class BareHttpx:
    """``httpx.AsyncClient`` used directly (or the ``AsyncClient`` of ``module``: httpx2)."""

    def __init__(self, base_url: str, module: Any = httpx, **client_options: Any) -> None:
        self.client = module.AsyncClient(**client_options)
        self.prefix = base_url + SERVICE_PATH
        self.query = (
            f"?sdkappid={SDKAPPID}&identifier={quote(IDENTIFIER, safe='')}"
            f"&usersig={quote(USERSIG, safe='')}&contenttype=json&random="
        )

    async def call(self, command: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.prefix}{command}{self.query}{random.getrandbits(32)}"
        response = await self.client.post(url, json=body)
        data: dict[str, Any] = json.loads(response.content)
        if response.status_code != 200 or data.get("ErrorCode"):
            raise RuntimeError(f"{command}: HTTP {response.status_code} {data.get('ErrorInfo')}")
        return data

    async def aclose(self) -> None:
        await self.client.aclose()


class LimitedHttpx(BareHttpx):
    """Bare httpx behind an ``asyncio.Semaphore`` sized like its pool (no queueing in httpx)."""

    def __init__(self, base_url: str, limit: int) -> None:
        super().__init__(
            base_url,
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
        )
        self.semaphore = asyncio.Semaphore(limit)

    async def call(self, command: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.semaphore:
            return await super().call(command, body)


class Paced:
    """A bare client behind the simplest pacer a user would write: calls spaced ``1 / rate`` s.

    It lets the bare set-ups be compared with a paced session like with like (a paced client
    has fewer requests in flight, so its pool costs less per call than an unpaced one's).
    """

    def __init__(self, inner: Any, rate: float) -> None:
        self.inner = inner
        self.interval = 1.0 / rate
        self.next = 0.0

    async def call(self, command: str, body: dict[str, Any]) -> dict[str, Any]:
        now = asyncio.get_running_loop().time()
        at = max(now, self.next)
        self.next = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)
        result: dict[str, Any] = await self.inner.call(command, body)
        return result

    async def aclose(self) -> None:
        await self.inner.aclose()


class BareAiohttp:
    """``aiohttp.ClientSession`` used directly (default connector: 100 connections)."""

    def __init__(self, base_url: str) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession()
        self.prefix = base_url + SERVICE_PATH
        self.query = (
            f"?sdkappid={SDKAPPID}&identifier={quote(IDENTIFIER, safe='')}"
            f"&usersig={quote(USERSIG, safe='')}&contenttype=json&random="
        )

    async def call(self, command: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.prefix}{command}{self.query}{random.getrandbits(32)}"
        async with self.session.post(url, json=body) as response:
            content = await response.read()
            status = response.status
        data: dict[str, Any] = json.loads(content)
        if status != 200 or data.get("ErrorCode"):
            raise RuntimeError(f"{command}: HTTP {status} {data.get('ErrorInfo')}")
        return data

    async def aclose(self) -> None:
        await self.session.close()


async def drive(
    call: Callable[[], Awaitable[Any]], *, calls: int, in_flight: int, warmup: int | None = None
) -> dict[str, float]:
    """Run ``calls`` calls from ``in_flight`` concurrent callers; CPU and wall time per call."""
    per_caller = max(1, calls // in_flight)
    warm = warmup if warmup is not None else max(2, min(per_caller // 5, 20))

    async def caller(count: int) -> None:
        for _ in range(count):
            await call()

    await asyncio.gather(*(caller(warm) for _ in range(in_flight)))
    total = per_caller * in_flight
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(caller(per_caller) for _ in range(in_flight)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"cpu_us": cpu / total * 1e6, "wall_us": wall / total * 1e6, "calls": float(total)}


def get_info_body(account: str = ACCOUNT) -> dict[str, Any]:
    """The ``get_official_account_info`` body for one account, as ``get_accounts`` sends it."""
    return {"OfficialAccountIdList": [{"Official_Account": account}]}


def add_body(user_ids: list[str], account: str = ACCOUNT) -> dict[str, Any]:
    """The ``add_subscriber`` body, as ``add_subscribers`` sends it."""
    return {
        "Official_Account": account,
        "SubscriberList": [{"Subscriber_Account": u} for u in user_ids],
    }
