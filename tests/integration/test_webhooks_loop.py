"""The whole webhook loop: the emulator (a peer written from the reference) sends callbacks to the
client's ``tim_oa.webhooks`` router (written independently from the same reference), and the
router's answers to the three "before" callbacks change what the API call does.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import anyio
import pytest
from fastapi import FastAPI

import tim_oa
from tim_oa import TextElem, webhooks
from tim_oa.testing import Emulator, serve
from tim_oa.testing._server import serve_asgi

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
