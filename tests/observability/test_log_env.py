"""TIM_OA_LOG=debug|info turns the library's logging on without code, secrets still redacted."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tim_oa import _logenv

from .helpers import SECRET_SIG

ROOT = Path(__file__).parents[2]

PROGRAM = f"""
import asyncio, logging, httpx, tim_oa

async def main():
    answer = {{"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}}
    mock = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    async with tim_oa.Session(
        1400000000, "admin", {SECRET_SIG!r}, base_url="https://api.test", transport=mock
    ) as oa:
        await oa.call("get_official_account_info", {{}})
    logging.getLogger("tim_oa").info("sent https://api.test/v4/x?usersig={SECRET_SIG}&random=1")

asyncio.run(main())
"""


def run(value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TIM_OA_LOG"}
    env["PYTHONPATH"] = str(ROOT)
    if value is not None:
        env["TIM_OA_LOG"] = value
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_debug_logs_every_attempt_without_the_usersig() -> None:
    out = run("debug")
    assert "DEBUG tim_oa: get_official_account_info: attempt 1 ok" in out
    assert "INFO tim_oa: sent https://api.test/v4/x?usersig=" in out
    assert SECRET_SIG not in out


def test_info_and_unset() -> None:
    assert "attempt 1 ok" not in run("info")
    assert "INFO tim_oa: sent" in run("INFO")
    assert run(None) == ""


@pytest.fixture
def clean_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("tim_oa")
    handlers, level = list(logger.handlers), logger.level
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_configured_once_and_unknown_values_ignored(
    clean_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    assert _logenv.configure_from_env({"TIM_OA_LOG": "debug"}) is not None
    assert _logenv.configure_from_env({"TIM_OA_LOG": "debug"}) is None  # one handler at most
    assert clean_logger.level == logging.DEBUG
    with caplog.at_level(logging.WARNING, logger="tim_oa"):
        assert _logenv.configure_from_env({"TIM_OA_LOG": "verbose"}) is None
    assert "is not one of: debug, info" in caplog.text
