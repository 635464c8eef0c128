"""Fixtures of the reliability suite (its closing summary line: tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .hostile import HostileServer
from .support import FIGURES, SDKAPPID, SECRET_KEY, RecordingSigner


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    """A fresh hostile server on a loopback port; answers correctly until scripted."""
    with HostileServer() as server:
        yield server
        FIGURES["faults injected"] += server.faults


@pytest.fixture
def other_server() -> Iterator[HostileServer]:
    """A second server (another origin), e.g. a redirect target that must see nothing."""
    with HostileServer() as server:
        yield server


@pytest.fixture
def recording_signer() -> RecordingSigner:
    return RecordingSigner(SDKAPPID, SECRET_KEY)
