"""A hostile HTTP/1.1 server on loopback, written for the reliability suite.

It shares no code with the library or its emulator: raw asyncio streams, its own request parser,
its own answers. It runs its own event loop in a thread, so a test's loop (and its task count,
its cancellation) sees only the client, and the server keeps misbehaving on schedule even while
the client is busy.

A test scripts it with *acts*, one per request, in order; once the script is used up every
request gets the default act (a correct answer, see :func:`good`)::

    server.script(html(), truncated_json())     # the next two requests
    server.always(trickle_body())               # every request after the script

What it saw is kept for assertions: ``server.requests`` (parsed requests, in arrival order),
``server.connections`` (accepted), ``server.open_connections`` (now open), ``server.faults``
(scripted acts served).

The module is longer than the project's ~500 lines on purpose: the server and its catalogue of
acts are read together, since each act is a few lines of raw protocol that only make sense next
to the loop that runs them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import email.utils
import functools
import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

SERVICE_PREFIX = "/v4/official_account_open_http_svc/"
_CHUNK = b"0" * (1 << 20)  # one preallocated MiB, so streaming a huge body allocates nothing


@dataclass
class SeenRequest:
    """One request as the server read it."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    time: float
    connection: int

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def command(self) -> str:
        path = self.path
        return path[len(SERVICE_PREFIX) :] if path.startswith(SERVICE_PREFIX) else path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))

    @property
    def raw_query(self) -> str:
        return urlsplit(self.target).query

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Conn:
    """The server side of one TCP connection."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.number = number

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0), not a polite FIN."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def wait_closed_by_peer(self, limit: float = 60.0) -> None:
        """Read and discard until the client closes the connection (or ``limit`` passes)."""
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            async with _timeout(limit):
                while await self.reader.read(65536):
                    pass


@contextlib.asynccontextmanager
async def _timeout(seconds: float) -> Any:
    task = asyncio.current_task()
    assert task is not None
    handle = asyncio.get_running_loop().call_later(seconds, task.cancel)
    try:
        yield
    except asyncio.CancelledError:
        raise asyncio.TimeoutError from None
    finally:
        handle.cancel()


# An act answers one request. It returns True to keep the connection open for the next one.
ActFn = Callable[[Conn, "SeenRequest | None"], Awaitable[bool]]


@dataclass
class Act:
    """A scripted behaviour. ``before_read`` acts run as soon as a connection is accepted."""

    name: str
    run: ActFn
    before_read: bool = False


# --- building answers --------------------------------------------------------------------------


def response_head(
    status: int,
    headers: Iterable[tuple[str, str]] = (),
    *,
    length: int | None = None,
    reason: str = "Whatever",
) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    names = set()
    for name, value in headers:
        lines.append(f"{name}: {value}")
        names.add(name.lower())
    if length is not None and "content-length" not in names:
        lines.append(f"Content-Length: {length}")
    if "connection" not in names:
        lines.append("Connection: keep-alive")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def envelope(**fields: Any) -> dict[str, Any]:
    """A successful answer envelope with extra fields."""
    return {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", **fields}


def error_envelope(code: int, info: str = "refused") -> dict[str, Any]:
    return {"ActionStatus": "FAIL", "ErrorCode": code, "ErrorInfo": info}


def good_fields(command: str, body: Any) -> dict[str, Any]:
    """The fields of a correct answer to ``command`` for the request ``body``."""
    body = body if isinstance(body, dict) else {}
    if command == "create_official_account":
        return {"OfficialAccountUserID": body.get("OfficialAccountUserID") or "@TOA#_@TOA#gen1"}
    if command == "add_subscriber":
        ids = [i.get("Subscriber_Account") for i in body.get("SubscriberList", [])]
        return {"SubscriberList": [{"Subscriber_Account": i, "Result": 1} for i in ids]}
    if command == "delete_subscriber":
        ids = body.get("SubscriberToDel_Account", [])
        return {"SubscriberList": [{"Subscriber_Account": i, "Result": 1} for i in ids]}
    if command == "get_official_account_info":
        ids = [i.get("Official_Account") for i in body.get("OfficialAccountIdList", [])]
        return {
            "OfficialAccountInfoList": [
                {
                    "Official_Account": i,
                    "ActionStatus": "OK",
                    "ErrorCode": 0,
                    "ErrorInfo": "",
                    "Name": "Name",
                    "Owner_Account": "owner",
                }
                for i in ids
            ]
        }
    if command == "get_subscriber_info":
        return {"SubscriberList": [], "Next": "", "SubscriberNum": 0}
    if command == "get_subscribed_official_account_list":
        return {"OfficialAccountInfoList": [], "TotalCount": 0, "CompleteFlag": 1, "Next": 0}
    if command == "send_official_account_msg":
        return {"MsgKey": "71_1_1698741698", "MsgTime": 1698741698}
    if command == "official_account_msg_get_simple":
        return {"RspMsgList": [], "LastMsgKey": "", "IsFinished": 1}
    if command == "official_account_msg_recall":
        keys = body.get("MsgKeyList", [])
        return {"RecallRetList": [{"MsgKey": k, "RetCode": 0} for k in keys]}
    return {}


async def _write_reply(
    conn: Conn, status: int, body: bytes, headers: Iterable[tuple[str, str]] = ()
) -> bool:
    await conn.send(response_head(status, headers, length=len(body)) + body)
    return True


def reply(
    status: int = 200,
    body: bytes | str = b"",
    headers: Iterable[tuple[str, str]] = (),
    *,
    name: str | None = None,
) -> Act:
    """A complete, well-framed HTTP answer."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    extra = tuple(headers)

    async def run(conn: Conn, request: SeenRequest | None) -> bool:
        return await _write_reply(conn, status, data, extra)

    return Act(name or f"reply {status}", run)


def json_reply(
    document: Any | Callable[[SeenRequest], Any],
    status: int = 200,
    headers: Iterable[tuple[str, str]] = (),
    *,
    name: str = "json",
) -> Act:
    """A JSON answer; ``document`` may be a function of the request."""
    extra = (("Content-Type", "application/json"), *headers)

    async def run(conn: Conn, request: SeenRequest | None) -> bool:
        doc = document(request) if callable(document) and request is not None else document
        data = json.dumps(doc).encode("utf-8")
        return await _write_reply(conn, status, data, extra)

    return Act(name, run)


def good() -> Act:
    """A correct answer for the command asked (the default act)."""

    def document(request: SeenRequest) -> Any:
        return envelope(**good_fields(request.command, request.json()))

    return json_reply(document, name="good")


def with_fields(**fields: Any) -> Act:
    """An OK envelope with exactly these extra fields, whatever was asked."""
    return json_reply(envelope(**fields), name="fields " + ",".join(fields))


def html(status: int = 200) -> Act:
    page = "<html><head><title>Gateway</title></head><body><h1>Welcome</h1></body></html>"
    return reply(status, page, [("Content-Type", "text/html")], name=f"html {status}")


def truncated_json() -> Act:
    return reply(
        200,
        b'{"ActionStatus":"OK","ErrorCode":0,"Err',
        [("Content-Type", "application/json")],
        name="truncated json",
    )


def redirect(location: str | Callable[[SeenRequest], str], status: int = 302) -> Act:
    async def run(conn: Conn, request: SeenRequest | None) -> bool:
        where = location(request) if callable(location) and request is not None else location
        return await _write_reply(conn, status, b"", [("Location", str(where))])

    return Act(f"redirect {status}", run)


def retry_after(status: int, value: str | float) -> Act:
    """429/503 with a ``Retry-After`` header (seconds, or an HTTP date when given a str)."""
    return reply(
        status, "slow down", [("Retry-After", str(value))], name=f"{status} Retry-After {value}"
    )


def http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


def reset_before_read() -> Act:
    async def run(conn: Conn, request: SeenRequest | None) -> bool:
        conn.reset()
        return False

    return Act("reset before read", run, before_read=True)


def reset_after_read() -> Act:
    async def run(conn: Conn, request: SeenRequest | None) -> bool:
        conn.reset()
        return False

    return Act("reset after read", run)


def close_mid_body(declared: int = 1000, sent: int = 40) -> Act:
    async def run(conn: Conn, request: SeenRequest | None) -> bool:
        partial = b'{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"' + b"x" * sent
        head = response_head(200, [("Content-Type", "application/json")], length=declared)
        await conn.send(head + partial[:sent])
        conn.writer.close()
        return False

    return Act("close mid-body", run)


def silent() -> Act:
    """Read the request, never answer; hold the connection until the client gives up."""

    async def run(conn: Conn, request: SeenRequest | None) -> bool:
        await conn.wait_closed_by_peer()
        return False

    return Act("never answers", run)


def trickle_body(interval: float = 0.2, total: int = 100) -> Act:
    """Headers at once, then the body one byte per ``interval`` (``total`` bytes: ~20 s)."""

    async def run(conn: Conn, request: SeenRequest | None) -> bool:
        await conn.send(response_head(200, [("Content-Type", "application/json")], length=total))
        for _ in range(total):
            await conn.send(b" ")
            await asyncio.sleep(interval)
        return False

    return Act("trickled body", run)


def slow_headers(interval: float = 0.2, count: int = 100) -> Act:
    """The status line, then header bytes one per ``interval``."""

    async def run(conn: Conn, request: SeenRequest | None) -> bool:
        await conn.send(b"HTTP/1.1 200 OK\r\n")
        header = b"X-Slow: " + b"a" * count
        for byte in header:
            await conn.send(bytes([byte]))
            await asyncio.sleep(interval)
        return False

    return Act("slow headers", run)


def delayed(seconds: float, act: Act) -> Act:
    async def run(conn: Conn, request: SeenRequest | None) -> bool:
        await asyncio.sleep(seconds)
        return await act.run(conn, request)

    return Act(f"{act.name} after {seconds}s", run, act.before_read)


_PAD_HEAD = b'{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","Pad":"'
_PAD_TAIL = b'"}'


def huge_body(mib: int) -> Act:
    """A valid JSON envelope of ``mib`` MiB, streamed with chunked encoding (no length)."""

    async def run(conn: Conn, request: SeenRequest | None) -> bool:
        await conn.send(
            response_head(
                200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]
            )
        )
        await conn.send(b"%x\r\n%s\r\n" % (len(_PAD_HEAD), _PAD_HEAD))
        size = b"%x\r\n" % len(_CHUNK)
        for _ in range(mib):
            conn.writer.write(size)
            conn.writer.write(_CHUNK)
            conn.writer.write(b"\r\n")
            await conn.writer.drain()
        await conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(_PAD_TAIL), _PAD_TAIL))
        return True

    return Act(f"huge body {mib} MiB", run)


@functools.lru_cache(maxsize=4)
def compressed_envelope(mib: int, encoding: str) -> bytes:
    """A valid JSON envelope of ``mib`` MiB (decoded), gzip- or zlib-("deflate") compressed."""
    wbits = 31 if encoding == "gzip" else 15
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    parts = [packer.compress(_PAD_HEAD)]
    parts.extend(packer.compress(_CHUNK) for _ in range(mib))
    parts.append(packer.compress(_PAD_TAIL))
    parts.append(packer.flush())
    return b"".join(parts)


def bomb(mib: int, encoding: str = "gzip") -> Act:
    """A compression bomb: a small body that decodes to ``mib`` MiB of valid JSON."""
    data = compressed_envelope(mib, encoding)

    async def run(conn: Conn, request: SeenRequest | None) -> bool:
        head = response_head(
            200,
            [("Content-Type", "application/json"), ("Content-Encoding", encoding)],
            length=len(data),
        )
        await conn.send(head + data)
        return True

    return Act(f"{encoding} bomb {mib} MiB", run)


def endless(pages: Callable[[SeenRequest, int], Any]) -> Act:
    """A JSON answer computed from the request and how many times this act has answered."""
    count = [0]

    async def run(conn: Conn, request: SeenRequest | None) -> bool:
        assert request is not None
        count[0] += 1
        data = json.dumps(pages(request, count[0])).encode("utf-8")
        return await _write_reply(conn, 200, data, [("Content-Type", "application/json")])

    return Act("endless pages", run)


# --- the server --------------------------------------------------------------------------------


@dataclass
class HostileServer:
    """The scriptable server; ``start()`` it, ``stop()`` it (the fixture does both)."""

    host: str = "127.0.0.1"
    default: Act = field(default_factory=good)
    requests: list[SeenRequest] = field(default_factory=list)
    connections: int = 0
    open_connections: int = 0
    faults: int = 0
    delay: float = 0.0
    """Seconds every answer of the default act is delayed by (keeps requests in flight)."""

    def __post_init__(self) -> None:
        self._script: collections.deque[Act] = collections.deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    # -- scripting --

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def script(self, *acts: Act) -> None:
        """Queue acts for the next requests, in order."""
        with self._lock:
            self._script.extend(acts)

    def always(self, act: Act) -> None:
        """Answer every request after the script with ``act``."""
        self.default = act

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    def commands(self) -> list[str]:
        return [r.command for r in self.requests]

    def _pop(self, *, before_read: bool) -> Act | None:
        """The act for a fresh connection (``before_read``) or for a request just read.

        An act that must run before reading fires only on a newly accepted connection; after a
        request was read, the next act of the script (or the default) answers it.
        """
        with self._lock:
            if self._script:
                if self._script[0].before_read == before_read or not before_read:
                    self.faults += 1
                    return self._script.popleft()
                return None
            default = self.default
            if before_read and not default.before_read:
                return None
            if default.name != "good":
                self.faults += 1
                return default
        return delayed(self.delay, default) if self.delay else default

    # -- lifecycle --

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hostile-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the hostile server did not start")

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> HostileServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._accept, self.host, 0, limit=1 << 20)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(BaseException):
                    await task
            await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        self.open_connections += 1
        conn = Conn(reader, writer, self.connections)
        try:
            await self._serve(conn)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass  # the server is stopping
        finally:
            self.open_connections -= 1
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _serve(self, conn: Conn) -> None:
        act = self._pop(before_read=True)
        if act is not None:
            await act.run(conn, None)
            return
        while True:
            request = await self._read_request(conn)
            if request is None:
                return
            self.requests.append(request)
            act = self._pop(before_read=False)
            assert act is not None
            if not await act.run(conn, request):
                return

    async def _read_request(self, conn: Conn) -> SeenRequest | None:
        try:
            head = await conn.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await conn.reader.readexactly(length) if length else b""
        return SeenRequest(method, target, headers, body, time.monotonic(), conn.number)
