"""The emulator sends the 11 Official Account callbacks and honours the before answers."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest

from tim_oa.testing import Emulator, ManualClock
from tim_oa.testing._webhooks import sign

from .helpers import ADMIN, SDKAPPID, T0, RawClient, text
from .webhook_helpers import OK_ANSWER, Hook, P

MS = T0 * 1000
INFO = "get_official_account_info"
SEND = "send_official_account_msg"
HISTORY = "official_account_msg_get_simple"
Make = Callable[..., Any]


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    """Build (emulator, raw client) pairs wired to a Hook; closes the clients."""
    clients: list[RawClient] = []

    def factory(hook: Hook | None = None, **options: Any) -> tuple[Emulator, RawClient]:
        options.setdefault("clock", ManualClock(T0))
        options.setdefault("send_per_second", None)
        options.setdefault("broadcasts_per_hour", None)
        if hook is not None:
            options["webhook_app"] = hook
        emulator = Emulator(**options)
        client = RawClient(emulator)
        clients.append(client)
        return emulator, client

    yield factory
    for client in clients:
        await client.aclose()


def subs(*users: str) -> list[dict[str, str]]:
    return [{"Subscriber_Account": user} for user in users]


def decision_of(emulator: Emulator, command: str) -> str:
    (record,) = [r for r in emulator.webhook_log if r.command == command]
    return record.decision


async def settle(emulator: Emulator) -> None:
    with anyio.fail_after(5):
        await emulator.webhooks_idle()


# -- authentication (reference §1.6) --


@pytest.mark.parametrize(
    ("token", "request_time", "expected"),
    [
        (
            "xxxxyyyy",
            "1669872112",
            "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061",
        ),
        (
            "my-token",
            "1700000000",
            "5109fa80ed3a01aec6ca7dc83511bfe43bda2bd77f203c50430ce7ba0c5a4905",
        ),
    ],
)
def test_sign_known_answer_vectors(token: str, request_time: str, expected: str) -> None:
    assert sign(token, request_time) == expected


async def test_query_carries_sign_and_request_time_with_a_token(make: Make) -> None:
    hook = Hook()
    emulator, client = make(hook, webhook_token="my-token")
    await client.create()
    await settle(emulator)
    query, _ = hook.calls[0]
    assert query == {
        "SdkAppid": str(SDKAPPID),
        "CallbackCommand": P + "BeforeCreateOfficialAccount",
        "contenttype": "json",
        "ClientIP": "127.0.0.1",
        "OptPlatform": "RESTAPI",
        "RequestTime": str(T0),
        "Sign": "5109fa80ed3a01aec6ca7dc83511bfe43bda2bd77f203c50430ce7ba0c5a4905",
    }
    assert query["Sign"] == hashlib.sha256(f"my-token{T0}".encode()).hexdigest()


async def test_no_sign_without_a_token(make: Make) -> None:
    hook = Hook()
    emulator, client = make(hook)
    await client.create()
    await settle(emulator)
    assert all("Sign" not in q and "RequestTime" not in q for q, _ in hook.calls)
    assert [q["CallbackCommand"] for q, _ in hook.calls] == hook.commands


# -- every callback, at its moment, with the reference's fields --


async def test_the_eleven_callbacks(make: Make) -> None:
    hook = Hook()
    emulator, client = make(hook)

    async def step() -> list[dict[str, Any]]:
        await settle(emulator)
        new = [body for _, body in hook.calls[step.seen :]]  # type: ignore[attr-defined]
        step.seen = len(hook.calls)  # type: ignore[attr-defined]
        return new

    step.seen = 0  # type: ignore[attr-defined]
    oa = await client.create("News", owner="u_1001", MaxSubscriberNum=2)
    assert await step() == [
        {
            "CallbackCommand": P + "BeforeCreateOfficialAccount",
            "Operator_Account": ADMIN,
            "Owner_Account": "u_1001",
            "Name": "News",
            "EventTime": MS,
        },
        {
            "CallbackCommand": P + "AfterCreateOfficialAccount",
            "Official_Account": oa,
            "Operator_Account": ADMIN,
            "Owner_Account": "u_1001",
            "Name": "News",
            "EventTime": MS,
        },
    ]
    await client.ok(
        "modify_official_account_base_info", {"Official_Account": oa, "Introduction": "Daily"}
    )
    assert await step() == [
        {
            "CallbackCommand": P + "AfterOfficialAccountInfoChanged",
            "Official_Account": oa,
            "Operator_Account": ADMIN,
            "Introduction": "Daily",
            "Name": "News",
            "FaceUrl": "",
            "Organization": "",
            "EventTime": MS,
        }
    ]
    await client.ok("add_subscriber", {"Official_Account": oa, "SubscriberList": subs("a")})
    assert await step() == [
        {
            "CallbackCommand": P + "BeforeAddSubscriber",
            "Official_Account": oa,
            "Operator_Account": ADMIN,
            "SubscribeAccountList": subs("a"),
            "EventTime": MS,
        },
        {
            "CallbackCommand": P + "AfterAddSubscriber",
            "Official_Account": oa,
            "Operator_Account": ADMIN,
            "SubscribeAccountList": subs("a"),
            "EventTime": MS,
        },
    ]
    await client.ok(
        "add_subscriber", {"Official_Account": oa, "SubscriberList": subs("a", "b", "c")}
    )
    assert await step() == [
        # "a" already subscribes: only b and c are asked about; the account fills at b.
        {
            "CallbackCommand": P + "BeforeAddSubscriber",
            "Official_Account": oa,
            "Operator_Account": ADMIN,
            "SubscribeAccountList": subs("b", "c"),
            "EventTime": MS,
        },
        {
            "CallbackCommand": P + "AfterAddSubscriber",
            "Official_Account": oa,
            "Operator_Account": ADMIN,
            "SubscribeAccountList": subs("b"),
            "EventTime": MS,
        },
        {
            "CallbackCommand": P + "AfterOfficialAccountFull",
            "Official_Account": oa,
            "EventTime": MS,
        },
    ]
    await client.ok(
        "delete_subscriber", {"Official_Account": oa, "SubscriberToDel_Account": ["b", "zz"]}
    )
    assert await step() == [
        {
            "CallbackCommand": P + "AfterDeleteSubscriber",
            "Official_Account": oa,
            "Operator_Account": ADMIN,
            "SubscribeAccountList": subs("b"),
            "EventTime": MS,
        }
    ]
    sent = await client.ok(
        SEND,
        {"Official_Account": oa, "Random": 1, "MsgBody": text("Top"), "CloudCustomData": "cd"},
    )
    assert await step() == [
        {
            "CallbackCommand": P + "BeforeSendMsg",
            "Official_Account": oa,
            "OnlineOnlyFlag": 0,
            "MsgBody": text("Top"),
            "CloudCustomData": "cd",
            "EventTime": MS,
        },
        {
            "CallbackCommand": P + "AfterSendMsg",
            "Official_Account": oa,
            "MsgKey": sent["MsgKey"],
            "MsgTime": T0,
            "OnlineOnlyFlag": 0,
            "MsgBody": text("Top"),
            "CloudCustomData": "cd",
            "EventTime": MS,
        },
    ]
    await client.ok(
        "official_account_msg_recall",
        {"Official_Account": oa, "MsgKeyList": [sent["MsgKey"], "9_1_1"]},
    )
    assert await step() == [
        {
            "CallbackCommand": P + "AfterMsgWithDraw",
            "Official_Account": oa,
            "WithdrawMsgList": [{"MsgKey": sent["MsgKey"]}],
            "EventTime": MS,
        }
    ]
    await client.ok("destroy_official_account", {"Official_Account": oa})
    assert await step() == [
        {
            "CallbackCommand": P + "AfterOfficialAccountDestroyed",
            "Official_Account": oa,
            "Owner_Account": "u_1001",
            "Name": "News",
            "EventTime": MS,
        }
    ]
    assert len(set(hook.commands)) == 11
    assert [r.command for r in emulator.webhook_log] == hook.commands
    assert all(r.status == 200 and r.error is None for r in emulator.webhook_log)


async def test_no_callback_for_failed_or_empty_requests(make: Make) -> None:
    hook = Hook()
    emulator, client = make(hook, known_users=["owner1", "a"])
    oa = await client.create(OfficialAccountUserID="@TOA#_mine")
    await settle(emulator)
    del hook.calls[:]
    # Doomed before the before callback: unknown owner (70107), id in use (130008), bad body.
    assert (
        await client.code("create_official_account", {"Owner_Account": "x", "Name": "N"}) == 70107
    )
    custom = {"Owner_Account": "owner1", "Name": "N", "OfficialAccountUserID": oa}
    assert await client.code("create_official_account", custom) == 130008
    assert await client.code("create_official_account", {"Name": "N"}) == 20001
    # Nobody added, removed or recalled: no after callback; everyone subscribed: no before.
    await client.ok("add_subscriber", {"Official_Account": oa, "SubscriberList": subs("ghost")})
    await client.ok("add_subscriber", {"Official_Account": oa, "SubscriberList": subs("a")})
    await client.ok("add_subscriber", {"Official_Account": oa, "SubscriberList": subs("a")})
    await client.ok(
        "delete_subscriber", {"Official_Account": oa, "SubscriberToDel_Account": ["ghost"]}
    )
    await client.ok(
        "official_account_msg_recall", {"Official_Account": oa, "MsgKeyList": ["1_1_1"]}
    )
    await settle(emulator)
    assert hook.commands == [
        P + "BeforeAddSubscriber",  # ghost is asked about, then fails as not imported
        P + "BeforeAddSubscriber",
        P + "AfterAddSubscriber",
    ]


async def test_call_sends_no_callbacks(make: Make) -> None:
    hook = Hook()
    emulator, _ = make(hook)
    created = emulator.call("create_official_account", {"Owner_Account": "o", "Name": "N"})
    oa = created["OfficialAccountUserID"]
    emulator.call("add_subscriber", {"Official_Account": oa, "SubscriberList": subs("a")})
    emulator.call(SEND, {"Official_Account": oa, "Random": 1, "MsgBody": text()})
    await settle(emulator)
    assert hook.calls == [] and emulator.webhook_log == []


# -- before-create (reference §3.1) --


@pytest.mark.parametrize(
    ("answer", "code", "info"),
    [
        ({"ActionStatus": "OK", "ErrorCode": 1, "ErrorInfo": "no"}, 20006, None),
        (
            {"ActionStatus": "OK", "ErrorCode": 120050, "ErrorInfo": "name not allowed"},
            120050,
            "name not allowed",
        ),
        ({"ActionStatus": "OK", "ErrorCode": 130000, "ErrorInfo": "edge"}, 130000, "edge"),
        ({"ActionStatus": "OK", "ErrorCode": 7, "ErrorInfo": "?"}, 20006, None),
    ],
)
async def test_before_create_refusals(
    make: Make, answer: dict[str, Any], code: int, info: str | None
) -> None:
    hook = Hook({P + "BeforeCreateOfficialAccount": answer})
    emulator, client = make(hook)
    data = await client.envelope("create_official_account", {"Owner_Account": "o", "Name": "N"})
    assert data["ErrorCode"] == code
    if info is not None:
        assert data["ErrorInfo"] == info
    await settle(emulator)
    assert emulator.accounts == {}
    assert hook.commands == [P + "BeforeCreateOfficialAccount"]  # no after-create
    assert decision_of(emulator, P + "BeforeCreateOfficialAccount") == "refuse"


async def test_state_is_checked_again_after_the_before_callback(make: Make) -> None:
    gate = anyio.Event()
    hook = Hook(gate=gate)
    emulator, client = make(hook)
    body = {"Owner_Account": "o", "Name": "N", "OfficialAccountUserID": "@TOA#_taken"}
    codes: list[int] = []

    async def create() -> None:
        codes.append(await client.code("create_official_account", body))

    async with anyio.create_task_group() as tg:
        tg.start_soon(create)
        await hook.arrived.wait()
        # The lock is free while the webhook thinks: other requests are answered meanwhile...
        assert (
            await client.code(INFO, {"OfficialAccountIdList": [{"Official_Account": "@TOA#_x"}]})
            == 0
        )
        # ...and the id is taken meanwhile by someone else.
        assert emulator.call("create_official_account", body)["ErrorCode"] == 0
        gate.set()
    assert codes == [130008]


# -- before-add-subscriber (reference §3.5) --


async def test_refused_subscribers_get_result_0_and_are_not_added(make: Make) -> None:
    answer = {**OK_ANSWER, "RefusedSubscribers_Account": ["bob", "nobody-asked"]}
    hook = Hook({P + "BeforeAddSubscriber": answer})
    emulator, client = make(hook)
    oa = await client.create()
    data = await client.ok(
        "add_subscriber", {"Official_Account": oa, "SubscriberList": subs("alice", "bob")}
    )
    assert data["SubscriberList"] == [
        {"Subscriber_Account": "alice", "Result": 1},
        {"Subscriber_Account": "bob", "Result": 0},
    ]
    assert list(emulator.account(oa).subscribers) == ["alice"]
    await settle(emulator)
    (after,) = hook.bodies(P + "AfterAddSubscriber")
    assert after["SubscribeAccountList"] == subs("alice")
    assert decision_of(emulator, P + "BeforeAddSubscriber") == "refuse some"


@pytest.mark.parametrize(
    "answer",
    [
        {**OK_ANSWER, "ErrorCode": 1},
        {**OK_ANSWER, "ErrorCode": 120001, "RefusedSubscribers_Account": []},
    ],
)
async def test_before_add_refusing_everyone(make: Make, answer: dict[str, Any]) -> None:
    hook = Hook({P + "BeforeAddSubscriber": answer})
    emulator, client = make(hook)
    oa = await client.create()
    data = await client.ok(
        "add_subscriber", {"Official_Account": oa, "SubscriberList": subs("alice", "bob")}
    )
    assert [item["Result"] for item in data["SubscriberList"]] == [0, 0]
    assert emulator.account(oa).subscribers == {}
    await settle(emulator)
    assert P + "AfterAddSubscriber" not in hook.commands


async def test_only_the_documented_refusal_key_is_read(make: Make) -> None:
    answer = {**OK_ANSWER, "RefusedMembers_Account": ["bob"]}  # the prose's wrong key
    emulator, client = make(Hook({P + "BeforeAddSubscriber": answer}))
    oa = await client.create()
    await client.ok("add_subscriber", {"Official_Account": oa, "SubscriberList": subs("bob")})
    assert list(emulator.account(oa).subscribers) == ["bob"]


# -- before-send (reference §3.9) --


async def _send(client: RawClient, oa: str, random: int = 1, **extra: Any) -> dict[str, Any]:
    return await client.envelope(
        SEND, {"Official_Account": oa, "Random": random, "MsgBody": text("Top"), **extra}
    )


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ({**OK_ANSWER, "ErrorCode": 1}, 10016),
        ({**OK_ANSWER, "ErrorCode": 125000, "ErrorInfo": "moderated"}, 125000),
        ({**OK_ANSWER, "ErrorCode": 3}, 10016),
    ],
)
async def test_before_send_refusals(make: Make, answer: dict[str, Any], code: int) -> None:
    hook = Hook({P + "BeforeSendMsg": answer})
    emulator, client = make(hook)
    oa = await client.create()
    assert (await _send(client, oa))["ErrorCode"] == code
    assert emulator.account(oa).messages == ()
    await settle(emulator)
    assert P + "AfterSendMsg" not in hook.commands


async def test_before_send_silent_drop(make: Make) -> None:
    hook = Hook({P + "BeforeSendMsg": {**OK_ANSWER, "ErrorCode": 2}})
    emulator, client = make(hook)
    oa = await client.create()
    first = await _send(client, oa)
    assert first["ErrorCode"] == 0 and first["MsgKey"]  # the sender is told it worked
    assert emulator.account(oa).messages == ()
    history = await client.ok(HISTORY, {"Official_Account": oa})
    assert history["RspMsgList"] == []
    # A retry with the same Random is the same (dropped) message: same key, no new callback.
    again = await _send(client, oa)
    assert again["MsgKey"] == first["MsgKey"]
    await settle(emulator)
    assert hook.commands.count(P + "BeforeSendMsg") == 1
    assert P + "AfterSendMsg" not in hook.commands
    assert decision_of(emulator, P + "BeforeSendMsg") == "drop"


async def test_before_send_rewrite_is_what_is_stored_and_reported(make: Make) -> None:
    rewritten = [*text("Top"), {"MsgType": "TIMCustomElem", "MsgContent": {"Data": "badge"}}]
    answer = {**OK_ANSWER, "MsgBody": rewritten, "CloudCustomData": "new"}
    hook = Hook({P + "BeforeSendMsg": answer})
    emulator, client = make(hook)
    oa = await client.create()
    sent = await _send(client, oa, CloudCustomData="old")
    (message,) = emulator.account(oa).messages
    assert (message.body, message.cloud_custom_data) == (rewritten, "new")
    (item,) = (await client.ok(HISTORY, {"Official_Account": oa}))["RspMsgList"]
    assert (item["MsgBody"], item["CloudCustomData"]) == (rewritten, "new")
    await settle(emulator)
    (after,) = hook.bodies(P + "AfterSendMsg")
    assert (after["MsgBody"], after["CloudCustomData"]) == (rewritten, "new")
    # The client's retry (the original body, same Random) is recognised as the same message.
    assert (await _send(client, oa, CloudCustomData="old"))["MsgKey"] == sent["MsgKey"]
    assert len(emulator.account(oa).messages) == 1


async def test_before_send_keeps_custom_data_and_ignores_a_bad_rewrite(make: Make) -> None:
    answer = {**OK_ANSWER, "MsgBody": [{"MsgType": "NoSuchElem", "MsgContent": {}}]}
    emulator, client = make(Hook({P + "BeforeSendMsg": answer}))
    oa = await client.create()
    await _send(client, oa, CloudCustomData="keep")
    (message,) = emulator.account(oa).messages
    assert (message.body, message.cloud_custom_data) == (text("Top"), "keep")
    assert decision_of(emulator, P + "BeforeSendMsg") == "allow"


async def test_forbid_callback_control(make: Make) -> None:
    hook = Hook({P + "BeforeSendMsg": {**OK_ANSWER, "ErrorCode": 1}})
    emulator, client = make(hook)
    oa = await client.create()
    forbid = ["ForbidBeforeSendMsgCallback", "ForbidAfterSendMsgCallback"]
    assert (await _send(client, oa, ForbidCallbackControl=forbid))["ErrorCode"] == 0
    assert (await _send(client, oa, 2, ForbidCallbackControl=forbid[1:]))["ErrorCode"] == 10016
    await settle(emulator)
    assert hook.commands.count(P + "BeforeSendMsg") == 1
    assert P + "AfterSendMsg" not in hook.commands


# -- answers that are not answers: the action proceeds (reference §1.5) --


@pytest.mark.parametrize(
    ("hook", "error"),
    [
        (Hook(status=500), "HTTP 500"),
        (Hook({P + "BeforeCreateOfficialAccount": b"<html>oops</html>"}), "not a JSON object"),
        (Hook({P + "BeforeCreateOfficialAccount": b"[1]"}), "not a JSON object"),
        (Hook(delay=5.0), "timeout"),
    ],
    ids=["http-500", "html", "json-array", "timeout"],
)
async def test_a_failed_before_callback_allows(make: Make, hook: Hook, error: str) -> None:
    # With ErrorCode 1 in a well-formed answer this would refuse; here it cannot be read.
    hook.answers.setdefault(P + "BeforeCreateOfficialAccount", {**OK_ANSWER, "ErrorCode": 1})
    emulator, client = make(hook, webhook_timeout=0.2)
    with anyio.fail_after(3):
        account_id = await client.create()
    assert account_id in emulator.accounts
    record = emulator.webhook_log[0]
    assert (record.error, record.decision) == (error, "allow")
    if error == "timeout":
        assert record.status is None and 0.15 < record.elapsed < 2
    await settle(emulator)


async def test_an_unreachable_webhook_allows(make: Make) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    emulator, client = make(None, webhook_url=f"http://127.0.0.1:{port}/hook")
    account_id = await client.create()
    assert account_id in emulator.accounts
    await settle(emulator)
    before, after = emulator.webhook_log
    assert before.error is not None and before.error.startswith("transport: ")
    assert after.decision == "notified" and after.status is None


def test_webhook_options_are_checked() -> None:
    with pytest.raises(ValueError, match="http"):
        Emulator(webhook_url="ftp://x")
    with pytest.raises(ValueError, match="timeout"):
        Emulator(webhook_url="http://x", webhook_timeout=0)


# -- after callbacks never hold the call up --


async def test_after_callbacks_are_delivered_in_the_background_in_order(make: Make) -> None:
    gate = anyio.Event()
    hook = Hook()

    async def slow_after(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and b"AfterCreate" in scope["query_string"]:
            await gate.wait()
        await hook(scope, receive, send)

    emulator, client = make(None, webhook_app=slow_after, webhook_timeout=10)
    ids = [await client.create(name) for name in ("A", "B")]  # answered while deliveries wait
    assert [r.command for r in emulator.webhook_log] == [P + "BeforeCreateOfficialAccount"] * 2
    gate.set()
    await settle(emulator)
    after = hook.bodies(P + "AfterCreateOfficialAccount")
    assert [body["Official_Account"] for body in after] == ids


async def test_a_failing_after_callback_does_not_fail_the_call(make: Make) -> None:
    emulator, client = make(Hook(status=503))
    oa = await client.create()
    await client.ok("destroy_official_account", {"Official_Account": oa})
    await settle(emulator)
    assert [r.error for r in emulator.webhook_log] == ["HTTP 503"] * 3


async def test_reset_forgets_the_webhook_log(make: Make) -> None:
    emulator, client = make(Hook())
    await client.create()
    await settle(emulator)
    assert emulator.webhook_log
    emulator.reset()
    assert emulator.webhook_log == []


def test_webhooks_off_by_default() -> None:
    emulator = Emulator()
    assert emulator.webhook_log == []
    assert emulator.webhook_timeout == 2.0
