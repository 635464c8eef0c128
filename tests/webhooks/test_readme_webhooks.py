"""The webhook guide's examples: the FastAPI one runs, served by uvicorn on loopback."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.docs_pages import python_blocks
from tim_oa import webhooks
from tim_oa.testing._server import serve_asgi

from .samples import SDKAPPID, body_of

pytestmark = pytest.mark.loopback


async def test_the_fastapi_example_answers_signed_callbacks() -> None:
    fastapi_block, *recipes = python_blocks("guide/webhooks.md", "Receiving them")
    scope: dict[str, Any] = {}
    exec(compile(fastapi_block, "docs/guide/webhooks.md", "exec"), scope)
    router: webhooks.WebhookRouter = scope["router"]
    assert router.sdkappid == SDKAPPID and router.deadline == 1.5

    def signed(event_type: type[webhooks.Event]) -> dict[str, str]:
        return webhooks.callback_query(SDKAPPID, event_type, token="my-token")

    subscribe = body_of(
        webhooks.BeforeAddSubscriber,
        SubscribeAccountList=[{"Subscriber_Account": "alice"}, {"Subscriber_Account": "bot_7"}],
    )
    spoiler = body_of(
        webhooks.BeforeSendMessage,
        MsgBody=[{"MsgType": "TIMTextElem", "MsgContent": {"Text": "spoiler: he wins"}}],
    )
    with serve_asgi(scope["app"]) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as http:

            async def call(event_type: type[webhooks.Event], body: Any) -> httpx.Response:
                return await http.post("/tim/callback", params=signed(event_type), json=body)

            vetted = await call(webhooks.BeforeAddSubscriber, subscribe)
            refused = await call(webhooks.BeforeSendMessage, spoiler)
            allowed = await call(webhooks.BeforeSendMessage, body_of(webhooks.BeforeSendMessage))
            added = await call(webhooks.AfterAddSubscriber, body_of(webhooks.AfterAddSubscriber))
            forged = await http.post(
                "/tim/callback",
                params={**signed(webhooks.AfterAddSubscriber), "Sign": "0" * 64},
                json=body_of(webhooks.AfterAddSubscriber, SubscribeAccountList=[
                    {"Subscriber_Account": "mallory"}
                ]),
            )  # fmt: skip
    assert vetted.json()["RefusedSubscribers_Account"] == ["bot_7"]
    assert refused.json() == {"ActionStatus": "OK", "ErrorCode": 120001, "ErrorInfo": "no spoilers"}
    assert allowed.json()["ErrorCode"] == 0 and added.json()["ErrorCode"] == 0
    assert forged.status_code == 403
    assert scope["subscribers"] == {"alice"}

    # the Django and aiohttp recipes are at least valid Python
    assert len(recipes) == 2
    for recipe in recipes:
        compile(recipe, "docs/guide/webhooks.md:recipe", "exec")
