"""The in-process transport: an ``ASGITransport`` that notices dropped connections.

One class per HTTP stack: :class:`EmulatorTransport` for httpx, and the same code over httpx2
(built on first use by :func:`emulator_transport`, so httpx2 is imported only when asked for).
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import httpx

from ._asgi import EmulatorApp

STACKS = ("httpx", "httpx2")
"""The HTTP stacks an in-process transport exists for."""

TEST_BACKEND_VARIABLE = "TIM_OA_TEST_BACKEND"
"""The environment variable naming the stack of ``Emulator.session()`` when none is given."""


def default_backend() -> str:
    """The backend of ``Emulator.session()``: ``$TIM_OA_TEST_BACKEND``, else ``"httpx"``.

    It lets a test suite run its emulator sessions on httpx2 without changing a test.
    """
    value = os.environ.get(TEST_BACKEND_VARIABLE, "").strip() or "httpx"
    if value not in STACKS:
        raise ValueError(f"{TEST_BACKEND_VARIABLE} must be httpx or httpx2, not {value!r}")
    return value


def _transport_class(lib: ModuleType) -> type[Any]:
    class _EmulatorTransport(lib.AsyncBaseTransport):  # type: ignore[name-defined,misc]
        """Sends requests straight into an emulator's ASGI app, without sockets.

        ``ASGITransport`` hands back whatever body the app sent. A real HTTP client raises when
        a response ends before its declared ``content-length``, and so does this transport
        (``RemoteProtocolError``), which is how the emulator's injected dropped connections
        reach the client in-process just as they do over a socket.
        """

        def __init__(self, app: EmulatorApp) -> None:
            self._inner = lib.ASGITransport(app=app)

        async def handle_async_request(self, request: Any) -> Any:
            """Run the request through the app and check the response is complete."""
            response = await self._inner.handle_async_request(request)
            body = await response.aread()
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) != len(body):
                raise lib.RemoteProtocolError(
                    "peer closed connection without sending complete message body: "
                    f"received {len(body)} bytes, expected {declared}",
                    request=request,
                )
            return lib.Response(
                response.status_code,
                headers=response.headers,
                content=body,
                request=request,
                extensions=response.extensions,
            )

        async def aclose(self) -> None:
            """Nothing to release: no sockets are involved."""
            await self._inner.aclose()

    return _EmulatorTransport


EmulatorTransport: type[httpx.AsyncBaseTransport] = _transport_class(httpx)
EmulatorTransport.__name__ = EmulatorTransport.__qualname__ = "EmulatorTransport"
_CLASSES: dict[str, type[Any]] = {"httpx": EmulatorTransport}


def emulator_transport(app: EmulatorApp, stack: str = "httpx") -> Any:
    """A new in-process transport of ``stack`` (``"httpx"`` or ``"httpx2"``) into ``app``."""
    if stack not in STACKS:
        raise ValueError(f"an in-process transport is httpx or httpx2, not {stack!r}")
    kind = _CLASSES.get(stack)
    if kind is None:
        import httpx2

        kind = _CLASSES[stack] = _transport_class(httpx2)
        kind.__name__ = kind.__qualname__ = "EmulatorTransport"
    return kind(app)
