"""examples/django_app.py: async views over loopback to the emulator, and its webhook endpoint.

The emulator sends its callbacks to the example's own ASGI application, so a subscription the
view asks for passes through the example's webhook handler before it is applied.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import quote, urlencode

import pytest

import tim_oa
from tim_oa import webhooks
from tim_oa.testing import Emulator

django_app = pytest.importorskip("django_app")  # needs Django (the test extra has it)

TOKEN = "my-token"


@pytest.fixture
def emulator() -> Emulator:
    """Callbacks go to the example's ASGI app, in-process, signed with the token."""
    return Emulator(
        send_per_second=None,
        webhook_app=django_app.application,
        webhook_url="http://django.test/tim/callback",
        webhook_token=TOKEN,
    )


@pytest.fixture
async def client(served: Emulator, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[object]:
    """Django's async test client, with the example's per-process state reset around the test."""
    from django.test import AsyncClient

    monkeypatch.setenv("TIM_OA_WEBHOOK_TOKEN", TOKEN)
    django_app.get_router.cache_clear()
    yield AsyncClient()
    if django_app._session is not None:
        await django_app._session.aclose()
    django_app._session = None
    django_app.get_router.cache_clear()


def url(account_id: str, tail: str) -> str:
    return f"/accounts/{quote(account_id, safe='@')}/{tail}"


async def test_views_call_the_api_and_the_webhook_vets_subscribers(
    served: Emulator, client: object
) -> None:
    from django.test import AsyncClient

    assert isinstance(client, AsyncClient)
    async with served.session() as oa:
        await oa.create_account("ann", "News", account_id="@TOA#_news")
    answer = await client.post(
        url("@TOA#_news", "subscribers"),
        {"user_ids": ["ann", "bot_1", "bob"]},
        content_type="application/json",
    )
    assert answer.status_code == 200
    assert json.loads(answer.content) == {"succeeded": ["ann", "bob"], "failed": ["bot_1"]}
    assert sorted(served.account("@TOA#_news").subscribers) == ["ann", "bob"]
    [vetted] = [r for r in served.webhook_log if r.command.endswith("BeforeAddSubscriber")]
    assert (vetted.status, vetted.decision) == (200, "refuse some")

    answer = await client.post(
        url("@TOA#_news", "messages"), {"text": "Hello"}, content_type="application/json"
    )
    assert answer.status_code == 201
    assert json.loads(answer.content)["msg_key"] == served.account("@TOA#_news").messages[0].key

    # The caller's mistakes: checked before anything is sent, or refused by the API.
    answer = await client.post(url("@TOA#_news", "messages"), {}, content_type="application/json")
    assert answer.status_code == 422 and json.loads(answer.content)["field"] == "body"
    answer = await client.post(
        url("@TOA#_gone", "messages"), {"text": "Hi"}, content_type="application/json"
    )
    assert (answer.status_code, json.loads(answer.content)["code"]) == (404, 130004)
    assert (await client.get(url("@TOA#_news", "messages"))).status_code == 405


async def test_the_webhook_endpoint_refuses_callbacks_it_cannot_authenticate(
    served: Emulator, client: object
) -> None:
    from django.test import AsyncClient

    assert isinstance(client, AsyncClient)
    body = {
        "CallbackCommand": "OfficialAccount.CallbackBeforeAddSubscriber",
        "Official_Account": "@TOA#_news",
        "Operator_Account": "admin",
        "SubscribeAccountList": [{"Subscriber_Account": "bot_9"}],
        "EventTime": 1700000000000,
    }
    query = webhooks.callback_query(served.sdkappid, webhooks.BeforeAddSubscriber, token=TOKEN)
    answer = await client.post(
        f"/tim/callback?{urlencode(query)}", body, content_type="application/json"
    )
    assert answer.status_code == 200
    assert json.loads(answer.content)["RefusedSubscribers_Account"] == ["bot_9"]

    forged = webhooks.callback_query(served.sdkappid, webhooks.BeforeAddSubscriber, token="guess")
    answer = await client.post(
        f"/tim/callback?{urlencode(forged)}", body, content_type="application/json"
    )
    assert (answer.status_code, json.loads(answer.content)["reason"]) == (403, "signature")


def test_the_sync_view_calls_the_api_through_a_sync_session(
    served: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.test import Client

    monkeypatch.setenv("TIM_OA_WEBHOOK_TOKEN", TOKEN)
    django_app.get_router.cache_clear()
    with served.sync_session() as oa:
        oa.create_account("ann", "News", account_id="@TOA#_news")
        oa.add_subscribers("@TOA#_news", ["ann", "bob"])
    try:
        client = Client()
        answer = client.get(url("@TOA#_news", "")[:-1])
        assert answer.status_code == 200
        assert json.loads(answer.content) == {
            "name": "News",
            "subscriber_num": 2,
            "subscribers": ["ann", "bob"],
        }
        assert client.get(url("@TOA#_gone", "")[:-1]).status_code == 404
        assert client.post(url("@TOA#_news", "")[:-1]).status_code == 405
        assert isinstance(django_app._sync_session, tim_oa.SyncSession)
    finally:
        if django_app._sync_session is not None:
            django_app._sync_session.close()
        django_app._sync_session = None
        django_app.get_router.cache_clear()
