"""The ASGI adapter: serves a ``Gateway`` as an ASGI 3 application (HTTP and lifespan)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

from ._gateway import Gateway

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class DroppedConnection(Exception):
    """Raised out of the ASGI app to make a real server abort the connection.

    Servers log exceptions that escape an app; ``serve()`` filters out the ones of this type.
    """


class _ClientGone(Exception):
    """The client disconnected before the request body was complete."""


class EmulatorApp:
    """The ASGI 3 application of an emulator (HTTP and lifespan scopes).

    A dropped connection is simulated by declaring a ``content-length`` longer than the body that
    follows. A real server (uvicorn) then refuses to finish the response and closes the socket,
    and its client raises ``httpx.RemoteProtocolError``; in-process, ``Emulator.transport()``
    detects the short body and raises the same error. A bare ``httpx.ASGITransport`` just
    returns the truncated body.

    The body is read only up to the gateway's ``max_body_bytes``: a larger ``content-length`` is
    refused before a byte of the body is read, and a body that turns out larger (chunked, or a
    lying header) is refused as soon as the count passes the cap. Either way the rest is never
    read, and a real server then closes the connection after the answer.
    """

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        try:
            raw_body = await self._read_body(scope, receive, self._gateway.max_body_bytes)
        except _ClientGone:
            return
        reply = await self._gateway.handle(
            scope["method"], scope["path"], scope.get("query_string", b""), raw_body
        )
        if reply.delay > 0:
            await anyio.sleep(reply.delay)
        headers = [*reply.headers, (b"content-length", str(len(reply.body)).encode("ascii"))]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        if not reply.drop:
            await send({"type": "http.response.body", "body": reply.body, "more_body": False})
            return
        try:
            partial = reply.body[: len(reply.body) // 2]
            await send({"type": "http.response.body", "body": partial, "more_body": False})
        except Exception as exc:
            raise DroppedConnection("connection dropped on purpose (fault injection)") from exc

    @staticmethod
    async def _read_body(scope: Scope, receive: Receive, cap: int) -> bytes | None:
        """The body, or None when it is over ``cap`` bytes (the rest is left unread)."""
        for name, value in scope.get("headers", ()):
            if name.lower() == b"content-length":
                declared = value.strip()
                if declared.isdigit() and int(declared) > cap:
                    return None
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    async def _lifespan(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
