"""An ASGI app over a :class:`WebhookRouter`, to mount in FastAPI / Starlette or serve alone.

Only the adapter lives here: check the query (app id, ``Sign``, ``RequestTime``) before reading
any of the body, read the body (size capped, time bounded), call ``router.handle``, write the
JSON. What it answers:

======================================  ======  =============================================
request                                 status  body
======================================  ======  =============================================
a valid callback                        200     the handler's answer (``ActionStatus`` …)
not POST                                405     ``{"ActionStatus": "FAIL", "reason": "method", …}``
``WebhookError`` reason ``sdkappid``,   403     the reason and the message; the body is not read
``signature`` or ``stale``
body over ``max_body_bytes``            413     reason ``"size"``
body not received in ``body_timeout``   408     reason ``"timeout"``
any other ``WebhookError``              400     the reason and the message
======================================  ======  =============================================

A request refused with a 4xx never reaches a handler. The body must arrive whole within
``body_timeout`` seconds (1 by default: Tencent sends small bodies at once and waits only 2 s for
the answer), so a client trickling a body cannot hold a connection and its buffer open. The
request's ``Content-Type`` is not looked at (Tencent does not document its headers). The app
answers every path it is given: mount it at a prefix (``app.mount("/tim", ...)`` serves
``/tim/``), or route one exact path to it
(``app.add_route("/tim/callback", router.asgi_app(), methods=["POST"])``). Lifespan messages are
acknowledged, so it can also be served directly (``uvicorn module:app``).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Final

import anyio

from .._errors import ValidationError, WebhookError

if TYPE_CHECKING:
    from ._router import WebhookRouter

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

logger = logging.getLogger("tim_oa.webhooks")

#: The default cap on a callback body; the largest real ones (a 12 KB message, 100 subscribers)
#: are far smaller.
DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024
#: Seconds the whole body may take to arrive.
DEFAULT_BODY_TIMEOUT: Final = 1.0
_AUTH_REASONS: Final = frozenset({"sdkappid", "signature", "stale"})


class _Disconnected(Exception):
    """The client went away before the body was read."""


class WebhookApp:
    """The ASGI 3 app returned by :meth:`WebhookRouter.asgi_app` (see the module docstring)."""

    def __init__(
        self,
        router: WebhookRouter,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
    ) -> None:
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
            raise ValidationError("max_body_bytes must be an int", field="max_body_bytes")
        if max_body_bytes <= 0:
            raise ValidationError("max_body_bytes must be positive", field="max_body_bytes")
        if (
            isinstance(body_timeout, bool)
            or not isinstance(body_timeout, (int, float))
            or not math.isfinite(body_timeout)
            or body_timeout <= 0
        ):
            raise ValidationError(
                "body_timeout must be a positive number of seconds", field="body_timeout"
            )
        self.router = router
        self.max_body_bytes = max_body_bytes
        self.body_timeout = float(body_timeout)

    def __repr__(self) -> str:
        return (
            f"WebhookApp({self.router!r}, max_body_bytes={self.max_body_bytes}, "
            f"body_timeout={self.body_timeout:g})"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection (``http``; ``lifespan`` acknowledged; websockets closed)."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "POST":
            await _reply(send, 405, _failure("method", "callbacks are POST requests"), allow=True)
            return
        query = scope.get("query_string", b"")
        try:
            self.router.check_query(query)  # before a single byte of the body is read
        except WebhookError as exc:
            await _refuse(send, exc)
            return
        if _declared_length(scope) > self.max_body_bytes:
            await _reply(send, 413, _failure("size", self._too_large()))
            return
        try:
            with anyio.fail_after(self.body_timeout):
                body = await self._read_body(receive)
        except _Disconnected:
            return
        except TimeoutError:
            logger.warning("refused a callback: its body took over %g s", self.body_timeout)
            message = f"the body did not arrive within {self.body_timeout:g} s"
            await _reply(send, 408, _failure("timeout", message))
            return
        if body is None:
            await _reply(send, 413, _failure("size", self._too_large()))
            return
        try:
            answer = await self.router.handle(query, body)
        except WebhookError as exc:
            await _refuse(send, exc)
            return
        await _reply(send, 200, answer)

    def _too_large(self) -> str:
        return f"the body is larger than {self.max_body_bytes} bytes"

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None once it passes the cap."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


async def _refuse(send: Send, exc: WebhookError) -> None:
    logger.warning("refused a callback (%s): %s", exc.reason, exc)
    status = 403 if exc.reason in _AUTH_REASONS else 400
    await _reply(send, status, _failure(exc.reason, str(exc)))


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def _failure(reason: str, message: str) -> dict[str, Any]:
    return {"ActionStatus": "FAIL", "ErrorInfo": message, "reason": reason}


async def _reply(send: Send, status: int, document: dict[str, Any], *, allow: bool = False) -> None:
    try:
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in some text: escaped JSON is still JSON
        body = json.dumps(document, separators=(",", ":")).encode("ascii")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
    ]
    if allow:
        headers.append((b"allow", b"POST"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
