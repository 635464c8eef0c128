"""Issue 17, webhook defects: busy threads (2), the body read (3), registration checks (7),
callbacks nobody handles (10).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
from collections.abc import MutableMapping
from typing import Any

import anyio
import httpx
import pytest

import tim_oa
from tim_oa import webhooks
from tim_oa.testing._server import serve_asgi

from ..webhooks.samples import NOW, SDKAPPID, TOKEN, body_of, query_for
from .support import count

OK = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}


def make_router(**options: Any) -> webhooks.WebhookRouter:
    options.setdefault("clock", lambda: NOW)
    return webhooks.WebhookRouter(SDKAPPID, TOKEN, **options)


# --- 2: a "before" callback is never answered Allow by a handler that never ran ---------------


async def test_500_concurrent_callbacks_to_a_busy_sync_handler_never_allow_unheard() -> None:
    count("round-three cases")
    router = make_router()
    ran: set[str] = set()
    lock = threading.Lock()

    @router.on(webhooks.BeforeAddSubscriber)
    def refuse_all(event: webhooks.BeforeAddSubscriber) -> webhooks.Answer:
        with lock:
            ran.update(event.user_ids)
        time.sleep(0.2)
        return webhooks.Refuse()

    answers: dict[str, dict[str, Any]] = {}
    query = query_for(webhooks.BeforeAddSubscriber)

    async def one(n: int) -> None:
        body = body_of(
            webhooks.BeforeAddSubscriber, SubscribeAccountList=[{"Subscriber_Account": f"user{n}"}]
        )
        answers[f"user{n}"] = await router.handle(query, body)

    async with anyio.create_task_group() as tg:
        for n in range(500):
            tg.start_soon(one, n)
    allowed_unheard = [u for u, a in answers.items() if a["ErrorCode"] == 0 and u not in ran]
    assert allowed_unheard == []
    never_ran = [u for u in answers if u not in ran]
    assert never_ran, "the pool was not busy: the test proves nothing"
    # fail closed by default: neither a handler that never ran nor one cut at the deadline allows
    assert [a for a in answers.values() if a["ErrorCode"] != 1] == []


@pytest.mark.parametrize(("on_timeout", "code"), [("refuse", 1), ("allow", 0)])
async def test_on_timeout_decides_for_a_handler_that_got_no_thread(
    on_timeout: str, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    count("round-three cases")
    router = make_router(max_threads=1, deadline=0.3, on_timeout=on_timeout)
    release = threading.Event()
    calls: list[str | None] = []

    @router.on(webhooks.BeforeSendMessage)
    def hold(event: webhooks.BeforeSendMessage) -> webhooks.Answer:
        calls.append(event.official_account)
        release.wait(5)
        return webhooks.Drop()

    query = query_for(webhooks.BeforeSendMessage)
    results: list[dict[str, Any]] = []

    async def one() -> None:
        results.append(await router.handle(query, body_of(webhooks.BeforeSendMessage)))

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(one)
            await anyio.sleep(0.05)
            tg.start_soon(one)
    finally:
        release.set()
    assert len(calls) == 1
    # the first ran past the deadline, the second never ran: both answered per on_timeout
    assert [r["ErrorCode"] for r in results] == [code, code]
    messages = [r.getMessage() for r in caplog.records]
    assert any("never ran" in m for m in messages) and any("ran past" in m for m in messages)


# --- 3: the signature is checked before the body is read, and the read is bounded -------------


def _raw_post(
    base_url: str, query: dict[str, str], length: int, sent: bytes
) -> tuple[bytes, float]:
    """POST a body of ``length`` bytes but send only ``sent``; return the status line and time."""
    url = urllib.parse.urlsplit(base_url)
    assert url.port is not None
    started = time.monotonic()
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        head = (
            f"POST /?{urllib.parse.urlencode(query)} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
        )
        sock.sendall(head.encode() + sent)
        try:
            status = sock.recv(64).split(b"\r\n")[0]
        except TimeoutError:
            status = b"(no answer in 5 s)"
    return status, time.monotonic() - started


@pytest.mark.loopback
def test_a_trickled_body_with_a_bad_signature_is_refused_before_it_is_read() -> None:
    count("round-three cases")
    router = webhooks.WebhookRouter(SDKAPPID, TOKEN)
    app = router.asgi_app(body_timeout=0.5)
    query = webhooks.callback_query(SDKAPPID, webhooks.BeforeAddSubscriber, token=TOKEN)
    with serve_asgi(app) as base_url:
        bad, _ = _raw_post(base_url, {**query, "Sign": "0" * 64}, 900_000, b'{"Callback')
        # a good signature whose body never finishes: 408 once body_timeout has passed
        slow, _ = _raw_post(base_url, query, 900_000, b'{"Callback')
    assert bad.startswith(b"HTTP/1.1 403"), bad
    assert slow.startswith(b"HTTP/1.1 408"), slow


async def test_the_body_is_not_received_before_authentication() -> None:
    count("round-three cases")
    router = make_router()
    app = router.asgi_app()
    received: list[str] = []
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        received.append("body")
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    query = urllib.parse.urlencode({**query_for(webhooks.AfterAccountFull), "Sign": "0" * 64})
    scope = {"type": "http", "method": "POST", "query_string": query.encode(), "headers": []}
    await app(scope, receive, send)
    assert received == [] and sent[0]["status"] == 403


# --- 7: checks at registration and construction ---------------------------------------------


def _two(event: Any, extra: Any) -> None: ...


def _none() -> None: ...


class _Handlers:
    def method(self, event: Any) -> None: ...


@pytest.mark.parametrize("handler", [_two, _none, lambda: None, lambda a, b, c=1: None])
def test_a_handler_that_cannot_take_the_event_is_refused_at_registration(handler: Any) -> None:
    count("round-three cases")
    router = make_router()
    with pytest.raises(tim_oa.ValidationError, match="one positional argument"):
        router.on(webhooks.BeforeAddSubscriber)(handler)
    with pytest.raises(tim_oa.ValidationError, match="one positional argument"):
        router.fallback(handler)
    assert router.handlers == {}


def test_handlers_that_can_take_the_event_are_accepted() -> None:
    router = make_router()
    router.add_handler(_Handlers().method, webhooks.AfterAccountFull)
    router.add_handler(lambda *events: None, webhooks.AfterAddSubscriber)
    router.add_handler(lambda event, extra=None: None, webhooks.AfterSendMessage)  # type: ignore[misc]
    router.add_handler(print, webhooks.AfterRecallMessages)  # a builtin: not inspectable
    assert len(router.handlers) == 4


@pytest.mark.parametrize("token", ["", " ", "\t\n", "   "])
def test_a_blank_token_is_refused(token: str) -> None:
    count("round-three cases")
    with pytest.raises(tim_oa.ValidationError, match="token"):
        webhooks.WebhookRouter(SDKAPPID, token)


@pytest.mark.parametrize("answer", [webhooks.Refuse, webhooks.Allow, webhooks.Drop])
def test_an_answer_info_is_bounded(answer: Any) -> None:
    count("round-three cases")
    with pytest.raises(tim_oa.ValidationError, match="1024 bytes"):
        answer(info="x" * 10_000_000)
    with pytest.raises(tim_oa.ValidationError, match="1024 bytes"):
        answer(info="é" * 513)  # 1026 bytes in UTF-8
    assert answer(info="é" * 512).info  # exactly 1024 bytes


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"on_timeout": "maybe"}, "on_timeout"),
        ({"max_threads": 0}, "max_threads"),
        ({"max_threads": 2.5}, "max_threads"),
        ({"allow_unknown_commands": "yes"}, "allow_unknown_commands"),
        ({"clock": 5}, "clock"),
    ],
)
def test_router_options_are_checked_when_built(options: dict[str, Any], field: str) -> None:
    count("round-three cases")
    with pytest.raises(tim_oa.ValidationError) as info:
        make_router(**options)
    assert info.value.field == field


def test_app_options_are_checked_when_built() -> None:
    with pytest.raises(tim_oa.ValidationError, match="body_timeout"):
        make_router().asgi_app(body_timeout=0)


# --- 10: one URL serves every callback of the app --------------------------------------------


@pytest.mark.parametrize(
    ("command", "body"),
    [
        ("C2C.CallbackBeforeSendMsg", b'{"CallbackCommand": "C2C.CallbackBeforeSendMsg"}'),
        ("State.StateChange", b""),  # the console's URL test, as reported: no body at all
        ("State.StateChange", b'{"CallbackCommand": "State.StateChange", "Info": {}}'),
        ("Group.CallbackAfterNewMemberJoin", b"{}"),
        (webhooks.AfterAccountFull.command, json.dumps(body_of(webhooks.AfterAccountFull))),
    ],
    ids=["c2c-before", "console-test", "state", "group", "oa-without-handler"],
)
async def test_callbacks_without_a_handler_are_answered_ok(command: str, body: Any) -> None:
    count("round-three cases")
    router = make_router()
    query = webhooks.callback_query(SDKAPPID, command, token=TOKEN, request_time=NOW)
    assert await router.handle(query, body) == OK
    transport = httpx.ASGITransport(app=router.asgi_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://hook") as http:
        response = await http.post("/", params=query, content=body)
        refused = await http.post("/", params={**query, "Sign": "0" * 64}, content=body)
    assert response.status_code == 200 and response.json() == OK
    assert refused.status_code == 403


async def test_the_fallback_gets_the_verified_raw_callback() -> None:
    count("round-three cases")
    router = make_router()
    seen: list[webhooks.RawCallback] = []

    @router.fallback
    def everything_else(callback: webhooks.RawCallback) -> webhooks.Answer | None:
        seen.append(callback)
        if callback.command == "C2C.CallbackBeforeSendMsg":
            return webhooks.Refuse(120001, "no")
        return None

    @router.on(webhooks.AfterAccountFull)
    async def full(event: webhooks.AfterAccountFull) -> None:
        return None

    c2c = "C2C.CallbackBeforeSendMsg"
    c2c_body = {"CallbackCommand": c2c, "From_Account": "a"}
    query = webhooks.callback_query(SDKAPPID, c2c, token=TOKEN, request_time=NOW)
    answer = await router.handle(query, c2c_body)
    assert answer == {"ActionStatus": "OK", "ErrorCode": 120001, "ErrorInfo": "no"}
    # an OA callback nobody registered reaches the fallback too; a registered one does not
    for event_type in (webhooks.AfterSendMessage, webhooks.AfterAccountFull):
        await router.handle(query_for(event_type), body_of(event_type))
    with pytest.raises(webhooks.WebhookError):
        await router.handle({**query, "Sign": "0" * 64}, c2c_body)
    assert [c.command for c in seen] == [c2c, webhooks.AfterSendMessage.command]
    assert seen[0].body == c2c_body and seen[0].context.authenticated
    with pytest.raises(tim_oa.ValidationError, match="already has a fallback"):
        router.fallback(everything_else)


def test_parse_event_raises_for_unknown_commands_unless_asked() -> None:
    count("round-three cases")
    command = "State.StateChange"
    query = webhooks.callback_query(SDKAPPID, command, token=TOKEN, request_time=NOW)
    options: dict[str, Any] = {"sdkappid": SDKAPPID, "token": TOKEN, "now": NOW}
    with pytest.raises(webhooks.WebhookError) as info:
        webhooks.parse_event(query, b"", **options)
    assert info.value.reason == "command"
    raw = webhooks.parse_event(query, b"", allow_unknown_commands=True, **options)
    assert isinstance(raw, webhooks.RawCallback)
    assert raw.command == command and raw.body == {}


SCRIPT_OUTLIVING_HANDLER = """
import threading, time
from tim_oa import webhooks

TOKEN = "tok"
router = webhooks.WebhookRouter(1400000000, TOKEN, deadline=0.05)
release = threading.Event()

@router.on(webhooks.BeforeAddSubscriber)
def slow(event):
    release.wait(10)  # still running when its callback is answered and its event loop ends

query = webhooks.callback_query(1400000000, webhooks.BeforeAddSubscriber, token=TOKEN)
body = {"CallbackCommand": "OfficialAccount.CallbackBeforeAddSubscriber",
        "Official_Account": "@TOA#_news", "Operator_Account": "admin",
        "SubscriberList": ["u1"], "EventTime": int(time.time() * 1000)}

async def main():
    print((await router.handle(query, body))["ActionStatus"])

import asyncio

loop = asyncio.new_event_loop()  # stopped but never closed, as a test runner's loop may be
loop.run_until_complete(main())
release.set()  # the handler returns while its loop no longer runs: its thread must end alone
print("done")
"""


def test_a_sync_handler_that_outlives_its_event_loop_does_not_hang_the_exit() -> None:
    """A handler abandoned at the deadline gives its thread slot back without waiting for the
    loop, which may have finished: the interpreter then exits instead of waiting forever."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", SCRIPT_OUTLIVING_HANDLER],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["OK", "done"]
