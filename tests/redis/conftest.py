"""Fixtures: a real Redis server per test, and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio

from .server import RedisServer, started_server


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server on a free loopback port, stopped after the test."""
    server = started_server()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[redis.asyncio.Redis]:
    """A client of ``redis_server``: short timeouts, no retries (failures must show at once)."""
    client = redis.asyncio.Redis(
        port=redis_server.port, socket_connect_timeout=1, socket_timeout=2, retry_on_timeout=False
    )
    try:
        yield client
    finally:
        await client.aclose()
