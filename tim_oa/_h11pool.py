"""The session's own HTTP/1.1 connections on asyncio: h11 over ``asyncio.Protocol``, one origin.

httpx hands a request to httpcore, which runs every socket operation through anyio (a cancel
scope and a task lookup per read and write) and walks its pool's connections, polling each idle
socket, on every request and every response. At the paid rate tiers that was most of a call's
CPU: a 100-id add cost ~1.7 ms in httpcore against ~0.4 ms for the same exchange here (measured
side by side, ``bench/README.md``). This module keeps what a session's own client needs and
nothing else: one origin, keep-alive, ``Content-Length`` bodies out, any framing in (h11 parses
it), TLS from httpx's own ``SSLContext``, and httpx's exception classes, so the transport's error
map reads them as it reads httpx's.

It is used only for the session's own client, on asyncio, for the direct route to ``base_url``
(no proxy), and only while nobody has replaced httpx's or httpcore's request methods
(:meth:`H11Pool.untouched`): respx, pytest-httpx, VCR.py and tracing instrumentations patch those
to see or answer requests, and a test that mocks httpx must keep seeing ours.
:class:`~tim_oa._transport.HttpTransport` keeps httpx for everything else (a caller's client,
``transport=``, a proxy, trio, a patched httpx). The transport's gate bounds the requests in
flight to ``max_connections``, so :class:`H11Pool` never queues: a request takes an idle
connection or opens one.

A connection goes back to the pool only after a complete exchange that both sides may continue
(h11 says so: no ``Connection: close``, the body read to its end). Anything else (an error, a
timeout, a cancellation, a body over the cap) closes it, since its state is unknown. An idle
connection the server closed is noticed by the event loop (``connection_lost``) and never reused;
one idle longer than ``keepalive_expiry`` is closed when the pool next looks.
"""

from __future__ import annotations

import asyncio
import importlib
import re
import ssl
import time
from collections.abc import Mapping
from types import FunctionType, ModuleType

import anyio
import h11
import httpx

from ._transport_base import BodyFailure
from ._transport_body import BodyError, BodyReader

__all__ = ["AttemptTimeout", "H11Pool"]

_NEED_DATA = h11.NEED_DATA
_TARGET = re.compile(rb"[\x21-\x7e]+").fullmatch
"""A request target: visible ASCII only (no space, control character or byte over 0x7e)."""
_Response = h11.Response
_Data = h11.Data
_EndOfMessage = h11.EndOfMessage


class _Connection(asyncio.Protocol):
    """One socket and its h11 state machine; wakes the exchange waiting for bytes."""

    __slots__ = ("_waiter", "_write_waiter", "h11", "idle_since", "lost", "transport")

    def __init__(self) -> None:
        self.h11 = h11.Connection(h11.CLIENT)
        self.transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._write_waiter: asyncio.Future[None] | None = None
        self.lost: BaseException | bool = False  # True (clean end) or the error, once closed
        self.idle_since = 0.0

    # --- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.h11.receive_data(data)
        except RuntimeError:  # bytes after the peer's end of stream: the state is broken
            self.lost = True
            if self.transport is not None:
                self.transport.abort()
        self._wake()

    def eof_received(self) -> bool:
        # Marked lost at once, not when connection_lost comes a loop pass later: a request taking
        # this connection in between would be written to a server that has stopped reading.
        self.lost = True
        self.h11.receive_data(b"")
        self._wake()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc if exc is not None else True
        self.h11.receive_data(b"")
        self._wake()
        waiter = self._write_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pause_writing(self) -> None:
        self._write_waiter = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        waiter, self._write_waiter = self._write_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- used by the pool --------------------------------------------------------------------

    async def wait(self, seconds: float | None, error: type[Exception], end: float | None) -> None:
        """Wait for bytes (or the end of the stream) at most ``seconds``, and not past ``end``."""
        if self.lost:
            return  # nothing more will come: h11 has seen the end already
        loop = asyncio.get_running_loop()
        limit, raised = _bound(seconds, error, end, loop)
        waiter = self._waiter = loop.create_future()
        timer = None if limit is None else loop.call_later(limit, _expire, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
        if waiter.result() is _EXPIRED:
            raise raised("timed out")

    async def drain(self, seconds: float | None, error: type[Exception], end: float | None) -> None:
        """Wait until the socket takes more bytes, if it asked us to pause (bounds as ``wait``)."""
        waiter = self._write_waiter
        if waiter is None:
            return
        limit, raised = _bound(seconds, error, end, asyncio.get_running_loop())
        try:
            await asyncio.wait_for(asyncio.shield(waiter), limit)
        except asyncio.TimeoutError:
            raise raised("timed out") from None

    def close(self) -> None:
        """Drop the socket now (its state is unknown or finished)."""
        self.lost = self.lost or True
        if self.transport is not None:
            self.transport.abort()

    def reusable(self) -> bool:
        """Whether both sides finished the exchange and may go on (h11 started a new cycle)."""
        if self.lost:
            return False
        h = self.h11
        if h.our_state is h11.DONE and h.their_state is h11.DONE:
            h.start_next_cycle()
            return True
        return False


_EXPIRED = object()


class AttemptTimeout(Exception):
    """The whole attempt's time ran out (``post(deadline=...)``): the transport's own timeout."""


def _bound(
    seconds: float | None,
    error: type[Exception],
    end: float | None,
    loop: asyncio.AbstractEventLoop,
) -> tuple[float | None, type[Exception]]:
    """How long one wait may take, and what its running out raises.

    The phase's own ``error`` after ``seconds``, or :class:`AttemptTimeout` at ``end`` (a loop
    time), whichever comes first.
    """
    if end is None:
        return seconds, error
    remaining = end - loop.time()
    if seconds is not None and seconds < remaining:
        return seconds, error
    return max(0.0, remaining), AttemptTimeout


def _expire(waiter: asyncio.Future[object]) -> None:
    if not waiter.done():
        waiter.set_result(_EXPIRED)


def _error(exc: BaseException, lib: ModuleType) -> Exception:
    """``lib``'s exception for an error of h11 or the socket (the error map reads ``lib``'s)."""
    if isinstance(exc, h11.RemoteProtocolError):
        return lib.RemoteProtocolError(str(exc))  # type: ignore[no-any-return]
    if isinstance(exc, h11.LocalProtocolError):
        return lib.LocalProtocolError(str(exc))  # type: ignore[no-any-return]
    return lib.ReadError(str(exc) or type(exc).__name__)  # type: ignore[no-any-return]


class H11Pool:
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
        # request then hands h11 bytes it need not check again (``_parsed``, see _exchange).
        h11.Request(method="POST", target=self.prefix + "/", headers=fixed)
        self._headers = [(k.encode("ascii"), v.encode("latin-1")) for k, v in fixed]
        self._ssl = ssl_context if url.scheme == "https" else None
        self._expiry = keepalive_expiry
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()
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

    def _checkout(self) -> _Connection | None:
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

    def _drop(self, conn: _Connection) -> None:
        conn.close()
        self._open.discard(conn)

    async def _connect(self, seconds: float | None, end: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        limit, raised = _bound(seconds, self._lib.ConnectTimeout, end, loop)
        try:
            with anyio.fail_after(limit):
                _, conn = await loop.create_connection(
                    _Connection,
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self.host if self._ssl is not None else None,
                )
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
    ) -> tuple[int, BodyReader, str | None]:
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
        done = False
        try:
            result = await self._exchange(conn, raw_target, content, timeouts, limit, end)
            done = conn.reusable()
        except (h11.ProtocolError, OSError) as exc:
            raise _error(exc, self._lib) from None
        finally:
            if done and not self.closed:
                conn.idle_since = time.monotonic()
                self._idle.append(conn)
            else:
                self._drop(conn)
        return result

    async def _exchange(
        self,
        conn: _Connection,
        raw_target: bytes,
        content: bytes,
        timeouts: Mapping[str, float | None],
        limit: int,
        end: float | None,
    ) -> tuple[int, BodyReader, str | None]:
        h = conn.h11
        headers = [*self._headers, (b"Content-Length", b"%d" % len(content))]
        # ``_parsed``: the headers were checked when the pool was built and the target just now,
        # so h11 skips its per-header regular expressions (a third of its cost per request).
        request = h11.Request(
            method=b"POST", target=raw_target, headers=headers, http_version=b"1.1", _parsed=True
        )
        data = h.send(request)
        assert data is not None
        transport = conn.transport
        assert transport is not None
        transport.write(data + content)
        h.send(h11.Data(data=content))
        h.send(_EndOfMessage())
        await conn.drain(timeouts.get("write"), self._lib.WriteTimeout, end)
        read = timeouts.get("read")
        status = 0
        reader: BodyReader | None = None
        retry_after = None
        while True:
            event = h.next_event()
            if event is _NEED_DATA:
                if conn.lost and h.their_state is not h11.DONE:
                    lost = conn.lost
                    if isinstance(lost, BaseException):
                        raise self._lib.ReadError(str(lost) or type(lost).__name__)
                    raise self._lib.RemoteProtocolError("the server closed the connection")
                await conn.wait(read, self._lib.ReadTimeout, end)
                continue
            kind = type(event)
            if kind is _Data:
                if reader is None:
                    raise self._lib.RemoteProtocolError("a body before the status line")
                try:
                    reader.feed(event.data)  # type: ignore[union-attr]
                except BodyError as exc:
                    raise BodyFailure(status, exc) from None
            elif kind is _Response:
                status = event.status_code  # type: ignore[union-attr]
                encoding = None
                for name, value in event.headers:  # type: ignore[union-attr]
                    if name == b"content-encoding":
                        encoding = value.decode("latin-1")
                    elif name == b"retry-after":
                        retry_after = value.decode("latin-1")
                try:
                    reader = BodyReader(encoding, limit)
                except BodyError as exc:
                    raise BodyFailure(status, exc) from None
            elif kind is _EndOfMessage:
                assert reader is not None
                return status, reader, retry_after
            elif kind is h11.ConnectionClosed:
                raise self._lib.RemoteProtocolError("the server closed the connection")
            # h11.InformationalResponse (1xx): skipped

    async def aclose(self) -> None:
        """Close every connection; a request still in flight fails with ``ConnectError``."""
        self.closed = True
        for conn in list(self._open):
            self._drop(conn)
        self._idle.clear()
