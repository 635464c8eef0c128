"""WebhookRouter: registration checks, dispatch, the deadline, failures answered Allow."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable
from typing import Any, Optional, Union

import anyio
import pytest

from tim_oa import TextElem, ValidationError, webhooks
from tim_oa.webhooks import WebhookError

from .samples import NOW, SDKAPPID, TOKEN, request_for

ALLOW = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}


def make_router(**options: Any) -> webhooks.WebhookRouter:
    options.setdefault("clock", lambda: NOW)
    return webhooks.WebhookRouter(SDKAPPID, TOKEN, **options)


async def handle(router: webhooks.WebhookRouter, event_type: Any, **changes: Any) -> Any:
    return await router.handle(*request_for(event_type, **changes))


# --- dispatch ----------------------------------------------------------------------------------


async def test_an_async_handler_decides_the_answer() -> None:
    router = make_router()

    @router.on(webhooks.BeforeAddSubscriber)
    async def vet(event: webhooks.BeforeAddSubscriber) -> webhooks.Answer:
        return webhooks.RefuseSubscribers([u for u in event.user_ids if u == "bob"])

    answer = await handle(router, webhooks.BeforeAddSubscriber)
    assert answer == {**ALLOW, "RefusedSubscribers_Account": ["bob"]}


async def test_a_sync_handler_runs_in_a_worker_thread() -> None:
    router = make_router()
    threads: list[threading.Thread] = []

    @router.on(webhooks.BeforeCreateAccount)
    def refuse(event: webhooks.BeforeCreateAccount) -> webhooks.Refuse:
        threads.append(threading.current_thread())
        return webhooks.Refuse(120050, f"name {event.name} not allowed")

    answer = await handle(router, webhooks.BeforeCreateAccount)
    assert answer == {
        "ActionStatus": "OK",
        "ErrorCode": 120050,
        "ErrorInfo": "name Daily News not allowed",
    }
    assert threads and threads[0] is not threading.current_thread()


async def test_callable_objects_and_plain_callables_returning_coroutines() -> None:
    class Moderator:
        async def __call__(self, event: webhooks.BeforeSendMessage) -> webhooks.Drop:
            return webhooks.Drop()

    async def later(event: Any) -> webhooks.Answer:
        return webhooks.Refuse()

    router = make_router()
    router.add_handler(Moderator(), webhooks.BeforeSendMessage)
    router.add_handler(lambda event: later(event), webhooks.BeforeCreateAccount)
    assert (await handle(router, webhooks.BeforeSendMessage))["ErrorCode"] == 2
    assert (await handle(router, webhooks.BeforeCreateAccount))["ErrorCode"] == 1


async def test_no_handler_or_none_means_allow() -> None:
    router = make_router()
    seen: list[webhooks.Event] = []
    router.add_handler(seen.append, webhooks.AfterAddSubscriber)
    for event_type in webhooks.EVENT_TYPES.values():
        assert await handle(router, event_type) == ALLOW
    assert [type(e) for e in seen] == [webhooks.AfterAddSubscriber]


async def test_one_handler_for_several_events() -> None:
    router = make_router()
    seen: list[tuple[str, tuple[str, ...]]] = []

    @router.on(webhooks.AfterAddSubscriber, webhooks.AfterDeleteSubscriber)
    async def sync_members(
        event: webhooks.AfterAddSubscriber | webhooks.AfterDeleteSubscriber,
    ) -> None:
        seen.append((type(event).__name__, event.user_ids))

    await handle(router, webhooks.AfterAddSubscriber)
    await handle(router, webhooks.AfterDeleteSubscriber)
    assert seen == [("AfterAddSubscriber", ("alice",)), ("AfterDeleteSubscriber", ("bob",))]
    assert set(router.handlers) == {webhooks.AfterAddSubscriber, webhooks.AfterDeleteSubscriber}


async def test_dispatch_runs_a_handler_on_an_event_built_by_hand() -> None:
    router = make_router()

    @router.on(webhooks.BeforeSendMessage)
    async def moderate(event: webhooks.BeforeSendMessage) -> webhooks.Answer | None:
        text = " ".join(e.text for e in event.elements if isinstance(e, TextElem))
        return webhooks.ReplaceMessage(text.replace("darn", "d**n")) if "darn" in text else None

    event = webhooks.BeforeSendMessage(
        msg_body=({"MsgType": "TIMTextElem", "MsgContent": {"Text": "darn it"}},)
    )
    assert await router.dispatch(event) == webhooks.ReplaceMessage("d**n it")


# --- failures ----------------------------------------------------------------------------------


async def test_a_handler_that_raises_is_answered_allow_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = make_router()

    @router.on(webhooks.BeforeSendMessage)
    async def broken(event: webhooks.BeforeSendMessage) -> webhooks.Answer:
        raise KeyError("oops")

    with caplog.at_level(logging.ERROR, logger="tim_oa.webhooks"):
        assert await handle(router, webhooks.BeforeSendMessage) == ALLOW
    [record] = caplog.records
    assert "broken" in record.getMessage() and record.exc_info is not None
    assert isinstance(record.exc_info[1], KeyError)


async def test_a_handler_building_a_bad_answer_is_answered_allow(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = make_router()

    @router.on(webhooks.BeforeCreateAccount)
    async def bad_code(event: webhooks.BeforeCreateAccount) -> webhooks.Answer:
        return webhooks.Refuse(99)

    with caplog.at_level(logging.ERROR, logger="tim_oa.webhooks"):
        assert await handle(router, webhooks.BeforeCreateAccount) == ALLOW
    assert isinstance(caplog.records[0].exc_info[1], ValidationError)  # type: ignore[index]


async def test_a_slow_async_handler_is_cut_at_the_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = make_router(deadline=0.05, on_timeout="allow")
    finished: list[bool] = []

    @router.on(webhooks.BeforeSendMessage)
    async def slow(event: webhooks.BeforeSendMessage) -> webhooks.Answer:
        await anyio.sleep(30)
        finished.append(True)
        return webhooks.Drop()

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="tim_oa.webhooks"):
        assert await handle(router, webhooks.BeforeSendMessage) == ALLOW
    assert time.monotonic() - started < 1.5 and not finished
    [record] = caplog.records
    assert record.levelno == logging.WARNING and "deadline" in record.getMessage()


async def test_a_slow_sync_handler_is_abandoned_at_the_deadline() -> None:
    router = make_router(deadline=0.05)  # on_timeout="refuse": fail closed
    release = threading.Event()

    @router.on(webhooks.BeforeCreateAccount)
    def slow(event: webhooks.BeforeCreateAccount) -> webhooks.Answer:
        release.wait(10)
        return webhooks.Refuse(120001)

    started = time.monotonic()
    try:
        refused = await handle(router, webhooks.BeforeCreateAccount)
        assert refused == {"ActionStatus": "OK", "ErrorCode": 1, "ErrorInfo": ""}
        assert time.monotonic() - started < 1.5
    finally:
        release.set()


async def test_the_default_deadline_is_below_tencents_two_seconds() -> None:
    router = webhooks.WebhookRouter(SDKAPPID)
    assert router.deadline == webhooks.DEFAULT_DEADLINE == 1.5


async def test_an_answer_the_event_does_not_accept_is_logged_and_answered_allow(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = make_router()
    router.add_handler(lambda event: webhooks.Refuse(), webhooks.AfterAddSubscriber)
    router.add_handler(lambda event: webhooks.Drop(), webhooks.BeforeAddSubscriber)
    router.add_handler(lambda event: {"ErrorCode": 1}, webhooks.BeforeCreateAccount)  # type: ignore[arg-type, return-value]
    with caplog.at_level(logging.ERROR, logger="tim_oa.webhooks"):
        assert await handle(router, webhooks.AfterAddSubscriber) == ALLOW
        assert await handle(router, webhooks.BeforeAddSubscriber) == ALLOW
        assert await handle(router, webhooks.BeforeCreateAccount) == ALLOW
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3
    assert "returned Refuse" in messages[0] and "accepts only Allow" in messages[0]
    assert "returned Drop" in messages[1] and "returned dict" in messages[2]


async def test_bad_requests_raise_webhook_error_and_run_no_handler() -> None:
    router = make_router(allow_unknown_commands=False)
    calls: list[Any] = []
    router.add_handler(calls.append, webhooks.AfterAccountFull)
    query, body = request_for(webhooks.AfterAccountFull)
    for bad_query, bad_body, reason in [
        ({**query, "Sign": "0" * 64}, body, "signature"),
        ({**query, "SdkAppid": "1"}, body, "sdkappid"),
        (query, body[:-3], "body"),
        (query, b'{"CallbackCommand": "Group.CallbackAfterNewMemberJoin"}', "command"),
    ]:
        with pytest.raises(WebhookError) as info:
            await router.handle(bad_query, bad_body)
        assert info.value.reason == reason
    assert calls == []


async def test_unknown_commands_can_be_allowed() -> None:
    router = make_router(allow_unknown_commands=True)
    group = "Group.CallbackBeforeSendMsg"
    query = webhooks.callback_query(SDKAPPID, group, token=TOKEN, request_time=NOW)
    assert await router.handle(query, {"CallbackCommand": group}) == ALLOW
    with pytest.raises(WebhookError) as info:  # still authenticated first
        await router.handle({**query, "Sign": "0" * 64}, {"CallbackCommand": group})
    assert info.value.reason == "signature"


async def test_the_router_options_reach_parse_event() -> None:
    query, body = request_for(webhooks.AfterAccountFull)
    old = make_router(clock=lambda: NOW + 61)
    with pytest.raises(WebhookError, match="old"):
        await old.handle(query, body)
    assert await make_router(clock=lambda: NOW + 61, max_skew=None).handle(query, body) == ALLOW
    with pytest.raises(WebhookError, match="missing"):
        await make_router(strict=True).handle(
            query, {"CallbackCommand": webhooks.AfterAccountFull.command}
        )


def test_the_router_works_under_trio() -> None:
    router = make_router()
    router.add_handler(lambda event: webhooks.Refuse(), webhooks.BeforeCreateAccount)
    answer = anyio.run(router.handle, *request_for(webhooks.BeforeCreateAccount), backend="trio")
    assert answer["ErrorCode"] == 1


# --- registration ------------------------------------------------------------------------------


def after_refuse(event: webhooks.AfterAddSubscriber) -> webhooks.Refuse: ...  # type: ignore[empty-body]
def optional_refuse(event: Any) -> Optional[webhooks.Refuse]: ...  # noqa: UP045
def union_refuse(event: Any) -> Union[webhooks.Allow, webhooks.Refuse]: ...  # type: ignore[empty-body]  # noqa: UP007
def pipe_drop(event: Any) -> webhooks.Allow | webhooks.Drop: ...  # type: ignore[empty-body]
async def async_refuse(event: Any) -> webhooks.Refuse: ...  # type: ignore[empty-body]
def awaitable_refuse(event: Any) -> Awaitable[webhooks.Refuse]: ...  # type: ignore[empty-body]
def returns_dict(event: Any) -> dict[str, Any]: ...  # type: ignore[empty-body]
def returns_answer(event: Any) -> webhooks.Answer: ...  # type: ignore[empty-body]
def returns_none(event: Any) -> None: ...
def unannotated(event): ...  # type: ignore[no-untyped-def]
def unresolvable(event: Any) -> NoSuchAnswer: ...  # type: ignore[name-defined]  # noqa: F821


@pytest.mark.parametrize(
    ("handler", "events", "ok"),
    [
        (after_refuse, [webhooks.AfterAddSubscriber], False),
        (optional_refuse, [webhooks.AfterAccountFull], False),
        (optional_refuse, [webhooks.BeforeCreateAccount], True),
        (union_refuse, [webhooks.BeforeCreateAccount, webhooks.BeforeSendMessage], True),
        (union_refuse, [webhooks.BeforeCreateAccount, webhooks.AfterSendMessage], False),
        (pipe_drop, [webhooks.BeforeSendMessage], True),
        (pipe_drop, [webhooks.BeforeAddSubscriber], False),
        (async_refuse, [webhooks.AfterRecallMessages], False),
        (awaitable_refuse, [webhooks.AfterCreateAccount], False),
        (returns_dict, [webhooks.BeforeCreateAccount], False),
        (returns_answer, [webhooks.AfterCreateAccount], True),
        (returns_none, [webhooks.AfterCreateAccount], True),
        (unannotated, [webhooks.AfterCreateAccount], True),
        (unresolvable, [webhooks.AfterCreateAccount], True),
    ],
)
def test_return_annotations_are_checked_at_registration(
    handler: Any, events: Any, ok: bool
) -> None:
    router = make_router()
    if ok:
        assert router.on(*events)(handler) is handler
        assert all(router.handlers[e] is handler for e in events)
    else:
        with pytest.raises(ValidationError) as info:
            router.on(*events)(handler)
        assert info.value.field == "handler" and handler.__name__ in str(info.value)
        assert router.handlers == {}


def test_registration_mistakes() -> None:
    router = make_router()
    router.add_handler(returns_none, webhooks.AfterAccountFull)
    with pytest.raises(ValidationError, match="already has a handler"):
        router.add_handler(returns_answer, webhooks.AfterAccountFull)
    with pytest.raises(ValidationError, match="not one of"):
        router.on(webhooks.Event)
    with pytest.raises(ValidationError, match="not one of"):
        router.on("OfficialAccount.CallbackAfterSendMsg")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="at least one"):
        router.on()
    with pytest.raises(ValidationError, match="callable"):
        router.add_handler("handler", webhooks.AfterSendMessage)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"sdkappid": "1400000000"}, "sdkappid"),
        ({"token": ""}, "token"),
        ({"deadline": 0}, "deadline"),
        ({"deadline": float("inf")}, "deadline"),
        ({"deadline": True}, "deadline"),
        ({"max_skew": -5}, "max_skew"),
    ],
)
def test_bad_router_options(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        webhooks.WebhookRouter(**{"sdkappid": SDKAPPID, **options})
    assert info.value.field == field


def test_the_token_stays_out_of_reprs() -> None:
    router = webhooks.WebhookRouter(SDKAPPID, "s3cret-token-value")
    assert "s3cret" not in repr(router) and "token=<set>" in repr(router)
    assert "s3cret" not in repr(router.asgi_app())
