"""Defect 17.4: the wait for a pooled connection is not part of the attempt, and never "sent".

A session derived with ``with_options(max_concurrency=20)`` shares its parent's pool, sized by
the parent's ``max_concurrency=2``. Eighteen of twenty creates wait for a connection. Before the
fix that wait counted toward the 1 s attempt timeout, and the attempts that ran out of it while
still waiting were reported ``request_sent=True``: creates without a custom id that never left
the client looked possibly applied.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator

import anyio
import pytest

import tim_oa
from tim_oa.testing import Emulator, Faults, serve

from .support import ADMIN, SDKAPPID, SECRET_KEY, check_public, count, make_session

pytestmark = pytest.mark.loopback

BACKENDS = [
    "httpx",
    pytest.param(
        "httpx2",
        marks=pytest.mark.skipif(
            sys.version_info < (3, 11) or importlib.util.find_spec("httpx2") is None,
            reason="httpx2 not installed",
        ),
    ),
    pytest.param(
        "aiohttp",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("aiohttp") is None, reason="aiohttp not installed"
        ),
    ),
]


@pytest.fixture(scope="module")
def slow_server() -> Iterator[tuple[Emulator, str]]:
    """The emulator on loopback, answering every request in 0.6 s."""
    emulator = Emulator(SDKAPPID, SECRET_KEY, (ADMIN,), rate_limit=None, faults=Faults(latency=0.6))
    with serve(emulator) as url:
        yield emulator, url


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_pool_wait_is_never_reported_as_sent(
    slow_server: tuple[Emulator, str], backend: str
) -> None:
    emulator, url = slow_server
    before = len(emulator.requests)
    parent = make_session(url, backend=backend, max_concurrency=2, timeout=1)
    wide = parent.with_options(max_concurrency=20)
    outcomes: list[BaseException | str] = []

    async def create(n: int) -> None:
        try:
            outcomes.append(await wide.create_account(ADMIN, f"pool wait {n}"))
        except tim_oa.TimOAError as exc:
            outcomes.append(exc)

    async with parent:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for n in range(20):
                    tg.start_soon(create, n)
    received = len(emulator.requests) - before
    created = [o for o in outcomes if isinstance(o, str)]
    errors = [check_public(o, tim_oa.TransportError) for o in outcomes if not isinstance(o, str)]
    count("faults injected", len(errors))
    assert len(outcomes) == 20
    # The pool has two connections: the first attempts went through, the others waited.
    assert created and errors
    sent = [e for e in errors if e.request_sent]
    # Only a request the server received may be reported as possibly applied.
    assert len(sent) <= received - len(created), (received, len(created), sent)
    for error in errors:
        assert error.is_timeout
        assert not error.request_sent, error
        assert "pool" in str(error)
