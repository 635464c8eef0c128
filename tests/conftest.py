"""Shared fixtures: a respx-mocked API and sessions bound to it; the reliability summary line."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

import tim_oa

BASE_URL = "https://api.test"
SDKAPPID = 1400000000
SECRET = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"


def ok(**fields: Any) -> httpx.Response:
    """A successful envelope with extra fields."""
    return httpx.Response(
        200, json={"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", **fields}
    )


def fail(code: int, info: str = "failed") -> httpx.Response:
    """An error envelope."""
    return httpx.Response(
        200,
        json={"ActionStatus": "FAIL", "ErrorCode": code, "ErrorInfo": info, "RequestId": "Id-1"},
    )


def body_of(call: Any) -> dict[str, Any]:
    """The JSON body of a recorded respx call."""
    data: dict[str, Any] = json.loads(call.request.content)
    return data


def no_backoff(options: dict[str, Any]) -> dict[str, Any]:
    """Session ``options`` whose retries do not wait (the backoff formula has its own tests).

    Unless ``options`` bring their own ``retry=`` policy, it is a ``RetryPolicy(base_delay=0)``
    with the ``max_retries=`` and ``retry_deadline=`` given (which stay, agreeing with it). Values
    a policy refuses are left to the session, to refuse in its own words.
    """
    if "retry" not in options:
        with contextlib.suppress(tim_oa.ValidationError, TypeError):
            options["retry"] = tim_oa.RetryPolicy(
                base_delay=0,
                max_retries=options.get("max_retries", 3),
                deadline=options.get("retry_deadline", 60.0),
            )
    return options


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """A respx router for the test base URL; every request must be mocked."""
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router


@pytest.fixture
def signer() -> tim_oa.UserSigSigner:
    return tim_oa.UserSigSigner(SDKAPPID, SECRET)


@pytest.fixture
def make_session(
    signer: tim_oa.UserSigSigner,
) -> Iterator[Callable[..., tim_oa.Session]]:
    """Build sessions against the mocked API; limiters off unless a test turns them on."""
    made: list[tim_oa.Session] = []

    def factory(**options: Any) -> tim_oa.Session:
        options.setdefault("usersig", signer)
        options.setdefault("rate_limit", None)
        options.setdefault("send_rate", None)
        session = tim_oa.Session(
            sdkappid=SDKAPPID, identifier="administrator", base_url=BASE_URL, **no_backoff(options)
        )
        made.append(session)
        return session

    yield factory


@pytest.fixture
async def oa(make_session: Callable[..., tim_oa.Session]) -> AsyncIterator[tim_oa.Session]:
    session = make_session()
    async with session:
        yield session


# The reliability suite's closing line: what it did (tests/reliability/support.FIGURES). Under
# pytest-xdist each worker counts its own share and hands it to the controller, which prints the
# sum (the controller collects nothing, so this lives in the top conftest, which it does load).
_FIGURES_MODULE = "tests.reliability.support"
_FIGURES_KEY = "tim_oa_reliability_figures"
_ORDER = (
    ("property cases", "property cases"),
    ("faults injected", "faults injected"),
    ("ids checked", "ids checked"),
    ("cancellations", "cancellations"),
    ("texts scanned", "texts scanned for secrets"),
    ("secret hits", "secret hits"),
    ("round-three cases", "round-three cases (issue 17)"),
)


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    support = sys.modules.get(_FIGURES_MODULE)
    if workeroutput is not None and support is not None:
        workeroutput[_FIGURES_KEY] = dict(support.FIGURES)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    figures = getattr(node, "workeroutput", {}).get(_FIGURES_KEY)
    if figures:
        from tests.reliability.support import FIGURES

        FIGURES.update(figures)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    support = sys.modules.get(_FIGURES_MODULE)
    if support is None or not support.FIGURES:
        return
    parts = [f"{support.FIGURES[key]:,} {label}" for key, label in _ORDER]
    terminalreporter.write_line("reliability: " + ", ".join(parts))
