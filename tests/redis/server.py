"""A real redis-server on a free loopback port, for the tests of the shared limiter and the recipe.

Redis comes from the system (Debian's ``redis-server`` package, installed by ``.ci/run``). Without
the binary the tests are skipped, unless ``TIM_OA_REQUIRE_REDIS`` is set (CI sets it), in which
case they fail: CI can never skip them silently.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REQUIRE_ENV = "TIM_OA_REQUIRE_REDIS"
_START_TIMEOUT = 10.0


def redis_server_binary() -> str:
    """The path of ``redis-server``; skips the test (or fails it under CI) when there is none."""
    path = shutil.which("redis-server")
    if path is None:
        message = (
            "no redis-server binary on PATH (Debian/Ubuntu: apt-get install redis-server; "
            "macOS: brew install redis)"
        )
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{message}, and {REQUIRE_ENV} is set", pytrace=False)
        pytest.skip(f"{message}; set {REQUIRE_ENV}=1 to make this an error")
    return path


def free_port() -> int:
    """A TCP port nobody listens on at the moment of asking."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ping(port: int, timeout: float = 0.5) -> bool:
    """True when a Redis server answers PING on ``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process on loopback: no persistence, stopped and restarted at will."""

    def __init__(self, binary: str, port: int | None = None) -> None:
        self.binary = binary
        self.port = port or free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="tim-oa-redis-")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server (on the same port as before, after a stop) and wait for PING."""
        assert self._proc is None, "already running"
        self._proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir.name,
                # DEBUG SLEEP makes a slow server for the timeout tests (loopback clients only).
                "--enable-debug-command",
                "local",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while not ping(self.port):
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                self._proc = None
                raise RuntimeError(f"redis-server exited at start: {err.strip()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server did not answer PING in time")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop the server at once (SIGKILL: as abrupt as a crash) and wait for it to exit."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait(10)
            if proc.stderr is not None:
                proc.stderr.close()

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()


def started_server() -> RedisServer:
    """A running server on a free port (retrying when another process took the port first)."""
    binary = redis_server_binary()
    for attempt in range(3):
        server = RedisServer(binary)
        try:
            server.start()
        except RuntimeError:
            server.close()
            if attempt == 2:
                raise
            continue
        return server
    raise AssertionError("unreachable")


def project_root() -> Path:
    return Path(__file__).resolve().parents[2]
