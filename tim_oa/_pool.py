"""A connection pool in shards: many small httpx pools behind one transport.

httpcore's pool walks every connection it holds each time a request arrives and each time a
response is closed, and for every idle connection it walks them all again (to count the idle
ones), so its cost per request grows with the square of the pool's size. At 50-60 connections
that walk is most of a call's CPU time, which held a session to about 100 calls/s on one core at
the 1,000 calls/s tier. :class:`ShardedTransport` keeps the pools small instead: requests go to
one of several ``httpx.AsyncHTTPTransport`` shards of at most :data:`SHARD_SIZE` connections
each, chosen in constant time, so the walk stays short however many requests are in flight.
The walk also asks each idle connection's socket whether it is readable (a system call), so the
smallest shards measured cheapest: 2 connections (a 100-id add at 1,000 calls/s and 50 ms, CPU
per call: 1 or 2 connections per shard ~2.1-2.3 ms, 4 ~2.4-2.5, 8 ~2.4-2.6, one pool ~10.9, on
this loaded 2-core machine).

On asyncio the session's own requests to ``base_url`` skip httpx's pool altogether
(``_lean_pool.py``, a fraction of its CPU per request); the shards serve the rest of the own
client's traffic: under trio, through a proxy, or while a mock or an instrumentation patches httpx.

A shard takes requests while fewer than ``SHARD_SIZE`` of its requests are unanswered (a request
counts until its response is closed, when its connection goes back to the pool). The shard last
handed a free place is picked first, so the traffic of a session with few requests in flight stays
on one shard and its warm connections; shards are created only when every existing one is full.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

__all__ = ["SHARD_SIZE", "ShardedTransport", "direct_pool_settings", "shard_pool"]

SHARD_SIZE = 2
"""The most connections (and requests in flight) of one shard."""


class _Release:
    """Gives a shard its place back once, when the response is closed."""

    __slots__ = ("index", "owner")

    def __init__(self, owner: ShardedTransport, index: int) -> None:
        self.owner: ShardedTransport | None = owner
        self.index = index

    def __call__(self) -> None:
        owner, self.owner = self.owner, None
        if owner is not None:
            owner._release(self.index)


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that frees its shard's place when closed."""

    __slots__ = ("_release", "_stream")

    def __init__(self, stream: httpx.AsyncByteStream, release: _Release) -> None:
        self._stream = stream
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._release()


class ShardedTransport(httpx.AsyncBaseTransport):
    """Spreads requests over shards made by ``make_shard`` (each with ``shard_size`` connections).

    Args:
        make_shard: Builds one shard: an ``httpx.AsyncBaseTransport`` whose pool holds at most
            ``shard_size`` connections.
        max_connections: The most connections in all; the shards number
            ``ceil(max_connections / shard_size)`` at most.
        shard_size: Requests in flight (connections) per shard.
    """

    def __init__(
        self,
        make_shard: Callable[[], httpx.AsyncBaseTransport],
        *,
        max_connections: int,
        shard_size: int = SHARD_SIZE,
    ) -> None:
        if shard_size < 1 or max_connections < 1:
            raise ValueError("shard_size and max_connections must be at least 1")
        self._make_shard = make_shard
        self.shard_size = shard_size
        self.max_shards = -(-max_connections // shard_size)
        self.shards: list[httpx.AsyncBaseTransport] = []
        self._load: list[int] = []  # requests each shard has unanswered
        self._free: list[int] = []  # shards with a free place; the last is used first

    def _pick(self) -> int:
        free, load = self._free, self._load
        if free:
            index = free[-1]
        elif len(self.shards) < self.max_shards:
            index = len(self.shards)
            self.shards.append(self._make_shard())
            load.append(0)
            free.append(index)
        else:
            # Every shard is full (more requests than max_connections): queue in the least
            # loaded one, as a single pool would queue.
            index = min(range(len(load)), key=load.__getitem__)
            load[index] += 1
            return index
        count = load[index] = load[index] + 1
        if count == self.shard_size:
            free.pop()
        return index

    def _release(self, index: int) -> None:
        count = self._load[index]
        if count == self.shard_size:
            self._free.append(index)
        self._load[index] = count - 1

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through a shard with a free place."""
        index = self._pick()
        release = _Release(self, index)
        try:
            response = await self.shards[index].handle_async_request(request)
        except BaseException:
            release()
            raise
        response.stream = _ReleasingStream(response.stream, release)  # type: ignore[arg-type]
        return response

    async def aclose(self) -> None:
        """Close every shard."""
        for shard in self.shards:
            await shard.aclose()


def direct_pool_settings(
    client: Any, lib: Any = httpx
) -> tuple[ssl.SSLContext, float | None] | None:
    """The TLS context and keep-alive expiry of ``client``'s direct pool, for pools beside it.

    ``client`` is an ``AsyncClient`` of ``lib`` (httpx or httpx2) its owner just built. ``None``
    when its direct transport is not ``lib``'s own HTTP/1.1 one as this code knows it (a
    transport of the caller's, or HTTP/2).
    """
    direct = getattr(client, "_transport", None)
    if type(direct) is not lib.AsyncHTTPTransport:
        return None
    pool = getattr(direct, "_pool", None)
    context = getattr(pool, "_ssl_context", None)
    if not isinstance(context, ssl.SSLContext) or getattr(pool, "_http2", False):
        return None
    return context, getattr(pool, "_keepalive_expiry", 5.0)


def shard_pool(client: httpx.AsyncClient, max_connections: int) -> httpx.AsyncClient:
    """Give ``client`` (just built with one pool of ``max_connections``) a sharded pool instead.

    Only the client's direct route changes; proxies from the environment keep their own
    transports. The shards share the client's TLS settings (its ``SSLContext``: building one
    costs ~100 ms) and keep-alive expiry. A client this does not recognise is returned as it is.
    """
    if max_connections <= SHARD_SIZE:
        return client
    settings = direct_pool_settings(client)
    if settings is None:
        return client
    context, expiry = settings
    limits = httpx.Limits(
        max_connections=SHARD_SIZE, max_keepalive_connections=SHARD_SIZE, keepalive_expiry=expiry
    )

    def make_shard() -> httpx.AsyncBaseTransport:
        return httpx.AsyncHTTPTransport(verify=context, http1=True, http2=False, limits=limits)

    client._transport = ShardedTransport(
        make_shard, max_connections=max_connections, shard_size=SHARD_SIZE
    )
    return client
