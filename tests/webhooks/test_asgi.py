"""The ASGI app: answers over httpx.ASGITransport, in FastAPI, and under uvicorn on loopback."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tim_oa import ValidationError, webhooks
from tim_oa.testing._server import serve_asgi

from .samples import NOW, SDKAPPID, TOKEN, body_of, query_for, request_for


def make_router(
    **options: Any,
) -> tuple[webhooks.WebhookRouter, list[webhooks.BeforeAddSubscriber]]:
    router = webhooks.WebhookRouter(SDKAPPID, TOKEN, clock=lambda: NOW, **options)
    seen: list[webhooks.BeforeAddSubscriber] = []

    @router.on(webhooks.BeforeAddSubscriber)
    async def vet(event: webhooks.BeforeAddSubscriber) -> webhooks.Answer:
        seen.append(event)
        return webhooks.RefuseSubscribers([u for u in event.user_ids if u == "bob"])

    return router, seen


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://hooks.test")


async def post(app: Any, path: str = "/", **kwargs: Any) -> httpx.Response:
    async with client(app) as http:
        return await http.post(path, **kwargs)


async def test_a_signed_callback_gets_the_handlers_answer() -> None:
    router, seen = make_router()
    query, body = request_for(webhooks.BeforeAddSubscriber)
    response = await post(router.asgi_app(), "/tim", params=query, content=body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "RefusedSubscribers_Account": ["bob"]
    }  # fmt: skip
    assert [e.user_ids for e in seen] == [("alice", "bob")]


async def test_no_content_type_is_required() -> None:
    router, _ = make_router()
    query, body = request_for(webhooks.AfterAccountFull)
    response = await post(
        router.asgi_app(), params=query, content=body, headers={"content-type": "text/plain"}
    )
    assert response.status_code == 200 and response.json()["ErrorCode"] == 0


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"Sign": "0" * 64}, 403, "signature"),
        ({"RequestTime": str(NOW - 3600)}, 403, "signature"),
        ({"SdkAppid": "1400000001"}, 403, "sdkappid"),
        ({"CallbackCommand": "Group.CallbackAfterNewMemberJoin"}, 200, None),  # body wins
    ],
)
async def test_a_bad_query_gets_a_4xx_json_answer(
    change: dict[str, str], status: int, reason: str | None
) -> None:
    router, seen = make_router()
    query, body = request_for(webhooks.BeforeAddSubscriber)
    response = await post(router.asgi_app(), params={**query, **change}, content=body)
    assert response.status_code == status
    if reason is not None:
        assert response.json()["reason"] == reason and response.json()["ActionStatus"] == "FAIL"
        assert response.json()["ErrorInfo"]
        assert seen == []


async def test_a_stale_callback_is_403() -> None:
    router, seen = make_router()
    query = query_for(webhooks.BeforeAddSubscriber, at=NOW - 3600)
    response = await post(
        router.asgi_app(), params=query, json=body_of(webhooks.BeforeAddSubscriber)
    )
    assert response.status_code == 403 and response.json()["reason"] == "stale" and seen == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "body"),
        (b'{"CallbackCommand": "OfficialAccount.CallbackBeforeAddSubscriber", "Sub', "body"),
        (json.dumps(body_of(webhooks.BeforeAddSubscriber, SubscribeAccountList="x")), "body"),
        (b'{"CallbackCommand": "C2C.CallbackBeforeSendMsg"}', "command"),
    ],
)
async def test_a_bad_body_is_400_and_reaches_no_handler(body: Any, reason: str) -> None:
    router, seen = make_router(allow_unknown_commands=False)
    query = query_for(webhooks.BeforeAddSubscriber)
    response = await post(router.asgi_app(), params=query, content=body)
    assert response.status_code == 400 and response.json()["reason"] == reason
    assert seen == []


@pytest.mark.parametrize("method", ["GET", "PUT", "HEAD", "DELETE"])
async def test_only_post_is_answered(method: str) -> None:
    router, seen = make_router()
    query = query_for(webhooks.BeforeAddSubscriber)
    async with client(router.asgi_app()) as http:
        response = await http.request(method, "/", params=query)
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    if method != "HEAD":
        assert response.json()["reason"] == "method"
    assert seen == []


async def test_a_body_over_the_cap_is_413_declared_or_streamed() -> None:
    router, seen = make_router()
    app = router.asgi_app(max_body_bytes=300)
    query, body = request_for(webhooks.BeforeAddSubscriber)
    assert len(body) < 300
    assert (await post(app, params=query, content=body)).status_code == 200
    big = body_of(webhooks.BeforeAddSubscriber, Padding="x" * 400)
    response = await post(app, params=query, json=big)
    assert response.status_code == 413 and response.json()["reason"] == "size"

    async def chunks() -> AsyncIterator[bytes]:  # no content-length: chunked
        for _ in range(10):
            yield b" " * 50

    response = await post(app, params=query, content=chunks())
    assert response.status_code == 413
    assert len(seen) == 1


async def test_a_chunked_body_within_the_cap_is_read_whole() -> None:
    router, seen = make_router()
    query, body = request_for(webhooks.BeforeAddSubscriber)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 7):
            yield body[start : start + 7]

    response = await post(router.asgi_app(), params=query, content=chunks())
    assert response.status_code == 200 and len(seen) == 1


async def test_a_client_that_disconnects_mid_body_gets_nothing_and_runs_nothing() -> None:
    router, seen = make_router()
    query, body = request_for(webhooks.BeforeAddSubscriber)
    messages = [
        {"type": "http.request", "body": body[:10], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Any] = []

    async def receive() -> Any:
        return messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "query_string": urllib.parse.urlencode(query).encode(),
        "headers": [],
    }
    await router.asgi_app()(scope, receive, send)
    assert sent == [] and seen == []


async def test_lifespan_and_websocket_scopes() -> None:
    router, _ = make_router()
    app = router.asgi_app()
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Any] = []

    async def receive() -> Any:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    sent.clear()
    await app({"type": "websocket"}, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]


def test_max_body_bytes_is_checked() -> None:
    router, _ = make_router()
    for bad in [0, -1, 1.5, True]:
        with pytest.raises(ValidationError):
            router.asgi_app(max_body_bytes=bad)  # type: ignore[arg-type]


async def test_fastapi_route_at_an_exact_path_and_a_mount() -> None:
    router, seen = make_router()
    app = FastAPI()
    app.add_route("/tim/callback", router.asgi_app(), methods=["POST"])  # type: ignore[arg-type]
    app.mount("/hooks", router.asgi_app())
    query, body = request_for(webhooks.BeforeAddSubscriber)
    async with client(app) as http:
        exact = await http.post("/tim/callback", params=query, content=body)
        mounted = await http.post("/hooks/", params=query, content=body)
        refused = await http.post("/tim/callback", params={**query, "Sign": "0" * 64}, content=body)
    assert exact.status_code == mounted.status_code == 200
    assert exact.json() == mounted.json() and exact.json()["RefusedSubscribers_Account"] == ["bob"]
    assert refused.status_code == 403
    assert len(seen) == 2


@pytest.mark.loopback
async def test_fastapi_under_uvicorn_on_loopback_receives_a_signed_post() -> None:
    router = webhooks.WebhookRouter(SDKAPPID, TOKEN)  # the real clock: signed just below
    seen: list[webhooks.Event] = []

    @router.on(webhooks.BeforeSendMessage)
    def moderate(event: webhooks.BeforeSendMessage) -> webhooks.Answer:
        seen.append(event)
        return webhooks.ReplaceMessage("[redacted]", cloud_custom_data="moderated")

    app = FastAPI()
    app.add_route("/tim/callback", router.asgi_app(), methods=["POST"])  # type: ignore[arg-type]
    with serve_asgi(app) as base_url:
        query = webhooks.callback_query(SDKAPPID, webhooks.BeforeSendMessage, token=TOKEN)
        async with httpx.AsyncClient(base_url=base_url) as http:
            response = await http.post(
                "/tim/callback", params=query, json=body_of(webhooks.BeforeSendMessage)
            )
            refused = await http.post("/tim/callback", params={**query, "Sign": "0" * 64}, json={})
    assert response.status_code == 200
    assert response.json() == {
        "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "",
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "[redacted]"}}],
        "CloudCustomData": "moderated",
    }  # fmt: skip
    assert refused.status_code == 403 and refused.json()["reason"] == "signature"
    assert [e.context.client_ip for e in seen] == ["127.0.0.1"]
