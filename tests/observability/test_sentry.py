"""sentry-sdk's httpx integration records request URLs with their query (the UserSig) in
breadcrumbs and spans for requests sent through ``AsyncClient.send``: a caller's ``http_client``.
The library cannot stop that one; the hooks of docs/guide/tracing.md do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sentry_sdk")

SCRIPT = Path(__file__).with_name("_sentry_check.py")
ROOT = Path(__file__).parents[2]


def run(*mode: str) -> dict[str, bool]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "-", *mode],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    result: dict[str, bool] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_sessions_own_client_is_invisible_to_sentrys_httpx_integration() -> None:
    """Our own client hands requests to its pool directly, not through the patched send()."""
    assert run("own") == {"sent": True, "leaked": False}


def test_sentry_records_the_usersig_of_a_callers_client_without_the_documented_hooks() -> None:
    assert run() == {"sent": True, "leaked": True}


def test_the_documented_sentry_hooks_remove_the_usersig() -> None:
    assert run("scrub") == {"sent": True, "leaked": False}
