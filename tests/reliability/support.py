"""Shared helpers of the reliability suite: figures, bounded calls, error checks, a signer."""

from __future__ import annotations

import collections
import importlib
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest

import tim_oa
from tim_oa.testing import Emulator

from ..conftest import no_backoff

if sys.version_info >= (3, 11):
    import builtins

    _GROUP: tuple[type[BaseException], ...] = (builtins.BaseExceptionGroup,)
else:  # pragma: no cover - Python 3.10
    from exceptiongroup import BaseExceptionGroup

    _GROUP = (BaseExceptionGroup,)

STACK = os.environ.get("TIM_OA_TEST_BACKEND", "").strip() or "httpx"
"""The HTTP stack of the suite's sessions: ``TIM_OA_TEST_BACKEND`` (``httpx`` or ``httpx2``)."""

SDKAPPID = 1400000000
ADMIN = "administrator"
SECRET_KEY = "rel-secret-7c1d9e2b4a6f8e0d1c3b5a7f9e1d3c5b7a9f1e3d5c7b9a1f3e5d7c9b1a3f5e7d"
ACCOUNT = "@TOA#_hostile"

FIGURES: collections.Counter[str] = collections.Counter()
"""What the suite did, printed at the end of the run (see conftest.pytest_terminal_summary)."""


def count(name: str, amount: int = 1) -> None:
    FIGURES[name] += amount


class RecordingSigner(tim_oa.UserSigSigner):
    """A real signer that remembers every UserSig it issued (for the secrets audit)."""

    issued: set[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.issued = set()

    def generate(self, identifier: str, **kwargs: Any) -> str:
        sig = super().generate(identifier, **kwargs)
        self.issued.add(sig)
        return sig


def emulator_session(emulator: Emulator, **options: Any) -> tim_oa.Session:
    """``emulator.session(**options)`` whose retries do not wait (unless a test says so)."""
    return emulator.session(**no_backoff(options))


def make_session(base_url: str, **options: Any) -> tim_oa.Session:
    """A session against ``base_url``: limiters off and no retries unless a test says so."""
    options.setdefault("usersig", RecordingSigner(SDKAPPID, SECRET_KEY))
    options.setdefault("rate_limit", None)
    options.setdefault("send_rate", None)
    options.setdefault("max_retries", 0)
    options.setdefault("timeout", 5)
    if "http_client" not in options and "transport" not in options:
        options.setdefault("backend", STACK)
    return tim_oa.Session(SDKAPPID, ADMIN, base_url=base_url, **no_backoff(options))


def is_group(exc: BaseException) -> bool:
    return isinstance(exc, _GROUP)


def describe(exc: BaseException | None) -> str:
    if exc is None:
        return "nothing"
    if is_group(exc):
        inner = ", ".join(describe(e) for e in exc.exceptions)  # type: ignore[attr-defined]
        return f"{type(exc).__name__}[{inner}]"
    return f"{type(exc).__name__}({exc})"


async def failure_of(
    call: Callable[[], Awaitable[Any]], *, limit: float = 10.0
) -> tuple[BaseException, float]:
    """Run ``call`` under a guard of ``limit`` seconds; return what it raised and how long it took.

    The guard firing (the call still running after ``limit``) fails the test, so a test stays
    bounded in time even against a library that would hang.
    """
    started = time.monotonic()
    with anyio.move_on_after(limit) as scope:
        try:
            await call()
        except BaseException as exc:
            if scope.cancel_called and isinstance(exc, anyio.get_cancelled_exc_class()):
                raise
            return exc, time.monotonic() - started
        pytest.fail(f"the call returned normally after {time.monotonic() - started:.2f} s")
    pytest.fail(f"the call was still running after {limit} s (stopped by the test's guard)")


async def result_of(call: Callable[[], Awaitable[Any]], *, limit: float = 10.0) -> Any:
    """Run ``call`` under a guard; its exception (if any) propagates."""
    with anyio.move_on_after(limit) as scope:
        return await call()
    if scope.cancelled_caught:
        pytest.fail(f"the call was still running after {limit} s (stopped by the test's guard)")


def check_public(exc: BaseException, cls: type[BaseException] = tim_oa.TimOAError) -> Any:
    """A public call's error: one ``TimOAError`` of ``cls``, never a group or a raw exception."""
    assert not is_group(exc), f"an exception group escaped a public call: {describe(exc)}"
    assert isinstance(exc, tim_oa.TimOAError), f"not a TimOAError: {describe(exc)}"
    assert isinstance(exc, cls), f"expected {cls.__name__}, got {describe(exc)}"
    return exc


async def assert_usable(oa: tim_oa.Session) -> None:
    """The session still works: one call to a correct server succeeds promptly."""
    await result_of(lambda: oa.modify_account(ACCOUNT, name="still usable"), limit=5)


def answering(sent: list[httpx.Request], lib: Any = httpx) -> Callable[[Any], Any]:
    """A ``MockTransport`` handler of ``lib``: records each request, answers it correctly."""
    from .hostile import envelope, good_fields

    def handle(request: Any) -> Any:
        sent.append(request)
        command = request.url.path.rsplit("/", 1)[-1]
        try:
            body = json.loads(request.content)
        except ValueError:
            body = {}
        return lib.Response(200, json=envelope(**good_fields(command, body)))

    return handle


def mock_session(sent: list[httpx.Request], **options: Any) -> tim_oa.Session:
    """A session whose requests go to an in-memory transport that counts them in ``sent``.

    The transport is of the suite's stack (``STACK``), and brings it to the session.
    """
    lib = importlib.import_module(STACK)
    settings: dict[str, Any] = {
        "sdkappid": SDKAPPID,
        "identifier": ADMIN,
        "usersig": "fixed-usersig",
        "base_url": "https://api.test",
        "transport": lib.MockTransport(answering(sent, lib)),
        "rate_limit": None,
        "send_rate": None,
        "max_retries": 0,
    }
    settings.update(options)
    return tim_oa.Session(**no_backoff(settings))
