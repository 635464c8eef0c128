"""Run the emulator in a separate process, so the client's CPU time is measured on its own."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from collections.abc import Iterator

from tim_oa.testing import DEFAULT_SDKAPPID, DEFAULT_SECRET_KEY


@contextlib.contextmanager
def emulator_process() -> Iterator[str]:
    """Start ``python -m tim_oa.testing`` on a free loopback port; yield its base URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tim_oa.testing",
            "--port",
            "0",
            "--no-rate-limit",
            "--no-send-limits",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for _ in range(20):
            line = proc.stdout.readline()
            match = re.search(r"(http://\S+)", line)
            if match:
                yield match.group(1)
                break
        else:
            raise RuntimeError("the emulator process did not start")
    finally:
        proc.terminate()
        proc.wait(10)


SDKAPPID = DEFAULT_SDKAPPID
SECRET_KEY = DEFAULT_SECRET_KEY
