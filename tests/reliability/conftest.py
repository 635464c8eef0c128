"""Fixtures of the reliability suite, and its closing summary line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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


_ORDER = (
    ("property cases", "property cases"),
    ("faults injected", "faults injected"),
    ("ids checked", "ids checked"),
    ("cancellations", "cancellations"),
    ("texts scanned", "texts scanned for secrets"),
    ("secret hits", "secret hits"),
    ("round-three cases", "round-three cases (issue 17)"),
)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    parts = [f"{FIGURES[key]:,} {label}" for key, label in _ORDER]
    terminalreporter.write_line("reliability: " + ", ".join(parts))
