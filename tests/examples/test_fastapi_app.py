"""examples/fastapi_app.py: one session in the lifespan, over loopback to the emulator."""

from __future__ import annotations

from urllib.parse import quote

import fastapi_app
import httpx
import pytest

from tim_oa.testing import Emulator


def account_url(account_id: str, tail: str) -> str:
    return f"/accounts/{quote(account_id, safe='@')}/{tail}"


async def test_the_app_serves_every_endpoint_with_one_session(served: Emulator) -> None:
    app = fastapi_app.app
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://app") as client,
    ):
        oa = app.state.oa
        answer = await client.post(
            "/accounts", json={"owner": "107867", "name": "News", "account_id": "@TOA#_news"}
        )
        assert (answer.status_code, answer.json()) == (201, {"account_id": "@TOA#_news"})

        users = ["107867", "204511", "309876"]
        answer = await client.post(
            account_url("@TOA#_news", "subscribers"), json={"user_ids": users}
        )
        assert answer.json() == {"succeeded": users, "unchanged": [], "failed": {}}

        # One page per request; next_cursor leads to the next one.
        seen: list[str] = []
        cursor = ""
        while cursor is not None:
            answer = await client.get(
                account_url("@TOA#_news", "subscribers"), params={"limit": 2, "cursor": cursor}
            )
            page = answer.json()
            assert page["total"] == 3 and len(page["subscribers"]) <= 2
            seen += [subscriber["user_id"] for subscriber in page["subscribers"]]
            cursor = page["next_cursor"]
        assert sorted(seen) == sorted(users)

        answer = await client.post(account_url("@TOA#_news", "messages"), json={"text": "Hello"})
        assert answer.status_code == 201
        [message] = served.account("@TOA#_news").messages
        assert answer.json()["msg_key"] == message.key

        assert app.state.oa is oa  # every request used the lifespan's session
        requests_before = len(served.requests)

        # Errors: the caller's mistakes are 4xx and say why; checked input sends nothing.
        answer = await client.post(account_url("@TOA#_gone", "messages"), json={"text": "Hi"})
        assert (answer.status_code, answer.json()["error"]) == (404, "AccountNotFoundError")
        answer = await client.post(account_url("@TOA#_news", "messages"), json={"text": ""})
        assert answer.status_code == 422 and answer.json()["error"] == "ValidationError"
        assert len(served.requests) == requests_before + 1  # the empty text never left
        answer = await client.post("/accounts", json={"owner": "1", "name": "N", "account_id": "x"})
        assert answer.status_code == 422 and answer.json()["field"] == "account_id"
    assert oa.closed  # the lifespan closed it with the app


async def test_an_app_whose_credentials_are_refused_answers_500_without_details(
    served: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIM_OA_SECRET_KEY", "not the emulator's key")
    app = fastapi_app.app
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://app") as client,
    ):
        answer = await client.post(account_url("@TOA#_news", "messages"), json={"text": "Hi"})
    assert answer.status_code == 500
    assert answer.json() == {"error": "AuthError", "code": 70009}
