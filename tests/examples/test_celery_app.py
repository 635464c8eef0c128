"""examples/celery_app.py: a real Celery worker with the prefork pool, against the emulator.

The worker runs in a subprocess (``celery -A celery_app worker --pool=prefork -c 2``) with a
folder as its broker; the module-level SyncSession is made in the worker's parent process and
used by both forked children. The test sends the tasks and reads the emulator's state.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tim_oa.testing import Emulator

from .conftest import EXAMPLES

pytest.importorskip("celery")

TASKS = 6
USERS_PER_TASK = 150


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the prefork pool needs fork")
def test_prefork_workers_add_subscribers(
    served: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "broker"
    folder.mkdir()
    monkeypatch.setenv("CELERY_BROKER_URL", "filesystem://")
    monkeypatch.setenv("CELERY_BROKER_FOLDER", str(folder))
    with served.sync_session() as oa:
        account_id = oa.create_account("107867", "News")

    sys.modules.pop("celery_app", None)
    celery_app = importlib.import_module("celery_app")  # the producer side, in this process
    try:
        for n in range(TASKS):
            users = [f"t{n}-u{i}" for i in range(USERS_PER_TASK)]
            celery_app.add_subscribers.delay(account_id, users)
    finally:
        celery_app.oa.close()
        sys.modules.pop("celery_app", None)

    command = [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--pool=prefork"]
    options = ["-c", "2", "--loglevel=INFO", "--without-heartbeat", "--without-mingle"]
    worker = subprocess.Popen(
        [*command, *options, "--without-gossip"],
        cwd=EXAMPLES,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLES.parent), str(EXAMPLES)])},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        expected = TASKS * USERS_PER_TASK
        while served.account(account_id).subscriber_num < expected:
            assert worker.poll() is None, "the worker exited early"
            assert time.monotonic() < deadline, "the tasks did not finish in time"
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)  # warm shutdown
        try:
            output, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    assert served.account(account_id).subscriber_num == expected
    adds = [r for r in served.requests if r.command == "add_subscriber"]
    assert len(adds) == TASKS * 2 and all(r.error_code == 0 for r in adds)
    assert output.count("succeeded in") == TASKS, output
    assert "Traceback" not in output, output
