"""A small webhook receiver of the tests' own: an ASGI app that records callbacks and answers."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

OK_ANSWER = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
P = "OfficialAccount.Callback"


class Hook:
    """Records each callback (query, body) and answers per command.

    ``answers`` maps a ``CallbackCommand`` to the JSON answer (a dict), to raw bytes (sent as is
    with ``status``), or to a callable ``(body) -> dict``. ``delay`` (seconds) and ``gate`` (an
    event to wait for) hold the answer back.
    """

    def __init__(
        self,
        answers: dict[str, Any] | None = None,
        *,
        delay: float = 0.0,
        status: int = 200,
        gate: anyio.Event | None = None,
    ) -> None:
        self.answers = dict(answers or {})
        self.delay = delay
        self.status = status
        self.gate = gate
        self.calls: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.paths: list[str] = []
        self.arrived = anyio.Event()

    @property
    def commands(self) -> list[str]:
        return [body["CallbackCommand"] for _, body in self.calls]

    def bodies(self, command: str) -> list[dict[str, Any]]:
        return [body for _, body in self.calls if body["CallbackCommand"] == command]

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body", False):
                break
        query = dict(urllib.parse.parse_qsl(scope["query_string"].decode()))
        body = json.loads(raw)
        self.calls.append((query, body))
        self.paths.append(scope["path"])
        if self.gate is not None:  # only then: the event belongs to the test's event loop
            self.arrived.set()
            await self.gate.wait()
        if self.delay:
            await anyio.sleep(self.delay)
        answer = self.answers.get(body["CallbackCommand"], OK_ANSWER)
        if callable(answer):
            answer = answer(body)
        content = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": content})
