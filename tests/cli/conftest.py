"""Fixtures for the command-line tests: an emulator served on loopback and a CLI runner."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner, Result

import tim_oa
from tim_oa.cli._app import cli
from tim_oa.testing import Emulator, serve

SDKAPPID = 1400000123
# Distinctive values, so a leak into any output is unmistakable.
SECRET_KEY = "cli-test-secret-9f2c41e7d0b84a6c8e3f5a1b2c3d4e5f"
ENV_VARS = (
    "TIM_OA_SDKAPPID",
    "TIM_OA_IDENTIFIER",
    "TIM_OA_SECRET_KEY",
    "TIM_OA_USERSIG",
    "TIM_OA_REGION",
    "TIM_OA_BASE_URL",
    "TIM_OA_CONFIG",
    "TIM_OA_PROFILE",
)
# No test may read a real user's ~/.config/tim-oa/config.toml.
NO_CONFIG_HOME = "/nonexistent/tim-oa-tests/config-home"
_TOKEN = re.compile(r"[A-Za-z0-9*_\-]{80,}")


@dataclass
class Served:
    emulator: Emulator
    base_url: str

    def env(self, **overrides: str | None) -> dict[str, str | None]:
        env: dict[str, str | None] = dict.fromkeys(ENV_VARS)
        env.update(
            XDG_CONFIG_HOME=NO_CONFIG_HOME,
            TIM_OA_SDKAPPID=str(SDKAPPID),
            TIM_OA_SECRET_KEY=SECRET_KEY,
            TIM_OA_BASE_URL=self.base_url,
        )
        env.update(overrides)
        return env


@pytest.fixture(scope="session")
def served() -> Iterator[Served]:
    """One emulator on a loopback port for the whole CLI suite; tests use their own accounts."""
    emulator = Emulator(
        SDKAPPID,
        SECRET_KEY,
        rate_limit=None,
        send_per_second=None,
        broadcasts_per_hour=None,
    )
    with serve(emulator) as base_url:
        yield Served(emulator, base_url)


def _runner() -> CliRunner:
    # click < 8.2 mixes stderr into stdout unless told not to.
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    return CliRunner()


@pytest.fixture
def run(served: Served) -> Any:
    """``run(*args, input=..., env=...)`` invokes ``tim-oa`` against the served emulator."""
    runner = _runner()

    def invoke(
        *args: str, input: str | bytes | None = None, env: Mapping[str, str | None] | None = None
    ) -> Result:
        # A short request timeout keeps every invocation bounded in time.
        result = runner.invoke(
            cli,
            ["--timeout", "5", *args],
            input=input,
            env=dict(served.env() if env is None else env),
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


@pytest.fixture
def bare_run() -> Any:
    """Invokes ``tim-oa`` with no TIM_OA_* variables at all, unless ``env`` adds some."""
    runner = _runner()

    def invoke(
        *args: str, input: str | None = None, env: Mapping[str, str | None] | None = None
    ) -> Result:
        full: dict[str, str | None] = dict.fromkeys(ENV_VARS)
        full["XDG_CONFIG_HOME"] = NO_CONFIG_HOME
        full.update(env or {})
        result = runner.invoke(cli, list(args), input=input, env=full)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


def assert_no_secrets(result: Result, *extra: str) -> None:
    """Neither the secret key, nor a given value, nor anything that decodes as a UserSig."""
    for text in (result.stdout, result.stderr):
        assert SECRET_KEY not in text
        for value in extra:
            assert value not in text
        for token in _TOKEN.findall(text):
            with pytest.raises(ValueError):
                tim_oa.decode_usersig(token)


def one_line_error(result: Result) -> str:
    """The ``error:`` line of stderr, checking there is exactly one and no traceback."""
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]
