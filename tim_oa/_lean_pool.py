"""The session's own HTTP/1.1 connections on asyncio, to one origin: the pool.

httpx hands a request to httpcore, which runs every socket operation through anyio (a cancel
scope and a task lookup per read and write), walks its pool's connections on every request and
response, and drives h11's state machine both ways. At the paid rate tiers that was most of a
call's CPU. This pool keeps what a session's own client needs and nothing else: one origin,
keep-alive, ``Content-Length`` bodies out (the request head written from parts checked once: the
headers with h11's rules when the pool is built, the target on each request), any framing in
(httptools parses it, :mod:`tim_oa._lean_connection`), TLS from httpx's own ``SSLContext``, a
host name resolved once per 10 s, and httpx's exception classes, so the transport's error map
reads them as it reads httpx's.

It is used only for the session's own client, on asyncio, for the direct route to ``base_url``
(no proxy), where httptools can be imported, and only while nobody has replaced httpx's or
httpcore's request methods (:meth:`LeanPool.untouched`): respx, pytest-httpx, VCR.py and tracing
instrumentations patch those to see or answer requests, and a test that mocks httpx must keep
seeing ours. :class:`~tim_oa._transport.HttpTransport` keeps httpx for everything else (a
caller's client, ``transport=``, a proxy, trio, a patched httpx). The transport's gate bounds the
requests in flight to ``max_connections``, so :class:`LeanPool` never queues: a request takes an
idle connection or opens one.

A connection goes back to the pool only after a complete exchange that both sides may continue
(keep-alive, the body read to its end). Anything else (an error, a timeout, a cancellation, a
body over the cap) closes it, since its state is unknown. An idle connection the server closed is
noticed by the event loop (``connection_lost``) and never reused; one idle longer than
``keepalive_expiry`` is closed when the pool next looks.
"""

from __future__ import annotations

import asyncio
import importlib
import ipaddress
import re
import socket
import ssl
import sys
import time
from collections.abc import Mapping
from types import FunctionType, ModuleType
from typing import Any

import anyio
import h11
import httpx

from ._lean_connection import Answer, AttemptTimeout, Connection, bound

__all__ = ["AttemptTimeout", "LeanPool"]

_Address = tuple[int, int, int, Any]
"""``(family, type, proto, sockaddr)``, as ``getaddrinfo`` gives them."""
_DNS_TTL = 10.0
"""Seconds a resolved name is used for new connections (aiohttp's default too)."""
_TARGET = re.compile(rb"[\x21-\x7e]+").fullmatch
"""A request target: visible ASCII only (no space, control character or byte over 0x7e)."""


def _retrieved(task: asyncio.Task[Any]) -> None:
    """Mark a shared lookup's error seen (each waiter raises it; all may have been cancelled)."""
    if not task.cancelled():
        task.exception()


def _error(exc: BaseException, lib: ModuleType) -> Exception:
    """``lib``'s exception for an error of the socket (the error map reads ``lib``'s)."""
    return lib.ReadError(str(exc) or type(exc).__name__)  # type: ignore[no-any-return]


class LeanPool:
    """Keep-alive HTTP/1.1 connections to one origin, for POSTs from one asyncio loop.

    Args:
        base_url: ``http://`` or ``https://`` host, optional port and path prefix.
        ssl_context: The TLS settings for ``https`` (httpx's, so ``SSL_CERT_FILE`` holds).
        keepalive_expiry: Seconds an idle connection is kept.
        headers: Sent on every request (``Host`` and ``Content-Length`` are added).
        lib: ``httpx`` or ``httpx2``: whose exception classes are raised.
    """

    def __init__(
        self,
        base_url: str,
        *,
        ssl_context: ssl.SSLContext | None,
        keepalive_expiry: float | None,
        headers: Mapping[str, str],
        lib: ModuleType = httpx,
    ) -> None:
        self._lib = lib
        url = httpx.URL(base_url)
        # The ASCII form (an internationalised name in punycode): what DNS, the TLS server name
        # and the Host header take.
        self.host = url.raw_host.decode("ascii")
        self.scheme = url.scheme
        default = 443 if url.scheme == "https" else 80
        self.port = url.port or default
        self.prefix = url.raw_path.rstrip(b"/").decode("ascii")
        host_header = self.host
        if ":" in self.host:  # IPv6
            host_header = f"[{host_header}]"
        if url.port not in (None, default):
            host_header += f":{url.port}"
        fixed = [("Host", host_header), *headers.items()]
        # Checked once here, with h11's own rules (a bad header raises LocalProtocolError); each
        # request then writes these bytes as they are (see _exchange).
        h11.Request(method="POST", target=self.prefix + "/", headers=fixed)
        # The request head but for its first line and Content-Length, written once.
        self._head = b"".join(
            b"%s: %s\r\n" % (k.encode("ascii"), v.encode("latin-1")) for k, v in fixed
        )
        self._ssl = ssl_context if url.scheme == "https" else None
        self._literal: list[_Address] | None = None  # an IP address: nothing to resolve
        try:
            ip = ipaddress.ip_address(self.host)
        except ValueError:
            pass
        else:
            family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            self._literal = [
                (family, socket.SOCK_STREAM, socket.IPPROTO_TCP, (self.host, self.port))
            ]
        self._resolved: tuple[float, list[_Address]] | None = None
        self._lookup: asyncio.Task[list[_Address]] | None = None
        self._expiry = keepalive_expiry
        self._idle: list[Connection] = []
        self._open: set[Connection] = set()
        self.closed = False
        core = importlib.import_module("httpcore" if lib.__name__ == "httpx" else "httpcore2")
        self._watched = (
            (lib.AsyncHTTPTransport, "handle_async_request", lib.__name__ + "."),
            (lib.AsyncClient, "_transport_for_url", lib.__name__ + "."),
            (core.AsyncConnectionPool, "handle_async_request", core.__name__ + "."),
        )

    def serves(self, loop: object) -> bool:
        """Whether requests from ``loop`` come here: on asyncio, with httpx :meth:`untouched`."""
        return isinstance(loop, asyncio.AbstractEventLoop) and self.untouched()

    def untouched(self) -> bool:
        """Whether httpx's and httpcore's request methods are their own (none is patched).

        A mock (respx, pytest-httpx), a recorder (VCR.py) or an instrumentation (OpenTelemetry's
        httpx one wraps with ``wrapt``) replaces one of them; the session then goes through httpx,
        so what the caller set up sees the request.
        """
        for owner, name, module in self._watched:
            method = owner.__dict__.get(name)
            if type(method) is not FunctionType or not method.__module__.startswith(module):
                return False
        return True

    @property
    def connections(self) -> int:
        """Open connections (idle or in use)."""
        return len(self._open)

    def _checkout(self) -> Connection | None:
        idle = self._idle
        if self._expiry is not None and idle:
            oldest = time.monotonic() - self._expiry
            while idle and idle[0].idle_since < oldest:
                self._drop(idle.pop(0))
        while idle:
            conn = idle.pop()
            if not conn.lost:
                return conn
            self._drop(conn)
        return None

    def _drop(self, conn: Connection) -> None:
        conn.close()
        self._open.discard(conn)

    async def _addresses(self, loop: asyncio.AbstractEventLoop) -> list[_Address]:
        """Where ``host`` is: the address itself, or what DNS said at most 10 s ago."""
        if self._literal is not None:
            return self._literal
        cached = self._resolved
        if cached is not None and time.monotonic() - cached[0] < _DNS_TTL:
            return cached[1]
        lookup = self._lookup  # one lookup for every connection opening meanwhile
        if lookup is None or lookup.get_loop() is not loop:
            lookup = self._lookup = loop.create_task(self._resolve(loop))
            lookup.add_done_callback(_retrieved)
        return await asyncio.shield(lookup)

    async def _resolve(self, loop: asyncio.AbstractEventLoop) -> list[_Address]:
        try:
            infos = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
            found: list[_Address] = [(f, k, p, address) for f, k, p, _, address in infos]
            if not found:
                raise OSError(f"{self.host} has no address")
            self._resolved = (time.monotonic(), found)
            return found
        finally:
            self._lookup = None

    async def _open_connection(self, loop: asyncio.AbstractEventLoop) -> Connection:
        """A connected socket of our own, handed to asyncio for the transport (and TLS).

        ``loop.create_connection(host, port)`` would resolve the name in a thread on every new
        connection and run its own connect; at 2,000 calls a second a job opens a hundred or
        more connections, and the name is resolved once per 10 s here instead.
        """
        error: OSError | None = None
        idle = self._idle
        for family, kind, proto, address in await self._addresses(loop):
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                await loop.sock_connect(sock, address)
            except BaseException as exc:
                sock.close()
                if not isinstance(exc, OSError):
                    raise
                error = exc
                continue
            try:
                _, conn = await loop.create_connection(
                    lambda: Connection(idle),
                    sock=sock,
                    ssl=self._ssl,
                    server_hostname=self.host if self._ssl is not None else None,
                )
            except BaseException:
                sock.close()
                raise
            return conn
        assert error is not None
        raise error

    async def _connect(self, seconds: float | None, end: float | None) -> Connection:
        loop = asyncio.get_running_loop()
        limit, raised = bound(seconds, self._lib.ConnectTimeout, end, loop)
        opening = self._open_connection(loop)
        try:
            if sys.version_info >= (3, 11):  # asyncio's own deadline: half anyio's CPU
                async with asyncio.timeout(limit):
                    conn = await opening
            else:  # pragma: no cover (Python 3.10)
                with anyio.fail_after(limit):
                    conn = await opening
        except TimeoutError:
            raise raised("timed out connecting") from None
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise self._lib.ConnectError(str(exc) or type(exc).__name__) from None
        self._open.add(conn)
        if self.closed:  # closed while connecting
            self._drop(conn)
            raise self._lib.ConnectError("the pool was closed")
        return conn

    async def post(
        self,
        target: str,
        content: bytes,
        timeouts: Mapping[str, float | None],
        limit: int,
        deadline: float | None = None,
    ) -> Answer:
        """POST ``content`` to ``prefix + target``; the status, the body read, ``Retry-After``.

        Raises httpx's exceptions (``ConnectError``, ``ReadTimeout``, ...),
        :class:`~tim_oa._transport_base.BodyFailure` for a body over ``limit`` or undecodable,
        and :class:`AttemptTimeout` once ``deadline`` seconds have passed since the call: the
        whole attempt's bound, kept by the same timers as the phases' (no cancel scope to
        enter and leave on every request).
        """
        end = None if deadline is None else asyncio.get_running_loop().time() + deadline
        if self.closed:
            raise self._lib.ConnectError("the pool was closed")
        full = self.prefix + target
        raw_target = full.encode("ascii") if full.isascii() else b" "
        if not _TARGET(raw_target):
            raise self._lib.LocalProtocolError("the request target has a character HTTP forbids")
        conn = self._checkout()
        if conn is None:
            conn = await self._connect(timeouts.get("connect"), end)
        exchange = conn.begin(limit)
        done = False
        try:
            result = await self._exchange(conn, raw_target, content, timeouts, end)
            done = True
        except OSError as exc:
            raise _error(exc, self._lib) from None
        finally:
            if exchange.released:
                pass  # back in the pool when its answer came (and maybe in use again)
            elif done and conn.reusable() and not self.closed:
                conn.idle_since = time.monotonic()
                self._idle.append(conn)
            else:
                self._drop(conn)
        return result

    async def _exchange(
        self,
        conn: Connection,
        raw_target: bytes,
        content: bytes,
        timeouts: Mapping[str, float | None],
        end: float | None,
    ) -> Answer:
        # The head from checked parts: the target just now, the headers when the pool was built.
        transport = conn.transport
        assert transport is not None
        transport.write(
            b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s"
            % (raw_target, self._head, len(content), content)
        )
        lib = self._lib
        await conn.drain(timeouts.get("write"), lib.WriteTimeout, end)
        read = timeouts.get("read")
        while True:
            if conn.failure is not None:
                raise conn.failure
            if conn.complete:
                assert conn.reader is not None
                return conn.status, conn.reader, conn.retry_after
            if conn.broken is not None:
                raise lib.RemoteProtocolError(conn.broken)
            lost = conn.lost
            if lost:
                if lost is True and conn.reader is not None and not conn.framed:
                    # A body without Content-Length or chunks ends with the stream: it has.
                    conn.expecting = False
                    return conn.status, conn.reader, conn.retry_after
                if isinstance(lost, BaseException):
                    raise _error(lost, lib)
                raise lib.RemoteProtocolError("the server closed the connection")
            answer = await conn.wait(read, lib.ReadTimeout, end)
            if answer is not None:
                return answer

    async def aclose(self) -> None:
        """Close every connection; a request still in flight fails with ``ConnectError``."""
        self.closed = True
        for conn in list(self._open):
            self._drop(conn)
        self._idle.clear()
