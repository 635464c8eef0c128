"""One of the session's own HTTP/1.1 connections: a socket, its response parser, its waits.

The pool (:mod:`tim_oa._lean_pool`) writes a request on it and waits for the answer; the parser
(httptools: llhttp, in C) fills in the answer as its bytes arrive: the status, the two headers
the transport reads (``Content-Encoding``, ``Retry-After``) and the body, fed to the exchange's
:class:`~tim_oa._transport_body.BodyReader`. A 1xx answer is skipped; a body without
``Content-Length`` or chunks ends with the stream. An answer nobody asked for, a parse error, or
bytes after the peer's end break the connection.

When an answer is complete and both sides may go on (keep-alive), the connection goes back to the
pool at once, from the parser's callback, and the exchange takes its answer from its own waiter:
on a busy event loop the task that sent the request may run a pass or more later, and meanwhile
other requests would open connections of their own.
"""

from __future__ import annotations

import asyncio
import time

import httptools

from ._transport_base import BodyFailure
from ._transport_body import BodyError, BodyReader

__all__ = ["Answer", "AttemptTimeout", "Connection", "Exchange", "bound"]

Answer = tuple[int, BodyReader, "str | None"]
"""An exchange's answer: its status, its body read, its ``Retry-After``."""


class Exchange:
    """One request on a connection: whether its answer put the connection back in the pool."""

    __slots__ = ("released",)

    def __init__(self) -> None:
        self.released = False


class Connection(asyncio.Protocol):
    """One socket and its response parser (httptools); wakes the exchange waiting for bytes.

    The parser's callbacks fill in the exchange's answer: its status, the two headers the
    transport reads, and its body, fed to the exchange's :class:`BodyReader` as it comes. An
    answer nobody asked for, or a parse error, breaks the connection (``broken``).
    """

    __slots__ = (
        "_idle",
        "_waiter",
        "_write_waiter",
        "broken",
        "complete",
        "encoding",
        "exchange",
        "expecting",
        "failure",
        "framed",
        "idle_since",
        "keep_alive",
        "limit",
        "lost",
        "parser",
        "reader",
        "retry_after",
        "status",
        "transport",
    )

    def __init__(self, idle: list[Connection] | None = None) -> None:
        self._idle = idle  # the pool's idle connections, where a finished exchange puts this one
        self.exchange = Exchange()
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[Answer | None] | None = None
        self._write_waiter: asyncio.Future[None] | None = None
        self.lost: BaseException | bool = False  # True (clean end) or the error, once closed
        self.idle_since = 0.0
        self.broken: str | None = None  # why the bytes from the server cannot be trusted
        self.begin(0)
        self.expecting = False

    def begin(self, limit: int) -> Exchange:
        """A request is written: read its answer, whose decoded body may be ``limit`` bytes."""
        self.exchange = Exchange()
        self.limit = limit
        self.expecting = True
        self.status = 0  # of the final answer, once its headers are in (a 1xx is skipped)
        self.encoding: str | None = None
        self.retry_after: str | None = None
        self.framed = False  # Content-Length or chunked: the body does not end with the stream
        self.reader: BodyReader | None = None
        self.failure: BodyFailure | None = None
        self.complete = False
        self.keep_alive = False
        return self.exchange

    # --- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.broken is None:
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserUpgrade:
                self._break("the server switched protocols")
            except httptools.HttpParserError as exc:
                self._break(f"malformed answer: {exc}")
        self._wake()

    def eof_received(self) -> bool:
        # Marked lost at once, not when connection_lost comes a loop pass later: a request taking
        # this connection in between would be written to a server that has stopped reading.
        self.lost = True
        self._wake()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc if exc is not None else True
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

    def _break(self, why: str) -> None:
        if self.broken is None:
            self.broken = why
        self.lost = self.lost or True
        if self.transport is not None:
            self.transport.abort()

    # --- the parser's callbacks (httptools) --------------------------------------------------

    def on_message_begin(self) -> None:
        if not self.expecting:
            self._break("an answer to no request")

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.expecting:
            return  # an answer to no request: the connection is broken already
        name = name.lower()
        if name == b"content-encoding":
            self.encoding = value.decode("latin-1")
        elif name == b"retry-after":
            self.retry_after = value.decode("latin-1")
        elif name == b"content-length" or (
            name == b"transfer-encoding" and value.lower().rstrip().endswith(b"chunked")
        ):
            self.framed = True

    def on_headers_complete(self) -> None:
        if not self.expecting:
            return
        status = self.parser.get_status_code()
        if status < 200:  # informational (1xx): the final answer follows
            self.encoding = self.retry_after = None
            self.framed = False
            return
        self.status = status
        try:
            self.reader = BodyReader(self.encoding, self.limit)
        except BodyError as exc:
            self.failure = BodyFailure(status, exc)

    def on_body(self, body: bytes) -> None:
        reader = self.reader
        if reader is not None and self.failure is None and self.expecting:
            try:
                reader.feed(body)
            except BodyError as exc:
                self.failure = BodyFailure(self.status, exc)

    def on_message_complete(self) -> None:
        if not self.status or not self.expecting:
            return  # the end of a 1xx, or of an answer to no request
        self.complete = True
        self.expecting = False
        self.keep_alive = self.parser.should_keep_alive()
        waiter = self._waiter
        if waiter is None or waiter.done() or self.failure is not None:
            return  # the exchange reads the answer from the connection when it runs
        answer = (self.status, self.reader, self.retry_after)
        if self._idle is not None and self.reusable():
            # Back to the pool now, not when the exchange's task next runs (a loop pass or more
            # later on a busy loop, while other requests would open connections of their own).
            self.exchange.released = True
            self.idle_since = time.monotonic()
            self._idle.append(self)
        waiter.set_result(answer)  # type: ignore[arg-type]

    # --- used by the pool --------------------------------------------------------------------

    async def wait(
        self, seconds: float | None, error: type[Exception], end: float | None
    ) -> Answer | None:
        """Wait for bytes (or the end of the stream) at most ``seconds``, and not past ``end``.

        Returns the answer when it was completed while waiting (the connection may be back in
        the pool and in another exchange by then), else ``None``.
        """
        if self.lost:
            return None  # nothing more will come
        loop = asyncio.get_running_loop()
        limit, raised = bound(seconds, error, end, loop)
        waiter = self._waiter = loop.create_future()
        timer = None if limit is None else loop.call_later(limit, _expire, waiter)
        try:
            await waiter
        finally:
            if self._waiter is waiter:  # not yet the next exchange's (released at its answer)
                self._waiter = None
            if timer is not None:
                timer.cancel()
        result = waiter.result()
        if result is _EXPIRED:
            raise raised("timed out")
        answer: Answer | None = result
        return answer

    async def drain(self, seconds: float | None, error: type[Exception], end: float | None) -> None:
        """Wait until the socket takes more bytes, if it asked us to pause (bounds as ``wait``)."""
        waiter = self._write_waiter
        if waiter is None:
            return
        limit, raised = bound(seconds, error, end, asyncio.get_running_loop())
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
        """Whether the exchange ended cleanly and both sides may go on (keep-alive)."""
        return self.complete and self.keep_alive and not self.lost and self.broken is None


_EXPIRED = object()


class AttemptTimeout(Exception):
    """The whole attempt's time ran out (``post(deadline=...)``): the transport's own timeout."""


def bound(
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
