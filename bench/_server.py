"""The benchmarks' loopback API server, run in a process of its own pinned to its own core.

It answers the Official Account commands the benchmarks use, fast and just correctly enough for
the client: ``add_subscriber`` / ``delete_subscriber`` with one ``Result`` per id,
``get_subscriber_info`` pages over a generated subscriber list with a string cursor,
``get_official_account_info`` with one profile per requested id, ``create_official_account``, and
a plain OK envelope for anything else under ``/v4/official_account_open_http_svc/``. It does not
check signatures or keep state between calls: it is a measuring fixture, not the emulator.

Two knobs make it a model of the real service:

- **latency**: each request is answered ``latency`` seconds after it arrived (half before the
  request is "handled", half after, plus an optional uniform ``jitter``), on timers, so a slow
  answer never holds up another request;
- **a rate-limit model** per command (``token_bucket``, ``fixed_window`` or ``sliding_window``,
  in :mod:`bench._ratemodels`): a call over the limit is answered ``ErrorCode`` 60007 and counted
  as refused. The sliding window is strict: a call is refused when ``rate`` calls were already
  accepted in the last 1.000 s. The check happens when the request "arrives", half the latency
  after it was received.

The benchmark client drives it over HTTP on the same port: ``POST /_bench/config`` (JSON: the
settings below; resets the counters) and ``GET /_bench/stats`` (counters and this process's CPU
time, so a benchmark can check the server was never the bottleneck).

Two implementations of the HTTP side share the handlers: ``raw`` (an ``asyncio.Protocol`` with a
minimal HTTP/1.1 parser: ``Content-Length`` bodies and keep-alive; chunked uploads, which no
client here sends, are refused with 411) and ``uvicorn`` (uvicorn with httptools and a minimal
ASGI app, in :mod:`bench._server_uvicorn`). ``raw`` is the default because it is the cheaper:
about 0.55-0.7x uvicorn's CPU per request on this machine (the ``server.impl`` row measures both in
every full run, and ``server.capacity`` checks the server stays far below the client's cost).

Run it as ``python -m bench._server [--port 0] [--cpu N] [--impl raw|uvicorn]``; it prints
``listening on http://127.0.0.1:PORT`` and serves until its standard input closes.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import http.client
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from ._ratemodels import MODELS

SERVICE_PREFIX = "/v4/official_account_open_http_svc/"
OK = b'{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}'
REFUSED = (
    b'{"ActionStatus":"FAIL","ErrorCode":60007,'
    b'"ErrorInfo":"bench server: over the rate limit","RequestId":"bench"}'
)
_SUBSCRIBER = (
    '{"Subscriber_Account":"user%07d","SubscribeTime":%d,"CustomString":"",'
    '"MsgFlag":"AcceptAndNotify","LastSendMsgTime":0}'
)
_ACCOUNT = (
    '{"Official_Account":%s,"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","Name":"Bench",'
    '"Owner_Account":"owner","CreateTime":1700000000,"LastMsgTime":0,"SubscriberNum":0,'
    '"Introduction":"","FaceUrl":"","Organization":"","CustomString":""}'
)

DEFAULT_CONFIG: dict[str, Any] = {
    "latency": 0.0,  # seconds added to every answer (the simulated round trip)
    "jitter": 0.0,  # up to this many seconds added at random to each half of the latency
    "limit": None,  # None, "token_bucket", "fixed_window" or "sliding_window"
    "rate": 200,  # calls per second per command
    "burst": None,  # token bucket capacity (default: one second's worth, full at the start)
    "subscribers": 1000,  # size of the generated subscriber list
}


# --- the API, sans I/O ------------------------------------------------------------------------


class Api:
    """Request handling shared by both HTTP implementations."""

    def __init__(self) -> None:
        self.config: dict[str, Any] = dict(DEFAULT_CONFIG)
        self.limiters: dict[str, Any] = {}
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.accepted = 0
        self.refused = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections_opened = 0
        self.by_command: dict[str, list[int]] = {}  # command -> [accepted, refused]
        self.limiters.clear()

    def configure(self, settings: dict[str, Any]) -> None:
        unknown = set(settings) - set(DEFAULT_CONFIG)
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        config = dict(DEFAULT_CONFIG)
        config.update(settings)
        if config["limit"] is not None and config["limit"] not in MODELS:
            raise ValueError(f"unknown limit model {config['limit']!r}")
        self.config = config
        self.reset()

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "accepted": self.accepted,
            "refused": self.refused,
            "max_in_flight": self.max_in_flight,
            "connections_opened": self.connections_opened,
            "by_command": self.by_command,
            "cpu": time.process_time(),
            "config": self.config,
        }

    def delays(self) -> tuple[float, float]:
        """(before handling, after handling) for one request."""
        half = self.config["latency"] / 2
        jitter = self.config["jitter"]
        if jitter:
            return half + random.uniform(0, jitter), half + random.uniform(0, jitter)
        return half, half

    def control(self, path: str, body: bytes) -> tuple[int, bytes]:
        if path == "/_bench/config":
            try:
                self.configure(json.loads(body or b"{}"))
            except (ValueError, TypeError) as exc:
                return 400, json.dumps({"error": str(exc)}).encode()
            return 200, json.dumps(self.stats()).encode()
        if path == "/_bench/stats":
            return 200, json.dumps(self.stats()).encode()
        return 404, b'{"error":"not found"}'

    def handle(self, path: str, body: bytes, now: float) -> tuple[int, bytes]:
        """Answer one API request that arrived (after its uplink delay) at ``now``."""
        if not path.startswith(SERVICE_PREFIX):
            return 404, b'{"error":"not found"}'
        command = path[len(SERVICE_PREFIX) :].partition("?")[0]
        self.requests += 1
        counts = self.by_command.get(command)
        if counts is None:
            counts = self.by_command[command] = [0, 0]
        model = self.config["limit"]
        if model is not None:
            limiter = self.limiters.get(command)
            if limiter is None:
                limiter = self.limiters[command] = MODELS[model](self.config)
            if not limiter.allow(now):
                self.refused += 1
                counts[1] += 1
                return 200, REFUSED
        self.accepted += 1
        counts[0] += 1
        handler = HANDLERS.get(command)
        if handler is None:
            return 200, OK
        try:
            return 200, handler(self, json.loads(body))
        except (ValueError, KeyError, TypeError, AttributeError):
            return 200, b'{"ActionStatus":"FAIL","ErrorCode":10004,"ErrorInfo":"bad body"}'


def _subscriber_results(ids: list[str]) -> bytes:
    items = ",".join(f'{{"Subscriber_Account":{json.dumps(i)},"Result":1}}' for i in ids)
    return (
        f'{{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","SubscriberList":[{items}]}}'.encode()
    )


def _add(api: Api, body: dict[str, Any]) -> bytes:
    return _subscriber_results([item["Subscriber_Account"] for item in body["SubscriberList"]])


def _delete(api: Api, body: dict[str, Any]) -> bytes:
    return _subscriber_results(list(body["SubscriberToDel_Account"]))


def _subscribers(api: Api, body: dict[str, Any]) -> bytes:
    total = api.config["subscribers"]
    limit = min(int(body.get("Limit") or 200), 200)
    cursor = body.get("Next") or ""
    start = int(cursor[1:]) if cursor.startswith("n") else 0
    end = min(start + limit, total)
    items = ",".join(_SUBSCRIBER % (i, 1700000000 + i) for i in range(start, end))
    next_cursor = f"n{end}" if end < total else ""
    return (
        f'{{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","Next":"{next_cursor}",'
        f'"SubscriberNum":{total},"SubscriberList":[{items}]}}'
    ).encode()


def _account_info(api: Api, body: dict[str, Any]) -> bytes:
    items = ",".join(
        _ACCOUNT % json.dumps(entry["Official_Account"]) for entry in body["OfficialAccountIdList"]
    )
    return (
        f'{{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","OfficialAccountInfoList":[{items}]}}'
    ).encode()


def _create(api: Api, body: dict[str, Any]) -> bytes:
    account = body.get("OfficialAccountUserID") or "@TOA#_@TOA#bench"
    return (
        f'{{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"",'
        f'"OfficialAccountUserID":{json.dumps(account)}}}'
    ).encode()


HANDLERS: dict[str, Callable[[Api, dict[str, Any]], bytes]] = {
    "add_subscriber": _add,
    "delete_subscriber": _delete,
    "get_subscriber_info": _subscribers,
    "get_official_account_info": _account_info,
    "create_official_account": _create,
}


# --- implementation 1: a raw asyncio protocol -------------------------------------------------

_REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 411: b"Length Required"}
_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*(\d+)[ \t]*\r?$")
_CONNECTION_CLOSE = re.compile(rb"(?im)^connection:[ \t]*close[ \t]*\r?$")
_CHUNKED = re.compile(rb"(?im)^transfer-encoding:")


def _response(status: int, body: bytes, close: bool = False) -> bytes:
    head = b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n" % (
        status,
        _REASONS.get(status, b"Error"),
        len(body),
        b"Connection: close\r\n" if close else b"",
    )
    return head + body


class HttpProtocol(asyncio.Protocol):
    """One connection: parse requests as bytes arrive; answer each on timers."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.loop = asyncio.get_running_loop()
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.queue: collections.deque[tuple[str, bytes, bool]] = collections.deque()
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.api.connections_opened += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end])
            match = _CONTENT_LENGTH.search(head)
            if match is None:
                if _CHUNKED.search(head):
                    self._write(_response(411, b'{"error":"chunked bodies are not supported"}'))
                    self._close()
                    return
                length = 0
            else:
                length = int(match.group(1))
            if len(buffer) < end + 4 + length:
                return
            body = bytes(buffer[end + 4 : end + 4 + length])
            del buffer[: end + 4 + length]
            line = head.split(b"\r\n", 1)[0].split(b" ")
            path = line[1].decode("latin-1") if len(line) > 1 else "/"
            self.queue.append((path, body, _CONNECTION_CLOSE.search(head) is not None))
            if not self.busy:
                self._next()

    def _next(self) -> None:
        if not self.queue or self.transport is None:
            self.busy = False
            return
        self.busy = True
        path, body, close = self.queue.popleft()
        if path.startswith("/_bench/"):
            status, payload = self.api.control(path.partition("?")[0], body)
            self._answer(status, payload, close)
            return
        api = self.api
        api.in_flight += 1
        if api.in_flight > api.max_in_flight:
            api.max_in_flight = api.in_flight
        before, after = api.delays()
        if before <= 0 and after <= 0:
            status, payload = api.handle(path, body, self.loop.time())
            api.in_flight -= 1
            self._answer(status, payload, close)
        else:
            self.loop.call_later(before, self._handle, path, body, close, after)

    def _handle(self, path: str, body: bytes, close: bool, after: float) -> None:
        status, payload = self.api.handle(path, body, self.loop.time())
        self.loop.call_later(after, self._finish, status, payload, close)

    def _finish(self, status: int, payload: bytes, close: bool) -> None:
        self.api.in_flight -= 1
        self._answer(status, payload, close)

    def _answer(self, status: int, payload: bytes, close: bool) -> None:
        self._write(_response(status, payload, close))
        if close:
            self._close()
        else:
            self._next()

    def _write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def serve_raw(api: Api, host: str, port: int, ready: Callable[[int], None]) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: HttpProtocol(api), host, port, backlog=1024, reuse_address=True
    )
    for sock in server.sockets:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ready(server.sockets[0].getsockname()[1])
    async with server:
        await until_stdin_closes()


async def until_stdin_closes() -> None:
    """Serve until the parent closes our standard input (or dies)."""
    done = asyncio.get_running_loop().create_future()

    def watch() -> None:
        with contextlib.suppress(Exception):
            sys.stdin.buffer.read()
        with contextlib.suppress(RuntimeError):
            done.get_loop().call_soon_threadsafe(done.set_result, None)

    threading.Thread(target=watch, daemon=True).start()
    await done


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to one core")
    parser.add_argument("--impl", choices=("raw", "uvicorn"), default="raw")
    args = parser.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    api = Api()

    def ready(port: int) -> None:
        print(f"listening on http://{args.host}:{port}", flush=True)

    if args.impl == "raw":
        serve = serve_raw
    else:
        from ._server_uvicorn import serve_uvicorn as serve
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(api, args.host, args.port, ready))


# --- the client side: start, configure and read the server ------------------------------------


class ServerProcess:
    """A running bench server: ``base_url``, :meth:`configure` and :meth:`stats`."""

    def __init__(self, proc: subprocess.Popen[bytes], base_url: str, impl: str) -> None:
        self.proc = proc
        self.base_url = base_url
        self.impl = impl
        host, _, port = base_url.removeprefix("http://").partition(":")
        self._host, self._port = host, int(port)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        conn = http.client.HTTPConnection(self._host, self._port, timeout=10)
        try:
            payload = json.dumps(body or {}).encode() if method == "POST" else None
            conn.request(method, path, body=payload, headers={"content-type": "application/json"})
            response = conn.getresponse()
            data: dict[str, Any] = json.loads(response.read())
            if response.status != 200:
                raise RuntimeError(f"bench server: {path}: {data}")
            return data
        finally:
            conn.close()

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Replace the server's settings (unset ones take their defaults); reset its counters."""
        return self._call("POST", "/_bench/config", settings)

    def stats(self) -> dict[str, Any]:
        """The server's counters and CPU time."""
        return self._call("GET", "/_bench/stats")


@contextlib.contextmanager
def server_process(*, cpu: int | None = None, impl: str = "raw") -> Iterator[ServerProcess]:
    """Start ``python -m bench._server`` on a free loopback port; stop it on exit."""
    command = [sys.executable, "-m", "bench._server", "--port", "0", "--impl", impl]
    if cpu is not None:
        command += ["--cpu", str(cpu)]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        match = re.search(r"(http://\S+)", line)
        if match is None:
            raise RuntimeError(f"the bench server did not start (it printed {line!r})")
        yield ServerProcess(proc, match.group(1), impl)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


if __name__ == "__main__":
    main()
