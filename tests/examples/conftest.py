"""The examples of ``examples/`` run against the emulator, served on a loopback port.

Each example reads its settings from the ``TIM_OA_*`` environment variables, as a user runs it;
the fixture points them at a fresh emulator.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tim_oa.testing import Emulator, serve

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))  # the examples import their helpers as plain modules


@pytest.fixture
def emulator() -> Emulator:
    """A fresh emulator without send pacing (tests send several messages in a row)."""
    return Emulator(send_per_second=None, broadcasts_per_hour=None)


@pytest.fixture
def served(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """``emulator`` on a loopback port, with the environment an example reads pointing at it."""
    with serve(emulator) as base_url:
        monkeypatch.setenv("TIM_OA_SDKAPPID", str(emulator.sdkappid))
        monkeypatch.setenv("TIM_OA_SECRET_KEY", emulator.secret_key)
        monkeypatch.setenv("TIM_OA_BASE_URL", base_url)
        for name in ("TIM_OA_USERSIG", "TIM_OA_REGION", "TIM_OA_IDENTIFIER"):
            monkeypatch.delenv(name, raising=False)
        yield emulator
