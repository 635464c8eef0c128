"""The in-process transport: an ``httpx.ASGITransport`` that notices dropped connections."""

from __future__ import annotations

import httpx

from ._asgi import EmulatorApp


class EmulatorTransport(httpx.AsyncBaseTransport):
    """Sends requests straight into an emulator's ASGI app, without sockets.

    ``httpx.ASGITransport`` hands back whatever body the app sent. A real HTTP client raises when a
    response ends before its declared ``content-length``, and so does this transport
    (``httpx.RemoteProtocolError``), which is how the emulator's injected dropped connections
    reach the client in-process just as they do over a socket.
    """

    def __init__(self, app: EmulatorApp) -> None:
        self._inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Run the request through the app and check the response is complete."""
        response = await self._inner.handle_async_request(request)
        body = await response.aread()
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) != len(body):
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body: "
                f"received {len(body)} bytes, expected {declared}",
                request=request,
            )
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=body,
            request=request,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        """Nothing to release: no sockets are involved."""
        await self._inner.aclose()
