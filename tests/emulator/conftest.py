from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tim_oa.testing import Emulator, ManualClock

# The plugin's fixtures, so this suite works whether or not the pytest11 entry point is installed.
from tim_oa.testing.pytest_plugin import (  # noqa: F401
    tim_oa_emulator,
    tim_oa_session,
    tim_oa_session_factory,
)

from .helpers import T0, RawClient


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def emulator(clock: ManualClock) -> Emulator:
    # Send pacing is tested on its own; elsewhere it would only get in the way.
    return Emulator(clock=clock, send_per_second=None, broadcasts_per_hour=None)


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[RawClient]:
    raw = RawClient(emulator)
    yield raw
    await raw.aclose()
