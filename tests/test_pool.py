"""The sharded connection pool of the session's own httpx client (``tim_oa._pool``)."""

from __future__ import annotations

import anyio
import httpx
import pytest

import tim_oa
from tim_oa._pool import SHARD_SIZE, ShardedTransport, shard_pool
from tim_oa._transport import HttpTransport
from tim_oa.testing import Emulator, serve

BASE = "https://api.test/v4/x"


class CountingShard(httpx.AsyncBaseTransport):
    """Answers after the test lets it; records how many of its requests are unanswered."""

    def __init__(self, gate: anyio.Event, fail: bool = False) -> None:
        self.gate = gate
        self.fail = fail
        self.open = 0
        self.most = 0
        self.handled = 0
        self.closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.handled += 1
        if self.fail:
            raise httpx.ConnectError("no route", request=request)
        self.open += 1
        self.most = max(self.most, self.open)
        await self.gate.wait()
        shard = self

        class Body(httpx.AsyncByteStream):
            async def __aiter__(self):  # type: ignore[no-untyped-def]
                yield b"{}"

            async def aclose(self) -> None:
                shard.open -= 1

        return httpx.Response(200, stream=Body())

    async def aclose(self) -> None:
        self.closed = True


async def test_requests_fill_one_shard_before_the_next_and_never_exceed_a_shard() -> None:
    gate = anyio.Event()
    shards: list[CountingShard] = []

    def make() -> CountingShard:
        shards.append(CountingShard(gate))
        return shards[-1]

    pool = ShardedTransport(make, max_connections=20, shard_size=8)
    assert pool.max_shards == 3
    async with httpx.AsyncClient(transport=pool) as client:

        async def get() -> None:
            response = await client.post(BASE)
            assert response.content == b"{}"

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(get)
            await anyio.sleep(0.05)
            assert [s.open for s in shards] == [8, 8, 4]  # lazily made, filled in turn
            gate.set()
        assert [s.open for s in shards] == [0, 0, 0]  # every response closed gave its place back
        assert max(s.most for s in shards) == 8
        # Few requests at a time stay on one shard (its warm connections).
        for _ in range(5):
            await get()
        assert sum(s.handled for s in shards) == 25
    assert all(s.closed for s in shards)


async def test_a_failed_request_gives_its_place_back_and_overflow_queues_on_the_least_loaded() -> (
    None
):
    gate = anyio.Event()
    failing = CountingShard(gate, fail=True)
    pool = ShardedTransport(lambda: failing, max_connections=2, shard_size=2)
    async with httpx.AsyncClient(transport=pool) as client:
        for _ in range(5):
            with pytest.raises(httpx.ConnectError):
                await client.post(BASE)
    assert pool._load == [0] and pool._free == [0]

    shard = CountingShard(gate)
    pool = ShardedTransport(lambda: shard, max_connections=2, shard_size=2)
    async with httpx.AsyncClient(transport=pool) as client, anyio.create_task_group() as tg:
        for _ in range(3):  # one more than max_connections: it waits in the shard, as in a pool
            tg.start_soon(client.post, BASE)
        await anyio.sleep(0.01)
        assert pool._load == [3]
        gate.set()
    assert pool._load == [0] and pool._free == [0]


def _client(oa: tim_oa.Session) -> httpx.AsyncClient:
    """The session's own httpx client (its transport is an ``HttpTransport``)."""
    transport = oa._shared.transport
    assert isinstance(transport, HttpTransport)
    return transport.client


def _never(request: httpx.Request) -> httpx.Response:
    raise AssertionError("no request is sent")


def test_the_sessions_own_client_is_sharded_and_a_given_transport_is_not() -> None:
    oa = tim_oa.Session(1, "admin", "sig", base_url="https://api.test")  # 200/s: 500 connections
    pool = _client(oa)._transport
    assert isinstance(pool, ShardedTransport)
    assert pool.shard_size == SHARD_SIZE and pool.max_shards == -(-500 // SHARD_SIZE)
    small = tim_oa.Session(
        1, "admin", "sig", base_url="https://api.test", max_concurrency=SHARD_SIZE
    )
    assert type(_client(small)._transport) is httpx.AsyncHTTPTransport
    mocked = tim_oa.Session(
        1, "admin", "sig", base_url="https://api.test", transport=httpx.MockTransport(_never)
    )
    assert isinstance(_client(mocked)._transport, httpx.MockTransport)
    given = httpx.AsyncHTTPTransport()
    mine = tim_oa.Session(1, "admin", "sig", base_url="https://api.test", transport=given)
    assert _client(mine)._transport is given  # a caller's pool stays as it is
    # A client of a few connections keeps its one pool.
    plain = httpx.AsyncClient()
    assert shard_pool(plain, SHARD_SIZE)._transport is plain._transport


@pytest.mark.loopback
async def test_a_session_over_loopback_spreads_many_requests_over_small_pools(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # On asyncio the session's own requests take our own connections (test_lean_pool.py); httpx's
    # pool, in shards, serves them under trio or when httpx is patched. Turn the first off here.
    monkeypatch.setattr(HttpTransport, "_lean_pool", lambda self, client: None)
    emulator = Emulator(1400000000, "k", rate_limit=None, send_per_second=None)
    with serve(emulator) as url:
        signer = tim_oa.UserSigSigner(1400000000, "k")
        async with tim_oa.Session(
            1400000000, "administrator", signer, base_url=url, rate_limit=1000
        ) as oa:
            account = await oa.create_account("owner", "Pool")
            async with anyio.create_task_group() as tg:
                for _ in range(60):
                    tg.start_soon(oa.get_accounts, [account])
            pool = _client(oa)._transport
            assert isinstance(pool, ShardedTransport)
            assert len(pool.shards) >= 2
            assert pool._load == [0] * len(pool.shards)
            for shard in pool.shards:
                assert len(shard._pool.connections) <= SHARD_SIZE  # type: ignore[attr-defined]
