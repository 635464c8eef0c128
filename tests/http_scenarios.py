"""A loopback HTTP server for transport tests, written on raw sockets in threads.

It runs outside the test's event loop (so one server serves asyncio, trio and several
``asyncio.run`` calls) and answers by path, the way a misbehaving server would: trickled bytes,
compression bombs, oversized bodies, redirects, ``Retry-After``, resets. Every answer is written
by hand, so what reaches the client is exactly what the test says.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

OK_BODY = b'{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}'


def gzip_bomb(expanded_mib: int) -> bytes:
    """A gzip stream (no trailer) that inflates to ``expanded_mib`` MiB of zeros.

    After a full flush deflate restarts with an empty window, so the compressed block of one MiB of
    zeros is the same bytes every time: the bomb is built by repetition, not by compressing a GiB.
    """
    mib = b"\0" * (1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = packer.compress(mib) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(mib) + packer.flush(zlib.Z_FULL_FLUSH)
    return head + block * (expanded_mib - 1)


class Server:
    """A threaded raw-socket HTTP/1.1 server on 127.0.0.1.

    ``routes`` maps a path (without the query) to a handler ``(conn, request) -> keep_alive``;
    ``requests`` records each request's method, target and headers.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[socket.socket, dict[str, Any]], bool]] = {}
        self.requests: list[dict[str, Any]] = []
        self.connections = 0
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._open.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while True:
                line = reader.readline()
                if not line:
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (header := reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = reader.read(int(headers.get("content-length", "0")))
                request = {"method": method, "target": target, "headers": headers, "body": body}
                self.requests.append(request)
                route = self.routes.get(target.split("?", 1)[0], respond_ok)
                if not route(conn, request):
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._open.discard(conn)
            reader.close()
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        with self._lock:
            for conn in list(self._open):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


def head(status: str, headers: dict[str, str], length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {status}"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def respond(
    status: str = "200 OK", body: bytes = OK_BODY, headers: dict[str, str] | None = None
) -> Callable[[socket.socket, dict[str, Any]], bool]:
    """A handler answering at once, keeping the connection open."""
    fields = {"Content-Type": "application/json", **(headers or {})}

    def handler(conn: socket.socket, request: dict[str, Any]) -> bool:
        conn.sendall(head(status, fields, len(body)) + body)
        return True

    return handler


respond_ok = respond()


def echo_headers(conn: socket.socket, request: dict[str, Any]) -> bool:
    """Answer with the request's headers inside an OK envelope."""
    body = json.dumps({"ActionStatus": "OK", "ErrorCode": 0, **request["headers"]}).encode()
    conn.sendall(head("200 OK", {"Content-Type": "application/json"}, len(body)) + body)
    return True


def trickle(interval: float, total: int = 200) -> Callable[[socket.socket, dict[str, Any]], bool]:
    """Headers at once, then one body byte every ``interval`` seconds."""

    def handler(conn: socket.socket, request: dict[str, Any]) -> bool:
        conn.sendall(head("200 OK", {}, total))
        for _ in range(total):
            time.sleep(interval)
            conn.sendall(b" ")
        return False

    return handler


def stall(seconds: float) -> Callable[[socket.socket, dict[str, Any]], bool]:
    """Say nothing for ``seconds``, then close."""

    def handler(conn: socket.socket, request: dict[str, Any]) -> bool:
        time.sleep(seconds)
        return False

    return handler


def stream(
    chunks: Iterator[bytes], headers: dict[str, str] | None = None, length: int | None = None
) -> Callable[[socket.socket, dict[str, Any]], bool]:
    """A body sent chunk by chunk (close-delimited unless ``length`` is given)."""

    def handler(conn: socket.socket, request: dict[str, Any]) -> bool:
        conn.sendall(head("200 OK", {"Connection": "close", **(headers or {})}, length))
        for chunk in chunks:
            conn.sendall(chunk)
        return False

    return handler


def reset(conn: socket.socket, request: dict[str, Any]) -> bool:
    """Drop the connection after reading the request, without a word."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
    return False
