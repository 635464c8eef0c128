"""The bench server's second implementation: uvicorn with httptools and a minimal ASGI app.

Same handlers as the raw protocol in :mod:`bench._server`; ``server.impl`` compares their CPU per
request (``python -m bench._server --impl uvicorn``).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

from ._server import Api, until_stdin_closes


def asgi_app(api: Api) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        path = scope["path"]
        if path.startswith("/_bench/"):
            status, payload = api.control(path, body)
        else:
            loop = asyncio.get_running_loop()
            api.in_flight += 1
            api.max_in_flight = max(api.max_in_flight, api.in_flight)
            before, after = api.delays()
            if before > 0:
                await asyncio.sleep(before)
            status, payload = api.handle(path, body, loop.time())
            if after > 0:
                await asyncio.sleep(after)
            api.in_flight -= 1
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app


async def serve_uvicorn(api: Api, host: str, port: int, ready: Callable[[int], None]) -> None:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(1024)
    config = uvicorn.Config(
        asgi_app(api),
        http="httptools",
        loop="asyncio",
        lifespan="off",
        access_log=False,
        log_level="warning",
        backlog=1024,
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.01)
    ready(sock.getsockname()[1])
    await until_stdin_closes()
    server.should_exit = True
    await task
