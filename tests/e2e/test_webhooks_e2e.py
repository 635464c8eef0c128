"""The whole loop: a client calls the emulator, the emulator calls a webhook, the answer counts."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import anyio
import pytest
import trio

import tim_oa
from tim_oa.testing import Emulator, serve
from tim_oa.testing._server import serve_asgi

from ..emulator.webhook_helpers import OK_ANSWER, Hook, P


def _policy() -> Hook:
    def before_create(body: dict[str, Any]) -> dict[str, Any]:
        if body["Name"] == "Spam":
            return {**OK_ANSWER, "ErrorCode": 120050, "ErrorInfo": "name not allowed"}
        return OK_ANSWER

    def before_add(body: dict[str, Any]) -> dict[str, Any]:
        users = [item["Subscriber_Account"] for item in body["SubscribeAccountList"]]
        return {
            **OK_ANSWER,
            "RefusedSubscribers_Account": [u for u in users if u.startswith("bot")],
        }

    def before_send(body: dict[str, Any]) -> dict[str, Any]:
        stamped = [*body["MsgBody"], {"MsgType": "TIMCustomElem", "MsgContent": {"Data": "ok"}}]
        return {**OK_ANSWER, "MsgBody": stamped}

    return Hook(
        {
            P + "BeforeCreateOfficialAccount": before_create,
            P + "BeforeAddSubscriber": before_add,
            P + "BeforeSendMsg": before_send,
        }
    )


async def test_a_session_sees_what_the_webhook_decided() -> None:
    hook = _policy()
    emulator = Emulator(webhook_app=hook, send_per_second=None, broadcasts_per_hour=None)
    async with emulator.session(max_retries=0) as oa:
        with pytest.raises(tim_oa.ApiError) as info:
            await oa.create_account("owner", "Spam")
        assert info.value.code == 120050
        account_id = await oa.create_account("owner", "News")
        result = await oa.add_subscribers(account_id, ["alice", "bot7", "bob"])
        assert result.succeeded == ["alice", "bob"]
        assert result.failed == ["bot7"]  # refused by the webhook: Result 0
        await oa.send_message(account_id, "hello")
        (message,) = [m async for m in oa.messages(account_id)]
        assert [e["MsgType"] for e in message.body] == ["TIMTextElem", "TIMCustomElem"]
    await emulator.webhooks_idle()
    assert set(emulator.subscriptions("bot7")) == set()
    assert hook.bodies(P + "AfterAddSubscriber")[0]["SubscribeAccountList"] == [
        {"Subscriber_Account": "alice"},
        {"Subscriber_Account": "bob"},
    ]


@pytest.mark.loopback
async def test_over_real_sockets_with_a_token() -> None:
    hook = _policy()
    with serve_asgi(hook) as hook_url:
        emulator = Emulator(webhook_url=hook_url + "/tim/callback", webhook_token="my-token")
        with serve(emulator) as base_url:
            signer = tim_oa.UserSigSigner(emulator.sdkappid, emulator.secret_key)
            async with tim_oa.Session(
                emulator.sdkappid, "administrator", signer, base_url=base_url, max_retries=0
            ) as oa:
                account_id = await oa.create_account("owner", "News")
                result = await oa.add_subscribers(account_id, ["alice", "bot1"])
                assert result.failed == ["bot1"]
            with anyio.fail_after(5):  # delivered by a task on the server's own loop
                await emulator.webhooks_idle()
    # After callbacks go in the background: AfterCreate may arrive after BeforeAddSubscriber.
    assert sorted(hook.commands) == sorted(
        [
            P + "BeforeCreateOfficialAccount",
            P + "AfterCreateOfficialAccount",
            P + "BeforeAddSubscriber",
            P + "AfterAddSubscriber",
        ]
    )
    assert set(hook.paths) == {"/tim/callback"}
    for query, _ in hook.calls:
        expected = hashlib.sha256(("my-token" + query["RequestTime"]).encode()).hexdigest()
        assert query["Sign"] == expected
        assert abs(int(query["RequestTime"]) - time.time()) < 60
    assert all(r.status == 200 for r in emulator.webhook_log)


def test_after_callbacks_are_delivered_under_trio() -> None:
    hook = Hook()
    emulator = Emulator(webhook_app=hook)

    async def main() -> None:
        async with emulator.session() as oa:
            await oa.create_account("owner", "News")
        with trio.fail_after(5):
            await emulator.webhooks_idle()

    trio.run(main)
    assert hook.commands == [P + "BeforeCreateOfficialAccount", P + "AfterCreateOfficialAccount"]


HOOK = Hook({P + "BeforeCreateOfficialAccount": {**OK_ANSWER, "ErrorCode": 1}})


@pytest.mark.tim_oa_emulator(webhook_app=HOOK)
async def test_the_plugin_wires_a_webhook_app_in_one_line(
    tim_oa_session: tim_oa.Session, tim_oa_emulator: Emulator
) -> None:
    with pytest.raises(tim_oa.ApiError) as info:
        await tim_oa_session.create_account("owner", "News")
    assert info.value.code == 20006
    assert [r.command for r in tim_oa_emulator.webhook_log] == [P + "BeforeCreateOfficialAccount"]


def test_after_callbacks_survive_an_event_loop_that_went_away() -> None:
    # A module-level emulator used by two asyncio.run() calls: the first loop ends before its
    # after callback is delivered; the second loop's callbacks must still be delivered.
    hook = Hook()
    emulator = Emulator(webhook_app=hook)

    async def create(name: str, wait: bool) -> None:
        async with emulator.session() as oa:
            await oa.create_account("owner", name)
        if wait:
            with anyio.fail_after(5):
                await emulator.webhooks_idle()

    asyncio.run(create("First", wait=False))
    asyncio.run(create("Second", wait=True))
    names = [body["Name"] for body in hook.bodies(P + "AfterCreateOfficialAccount")]
    assert "Second" in names
