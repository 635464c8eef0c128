"""pytest fixtures for testing code that uses tim_oa against the emulator.

Registered as the ``tim_oa`` pytest plugin when tim_oa is installed; or enable it by hand with
``-p tim_oa.testing.pytest_plugin``.

Fixtures:
    tim_oa_emulator: a fresh ``Emulator()`` (default app, key and admin) for each test.
    tim_oa_session: an async fixture yielding ``tim_oa_emulator.session()`` and closing it after
        the test.

``tim_oa_session`` is declared with ``pytest_asyncio.fixture`` when pytest-asyncio is installed,
so it works in both of its modes. Without pytest-asyncio it is a plain async fixture that the
AnyIO pytest plugin runs, for tests marked ``@pytest.mark.anyio``. This module imports cleanly
either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest

from ._emulator import Emulator

if TYPE_CHECKING:
    from tim_oa import Session

__all__ = ["tim_oa_emulator", "tim_oa_session"]


@pytest.fixture
def tim_oa_emulator() -> Emulator:
    """A fresh emulator for one test."""
    return Emulator()


async def _session(tim_oa_emulator: Emulator) -> AsyncIterator[Session]:
    """A ``tim_oa.Session`` bound to ``tim_oa_emulator``, closed after the test."""
    session = tim_oa_emulator.session()
    try:
        yield session
    finally:
        await session.aclose()


def _async_fixture() -> Callable[..., Any]:
    try:
        import pytest_asyncio
    except ImportError:
        return pytest.fixture
    return pytest_asyncio.fixture


tim_oa_session = _async_fixture()(_session, name="tim_oa_session")
