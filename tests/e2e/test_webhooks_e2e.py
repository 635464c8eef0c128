"""The whole loop: a client calls the emulator, the emulator calls a webhook, the answer counts.

The webhook is the client's own ``tim_oa.webhooks`` router (written independently of the
emulator from the same reference) or, where the wire itself is checked, a raw ASGI hook; the
router's answers to the three "before" callbacks change what the API call does.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any, Literal

import anyio
import pytest
import trio
from fastapi import FastAPI

import tim_oa
from tim_oa import TextElem, webhooks
from tim_oa.testing import Emulator, serve
from tim_oa.testing._server import serve_asgi

from ..emulator.webhook_helpers import OK_ANSWER, Hook, P

APP = 1400000000
TOKEN = "loop-token"
NO_PACING: dict[str, Any] = {"send_per_second": None, "broadcasts_per_hour": None}


def make_router(**options: Any) -> tuple[webhooks.WebhookRouter, list[webhooks.Event]]:
    router = webhooks.WebhookRouter(sdkappid=APP, token=TOKEN, **options)
    seen: list[webhooks.Event] = []

    @router.on(webhooks.BeforeCreateAccount)
    async def vet_create(event: webhooks.BeforeCreateAccount) -> webhooks.Answer:
        seen.append(event)
        if event.name == "Forbidden":
            return webhooks.Refuse(120042, "name not allowed")
        if event.name == "Plain refusal":
            return webhooks.Refuse()
        return webhooks.Allow()

    @router.on(webhooks.BeforeAddSubscriber)
    async def vet_subscribers(event: webhooks.BeforeAddSubscriber) -> webhooks.Answer:
        seen.append(event)
        bots = [u for u in event.user_ids if u.startswith("bot_")]
        return webhooks.RefuseSubscribers(bots) if bots else webhooks.Allow()

    @router.on(webhooks.BeforeSendMessage)
    def moderate(event: webhooks.BeforeSendMessage) -> webhooks.Answer:
        seen.append(event)
        texts = [e.text for e in event.elements if isinstance(e, TextElem)]
        if "spoiler" in texts:
            return webhooks.Refuse(120001, "no spoilers")
        if "secret" in texts:
            return webhooks.Drop()
        if "draft" in texts:
            return webhooks.ReplaceMessage([TextElem("final")], cloud_custom_data="edited")
        return webhooks.Allow()

    for after in (
        webhooks.AfterCreateAccount,
        webhooks.AfterAddSubscriber,
        webhooks.AfterDeleteSubscriber,
        webhooks.AfterSendMessage,
        webhooks.AfterRecallMessages,
        webhooks.AfterAccountInfoChanged,
        webhooks.AfterAccountDestroyed,
        webhooks.AfterAccountFull,
    ):
        router.on(after)(seen.append)
    return router, seen


async def run_scenario(emulator: Emulator, seen: list[webhooks.Event]) -> None:
    async with emulator.session(send_rate=None) as oa:
        account_id = await oa.create_account("owner", "News", account_id="@TOA#_news")

        with pytest.raises(tim_oa.RefusedByWebhookError) as refused:
            await oa.create_account("owner", "Forbidden", account_id="@TOA#_bad")
        assert refused.value.code == 120042 and "name not allowed" in refused.value.info
        with pytest.raises(tim_oa.RefusedByWebhookError) as plain:
            await oa.create_account("owner", "Plain refusal", account_id="@TOA#_bad2")
        assert plain.value.code == 20006
        assert "@TOA#_bad" not in emulator.accounts and "@TOA#_bad2" not in emulator.accounts

        report = await oa.add_subscribers(account_id, ["alice", "bot_1", "bob", "bot_2"])
        assert report.succeeded == ["alice", "bob"]
        assert report.failed == ["bot_1", "bot_2"]
        assert {report.outcomes[u].code for u in report.failed} == {0}
        assert set(emulator.account(account_id).subscribers) == {"alice", "bob"}

        with pytest.raises(tim_oa.RefusedByWebhookError) as spoiler:
            await oa.send_message(account_id, "spoiler")
        assert spoiler.value.code == 120001
        dropped = await oa.send_message(account_id, "secret")  # the sender is told it worked
        assert dropped.msg_key
        await oa.send_message(account_id, "draft")
        history = await oa.messages(account_id).collect()
        assert [m.elements for m in history] == [(TextElem("final"),)]

        await oa.remove_subscribers(account_id, ["bob"])
        await oa.destroy_account(account_id)

    with anyio.fail_after(10):
        await emulator.webhooks_idle()
    kinds = [type(e).__name__ for e in seen]
    for name in (
        "BeforeCreateAccount",
        "AfterCreateAccount",
        "BeforeAddSubscriber",
        "AfterAddSubscriber",
        "BeforeSendMessage",
        "AfterSendMessage",
        "AfterDeleteSubscriber",
        "AfterAccountDestroyed",
    ):
        assert name in kinds, (name, kinds)
    added = [e for e in seen if isinstance(e, webhooks.AfterAddSubscriber)]
    assert sorted(u for e in added for u in e.user_ids) == ["alice", "bob"]
    sent = [e for e in seen if isinstance(e, webhooks.AfterSendMessage)]
    assert len(sent) == 1 and sent[0].cloud_custom_data == "edited"
    assert all(e.context.authenticated for e in seen)  # every callback was signed and checked


async def test_in_process_loop_before_answers_change_the_api() -> None:
    router, seen = make_router()
    emulator = Emulator(webhook_app=router.asgi_app(), webhook_token=TOKEN, **NO_PACING)
    await run_scenario(emulator, seen)
    assert all(r.status == 200 for r in emulator.webhook_log)


def test_fastapi_under_uvicorn_receives_callbacks_over_a_real_socket() -> None:
    router, seen = make_router()
    app = FastAPI()
    app.mount("/tim", router.asgi_app())
    with serve_asgi(app) as hooks_url:
        emulator = Emulator(
            webhook_url=f"{hooks_url}/tim/callback", webhook_token=TOKEN, **NO_PACING
        )
        with serve(emulator) as base_url:  # the API itself over a socket too

            async def main() -> None:
                original = emulator.session

                def over_socket(**options: Any) -> tim_oa.Session:
                    signer = tim_oa.UserSigSigner(APP, emulator.secret_key)
                    return tim_oa.Session(
                        sdkappid=APP,
                        identifier="administrator",
                        usersig=signer,
                        base_url=base_url,
                        **options,
                    )

                emulator.session = over_socket  # type: ignore[method-assign]
                try:
                    await run_scenario(emulator, seen)
                finally:
                    emulator.session = original  # type: ignore[method-assign]

            anyio.run(main)
    assert emulator.webhook_log and all(r.status == 200 for r in emulator.webhook_log)


async def test_wrong_token_is_refused_by_the_router_and_the_emulator_proceeds() -> None:
    router, seen = make_router()
    emulator = Emulator(webhook_app=router.asgi_app(), webhook_token="not-the-router's")
    async with emulator.session() as oa:
        account_id = await oa.create_account("owner", "Forbidden", account_id="@TOA#_x")
        report = await oa.add_subscribers(account_id, ["bot_1"])
    with anyio.fail_after(10):
        await emulator.webhooks_idle()
    assert account_id in emulator.accounts and report.succeeded == ["bot_1"]
    assert seen == []  # no handler ran for an unauthenticated callback
    assert {r.status for r in emulator.webhook_log} == {403}


@pytest.mark.parametrize("on_timeout", ["allow", "refuse"])
async def test_a_slow_before_handler_is_cut_at_the_router_deadline(
    on_timeout: Literal["allow", "refuse"],
) -> None:
    router = webhooks.WebhookRouter(sdkappid=APP, token=TOKEN, deadline=0.2, on_timeout=on_timeout)

    @router.on(webhooks.BeforeAddSubscriber)
    async def slow(event: webhooks.BeforeAddSubscriber) -> webhooks.Answer:
        await anyio.sleep(5)
        return webhooks.Refuse()

    emulator = Emulator(webhook_app=router.asgi_app(), webhook_token=TOKEN)
    async with emulator.session() as oa:
        account_id = await oa.create_account("owner", "News", account_id="@TOA#_slow")
        started = time.monotonic()
        report = await oa.add_subscribers(account_id, ["alice"])
        elapsed = time.monotonic() - started
    # the router answered at its deadline: Allow() or (the default) Refuse()
    assert report.succeeded == (["alice"] if on_timeout == "allow" else [])
    assert elapsed < 1.5, elapsed  # well inside Tencent's 2 s


async def test_the_emulator_treats_a_handler_past_two_seconds_as_allow() -> None:
    async def stalls(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await anyio.sleep(30)

    emulator = Emulator(webhook_app=stalls, webhook_timeout=0.3)
    async with emulator.session() as oa:
        account_id = await oa.create_account("owner", "News", account_id="@TOA#_stall")
        report = await oa.add_subscribers(account_id, ["alice"])
    assert account_id in emulator.accounts and report.succeeded == ["alice"]


# --- the wire, with a raw hook ---------------------------------------------------------------


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
