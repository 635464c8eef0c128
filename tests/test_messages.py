"""Message commands against a respx-mocked API: send, history, recall."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest
import respx

import tim_oa
from tim_oa import (
    AccountNotFoundError,
    BatchAbortedError,
    CustomElem,
    InvalidRequestError,
    OfflinePush,
    PaginationError,
    Status,
    TextElem,
    ValidationError,
)
from tim_oa import _limits as L
from tim_oa._messages import build_send, parse_history_page, parse_recall
from tim_oa.testing._clock import ManualClock, SessionClock

from .conftest import no_backoff

BASE_URL = "https://api.test"
ACCOUNT = "@TOA#_news"
OTHER_ACCOUNT = "@TOA#_sports"
SEND = "/v4/official_account_open_http_svc/send_official_account_msg"
HISTORY = "/v4/official_account_open_http_svc/official_account_msg_get_simple"
RECALL = "/v4/official_account_open_http_svc/official_account_msg_recall"
HELLO = {"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello"}}


def make_session(**options: Any) -> tim_oa.Session:
    settings: dict[str, Any] = {"rate_limit": None, "send_rate": None, **options}
    return tim_oa.Session(
        sdkappid=1400000000,
        identifier="administrator",
        usersig=tim_oa.UserSigSigner(1400000000, "k"),
        base_url=BASE_URL,
        **no_backoff(settings),
    )


def ok(**fields: Any) -> httpx.Response:
    return httpx.Response(
        200, json={"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", **fields}
    )


def fail(code: int, info: str = "") -> httpx.Response:
    return httpx.Response(200, json={"ActionStatus": "FAIL", "ErrorCode": code, "ErrorInfo": info})


def sent(key: str = "71_1_1698741698", time: int = 1698741698) -> httpx.Response:
    return ok(MsgKey=key, MsgTime=time)


def body_of(call: Any) -> Any:
    return json.loads(call.request.content)


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def oa() -> AsyncIterator[tim_oa.Session]:
    async with make_session() as session:
        yield session


# --- send_message ----------------------------------------------------------------------------


async def test_send_text_golden_body_and_answer(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    route = api.post(SEND).mock(
        return_value=ok(
            MsgKey="71_1_1698741698",
            MsgTime=1698741698,
            RequestId="Id-1-O-Seq-2",
            SomethingNew={"x": 1},
        )
    )
    result = await oa.send_message(ACCOUNT, "hello", random=123)
    assert result == tim_oa.SentMessage(msg_key="71_1_1698741698", msg_time=1698741698)
    assert body_of(route.calls.last) == {
        "Official_Account": ACCOUNT,
        "Random": 123,
        "MsgBody": [HELLO],
    }


async def test_send_every_option_golden_body(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    route = api.post(SEND).mock(return_value=sent())
    await oa.send_message(
        ACCOUNT,
        [TextElem("hello"), CustomElem(data='{"k":1}', desc="push")],
        random=4294967295,
        cloud_custom_data="your cloud custom data",
        offline_push=OfflinePush(push_flag=0, desc="offline", apns_info={"BadgeMode": 1}),
        no_last_msg=True,
    )
    assert body_of(route.calls.last) == {
        "Official_Account": ACCOUNT,
        "Random": 4294967295,
        "MsgBody": [
            HELLO,
            {"MsgType": "TIMCustomElem", "MsgContent": {"Data": '{"k":1}', "Desc": "push"}},
        ],
        "CloudCustomData": "your cloud custom data",
        "OfflinePushInfo": {"PushFlag": 0, "Desc": "offline", "ApnsInfo": {"BadgeMode": 1}},
        "SendMsgControl": ["NoLastMsg"],
    }


async def test_send_online_only_and_raw_offline_push(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    route = api.post(SEND).mock(return_value=sent())
    await oa.send_message(ACCOUNT, HELLO, random=0, online_only=True, offline_push={"PushFlag": 1})
    assert body_of(route.calls.last) == {
        "Official_Account": ACCOUNT,
        "Random": 0,
        "MsgBody": [HELLO],
        "OfflinePushInfo": {"PushFlag": 1},
        "OnlineOnlyFlag": 1,
    }


async def test_each_send_draws_its_own_random(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    route = api.post(SEND).mock(return_value=sent())
    await oa.send_message(ACCOUNT, "hello")
    await oa.send_message(ACCOUNT, "hello")
    first, second = (body_of(c)["Random"] for c in route.calls)
    assert all(isinstance(r, int) and 0 <= r <= L.U32_MAX for r in (first, second))
    assert first != second  # an intentional repeat is a new message, not a dropped duplicate


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"account_id": "news"}, "must start with '@TOA#_'"),
        ({"body": ""}, "must not be empty"),
        ({"body": []}, "at least one element"),
        ({"body": [1]}, r"body\[0\]"),
        ({"random": -1}, r"random must be 0\.\.4294967295"),
        ({"random": 2**32}, r"random must be 0\.\.4294967295"),
        ({"random": True}, "random must be an int"),
        ({"random": "7"}, "random must be an int"),
        ({"cloud_custom_data": 5}, "cloud_custom_data"),
        ({"offline_push": 5}, "offline_push must be"),
        ({"online_only": "yes"}, "online_only must be a bool"),
        ({"no_last_msg": 1}, "no_last_msg must be a bool"),
        ({"online_only": True, "no_last_msg": True}, "cannot be combined"),
        ({"body": "x" * L.MAX_MESSAGE_BYTES}, r"bytes as JSON; the limit is 12288 bytes"),
        (
            {"body": {"MsgType": "TIMCustomElem", "MsgContent": {"Data": object()}}},
            "body is not JSON",
        ),
        # Values JSON cannot carry, and empty texts, never reach the wire (issue 8, item 8).
        ({"body": {"MsgType": "TIMLocationElem", "MsgContent": {"Latitude": math.nan}}}, "body"),
        ({"body": ["hi", ""]}, r"body\[1\]: a text must not be empty"),
        ({"body": [TextElem("hi"), {"MsgType": "X", "MsgContent": {"a": math.inf}}]}, "body"),
        ({"body": "\ud800"}, "body holds a lone surrogate"),
        ({"body": ["ok", "bad \udfff"]}, r"body\[1\] holds a lone surrogate"),
        ({"body": {"MsgType": "X", "MsgContent": {"t": "\ud800"}}}, "lone surrogate"),
        ({"cloud_custom_data": "\ud800"}, "cloud_custom_data holds a lone surrogate"),
        ({"offline_push": {"Desc": math.nan}}, "offline_push is not JSON"),
        ({"offline_push": {"Desc": b"bytes"}}, "offline_push is not JSON"),
        ({"offline_push": OfflinePush(apns_info={"Badge": math.inf})}, "offline_push"),
        ({"forbid_callbacks": "before"}, "forbid_callbacks must be an iterable"),
        ({"forbid_callbacks": ["during"]}, "forbid_callbacks holds 'during'"),
        ({"extra_body": {"Random": 5}}, "extra_body sets 'Random'"),
        ({"extra_body": {"OfflinePushInfo": {}}}, "extra_body sets 'OfflinePushInfo'"),
        ({"extra_body": {"New": math.nan}}, "extra_body is not JSON"),
        ({"extra_body": {"New": "\ud800"}}, "extra_body is not JSON"),
        ({"extra_body": {5: 1}}, "extra_body keys must be non-empty str"),
        ({"extra_body": ["New"]}, "extra_body must be a mapping"),
    ],
)
async def test_send_validation_happens_before_any_request(
    api: respx.MockRouter, oa: tim_oa.Session, kwargs: dict[str, Any], message: str
) -> None:
    api.post(SEND).mock(return_value=sent())
    args: dict[str, Any] = {"account_id": ACCOUNT, "body": "hello", **kwargs}
    with pytest.raises(ValidationError, match=message) as info:
        await oa.send_message(args.pop("account_id"), args.pop("body"), **args)
    assert api.calls.call_count == 0
    assert info.value.field is not None
    assert info.value.field.split("[")[0] in {"account_id", *kwargs}


async def test_send_forbid_callbacks_and_extra_body(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    route = api.post(SEND).mock(return_value=sent())
    await oa.send_message(
        ACCOUNT,
        "hi",
        random=7,
        forbid_callbacks={"after", "ForbidBeforeSendMsgCallback", "before"},
        extra_body={"NewField": {"x": [1, 2]}},
    )
    assert body_of(route.calls.last) == {
        "Official_Account": ACCOUNT,
        "Random": 7,
        "MsgBody": [HELLO | {"MsgContent": {"Text": "hi"}}],
        "ForbidCallbackControl": ["ForbidBeforeSendMsgCallback", "ForbidAfterSendMsgCallback"],
        "NewField": {"x": [1, 2]},
    }
    await oa.send_message(ACCOUNT, "hi", random=7, forbid_callbacks=[])
    assert "ForbidCallbackControl" not in body_of(route.calls.last)


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        ({}, "MsgKey is missing"),
        ({"MsgKey": ""}, "MsgKey is missing"),
        ({"MsgKey": 71, "MsgTime": 1}, "MsgKey must be a str, got int"),
        ({"MsgKey": "71_1_1", "MsgTime": "1"}, "MsgTime must be an int, got str"),
        ({"MsgKey": ["71_1_1"]}, "MsgKey must be a str, got list"),
    ],
)
async def test_an_accepted_send_with_a_malformed_answer_is_not_resent(
    api: respx.MockRouter, oa: tim_oa.Session, answer: dict[str, Any], text: str
) -> None:
    route = api.post(SEND).mock(return_value=ok(**answer))
    with pytest.raises(tim_oa.MalformedResponseError, match=text) as info:
        await oa.send_message(ACCOUNT, "hello")
    assert info.value.may_have_taken_effect is True
    assert info.value.command == "send_official_account_msg"
    assert route.call_count == 1  # not retried: a second send could deliver it twice


def test_message_size_limit_is_utf8_bytes_of_the_json_body() -> None:
    overhead = len(
        json.dumps([{"MsgType": "TIMTextElem", "MsgContent": {"Text": ""}}]).replace(" ", "")
    )
    room = L.MAX_MESSAGE_BYTES - overhead
    assert build_send(ACCOUNT, "a" * room, random=1)["MsgBody"][0]["MsgContent"]["Text"]
    with pytest.raises(ValidationError, match=f"{L.MAX_MESSAGE_BYTES + 1} bytes") as info:
        build_send(ACCOUNT, "a" * (room + 1), random=1)
    assert info.value.limit == L.MAX_MESSAGE_BYTES
    # "é" is one character but two bytes in UTF-8.
    with pytest.raises(ValidationError):
        build_send(ACCOUNT, "é" * (room // 2 + 1), random=1)


@pytest.mark.parametrize(
    "first_answer",
    [httpx.Response(502, text="bad gateway"), fail(20005, "internal server error")],
    ids=["http-502", "error-20005"],
)
async def test_retry_reuses_the_random_of_the_logical_send(
    api: respx.MockRouter, oa: tim_oa.Session, first_answer: httpx.Response
) -> None:
    route = api.post(SEND).mock(side_effect=[first_answer, sent("9_1_9", 9)])
    result = await oa.send_message(ACCOUNT, "hello")
    assert result.msg_key == "9_1_9"
    assert route.call_count == 2
    first, second = route.calls
    # Same Random in the body: the server's 5-minute dedup makes the retry at-most-once ...
    assert body_of(first)["Random"] == body_of(second)["Random"]
    assert first.request.content == second.request.content
    # ... while each attempt is signed with a fresh URL random.
    assert first.request.url.params["random"] != second.request.url.params["random"]


async def test_send_invalid_request_is_not_retried(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    route = api.post(SEND).mock(return_value=fail(6017, "invalid parameter"))
    with pytest.raises(InvalidRequestError) as info:
        await oa.send_message(ACCOUNT, "hello")
    assert info.value.code == 6017
    assert info.value.command == "send_official_account_msg"
    assert route.call_count == 1


async def test_sends_are_paced_per_account_not_across_accounts(api: respx.MockRouter) -> None:
    rate = 5.0
    interval = 1.0 / rate
    arrivals: list[tuple[str, float]] = []
    clock = SessionClock(ManualClock())  # the pacing waits in virtual time

    def record(request: httpx.Request) -> httpx.Response:
        arrivals.append((json.loads(request.content)["Official_Account"], clock.monotonic()))
        return sent()

    api.post(SEND).mock(side_effect=record)
    session = make_session(send_rate=rate, clock=clock)
    async with session, anyio.create_task_group() as tg:
        for account in (ACCOUNT, ACCOUNT, OTHER_ACCOUNT):
            tg.start_soon(session.send_message, account, "hello")
    start = min(t for _, t in arrivals)
    same = sorted(t for a, t in arrivals if a == ACCOUNT)
    (other,) = (t for a, t in arrivals if a == OTHER_ACCOUNT)
    assert (same[1] - same[0]) / interval >= 0.9  # the second send waited for its slot
    assert (other - start) / interval < 0.5  # another account did not wait behind it


async def test_pacing_is_per_logical_send_not_per_attempt(api: respx.MockRouter) -> None:
    api.post(SEND).mock(side_effect=[fail(20005), sent()])
    clock = SessionClock(ManualClock())  # every wait in virtual time
    async with make_session(send_rate=2.0, clock=clock) as session:
        started = clock.monotonic()
        await session.send_message(ACCOUNT, "hello")
        # A retry that re-entered the pacer would have waited a 0.5 s slot.
        assert clock.monotonic() - started < 0.25


# --- messages (history) -----------------------------------------------------------------------


def msg(seq: int, **extra: Any) -> dict[str, Any]:
    return {
        "From_Account": "144115233406643804",
        "IsPlaceMsg": 0,
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": f"m{seq}"}}],
        "MsgSeq": seq,
        "MsgKey": f"{seq}_1_{1698741600 + seq}",
        "MsgTimeStamp": 1698741600 + seq,
        **extra,
    }


def key(seq: int) -> str:
    return f"{seq}_1_{1698741600 + seq}"


def history(msgs: list[dict[str, Any]], last_key: str, finished: int) -> httpx.Response:
    return ok(Official_Account=ACCOUNT, IsFinished=finished, LastMsgKey=last_key, RspMsgList=msgs)


def answer_by_cursor(
    pages: dict[str | None, httpx.Response],
) -> Callable[[httpx.Request], httpx.Response]:
    def respond(request: httpx.Request) -> httpx.Response:
        return pages[json.loads(request.content).get("LastMsgKey")]

    return respond


async def test_history_golden_bodies(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    route = api.post(HISTORY).mock(return_value=history([], "", 1))
    await oa.messages(ACCOUNT).collect()
    await oa.messages(ACCOUNT, page_size=5, with_recalled=True, last_msg_key="9_1_100").collect()
    first, resumed = (body_of(c) for c in route.calls)
    assert first == {"Official_Account": ACCOUNT, "ReqMsgNumber": 20}
    assert resumed == {
        "Official_Account": ACCOUNT,
        "ReqMsgNumber": 5,
        "WithRecalledMsg": 1,
        "LastMsgKey": "9_1_100",
    }


async def test_history_walks_pages_newest_first(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    route = api.post(HISTORY).mock(
        side_effect=answer_by_cursor(
            {
                # A full page with IsFinished 1: there may be more, carry on.
                None: history([msg(6), msg(5)], key(5), 1),
                # IsFinished 0: a partial answer (even if short), carry on.
                key(5): history([msg(4)], key(4), 0),
                # IsFinished 1 and fewer than asked for: that was the last page.
                key(4): history([msg(3)], key(3), 1),
            }
        )
    )
    pages = [p async for p in oa.messages(ACCOUNT, page_size=2).pages()]
    assert [body_of(c).get("LastMsgKey") for c in route.calls] == [None, key(5), key(4)]
    assert [(p.cursor, p.next_cursor) for p in pages] == [
        (None, key(5)),
        (key(5), key(4)),
        (key(4), None),
    ]
    items = [m async for m in oa.messages(ACCOUNT, page_size=2)]
    assert [m.msg_seq for m in items] == [6, 5, 4, 3]


@pytest.mark.parametrize(
    ("answer", "calls"),
    [
        (history([msg(2), msg(1)], key(1), 2), 1),  # older messages expired
        (history([msg(2), msg(1)], "", 1), 1),  # no key to continue from
        (history([msg(2), msg(1)], "", 0), 1),
        (history([], key(1), 0), 1),  # nothing came back
        (history([msg(2)], key(2), 1), 1),  # short and complete
        (ok(RspMsgList=[msg(2), msg(1)]), 1),  # no LastMsgKey at all
        (history([msg(2), msg(1)], key(1), 1), 2),  # full page: ask once more
    ],
)
async def test_history_termination(
    api: respx.MockRouter, oa: tim_oa.Session, answer: httpx.Response, calls: int
) -> None:
    route = api.post(HISTORY).mock(
        side_effect=lambda request: (
            answer if "LastMsgKey" not in json.loads(request.content) else history([], "", 1)
        )
    )
    await oa.messages(ACCOUNT, page_size=2).collect()
    assert route.call_count == calls


async def test_history_resumes_from_a_saved_key(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    api.post(HISTORY).mock(
        side_effect=answer_by_cursor(
            {
                None: history([msg(4), msg(3)], key(3), 1),
                key(3): history([msg(2), msg(1)], key(1), 2),
            }
        )
    )
    pager = oa.messages(ACCOUNT, page_size=2)
    async for page in pager.pages():
        saved = page.next_cursor
        break  # the worker "crashes" after the first page
    resumed = oa.messages(ACCOUNT, page_size=2, last_msg_key=saved)
    assert resumed.start == key(3)
    assert [m.msg_seq for m in await resumed.collect()] == [2, 1]


async def test_history_repeated_key_raises_instead_of_looping(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    route = api.post(HISTORY).mock(
        side_effect=answer_by_cursor(
            {
                None: history([msg(4), msg(3)], key(3), 1),
                key(3): history([msg(2), msg(1)], key(3), 1),
            }
        )
    )
    with pytest.raises(PaginationError, match="again"):
        await oa.messages(ACCOUNT, page_size=2).collect()
    assert route.call_count == 2


async def test_history_parses_messages_tolerantly(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    recalled = msg(5, IsPlaceMsg=2, MsgRandom=42, IsSystemMsg=0, MsgPriority=2, Future="x")
    placeholder = {"MsgKey": key(4), "MsgSeq": 4, "IsPlaceMsg": 1, "MsgBody": None}
    api.post(HISTORY).mock(
        return_value=ok(
            Official_Account=ACCOUNT,
            IsFinished=2,
            LastMsgKey=key(4),
            RspMsgList=[recalled, placeholder],
            RequestId="Id-1",
        )
    )
    first, second = await oa.messages(ACCOUNT, with_recalled=True).collect()
    assert first == tim_oa.Message(
        msg_key=key(5),
        msg_seq=5,
        msg_time=1698741605,
        from_account="144115233406643804",
        body=({"MsgType": "TIMTextElem", "MsgContent": {"Text": "m5"}},),
        random=42,
        place_flag=2,
        is_system_msg=0,
        priority=tim_oa.MsgPriority.NORMAL,
    )
    assert first.priority is tim_oa.MsgPriority.NORMAL
    assert first.is_recalled
    assert first.elements == (TextElem("m5"),)
    assert second.place_flag == 1 and second.body == () and not second.is_recalled


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        ({"RspMsgList": [msg(1)], "LastMsgKey": 7, "IsFinished": 0}, "LastMsgKey must be a str"),
        ({"RspMsgList": "abc", "LastMsgKey": "k"}, "RspMsgList must be a list, got str"),
        ({"RspMsgList": {"MsgKey": "k"}}, "RspMsgList must be a list, got dict"),
        ({"RspMsgList": [msg(1), "m"]}, r"RspMsgList\[1\] must be an object, got str"),
        ({"RspMsgList": [msg(1, MsgSeq="1")]}, r"RspMsgList\[0\]\.MsgSeq must be an int"),
        ({"RspMsgList": [msg(1, MsgBody="x")]}, r"RspMsgList\[0\]\.MsgBody must be a list"),
        ({"RspMsgList": [msg(1, MsgBody=["x"])]}, r"MsgBody\[0\] must be an object"),
        ({"RspMsgList": [msg(1, IsPlaceMsg=True)]}, r"IsPlaceMsg must be an int, got bool"),
        ({"RspMsgList": [msg(1)], "IsFinished": "1"}, "IsFinished must be an int"),
    ],
)
def test_history_answers_of_the_wrong_shape_are_malformed(
    answer: dict[str, Any], text: str
) -> None:
    with pytest.raises(tim_oa.MalformedResponseError, match=text) as info:
        parse_history_page(answer, None, 20)
    assert info.value.may_have_taken_effect is False


def test_history_drops_inferred_fields_of_an_unexpected_type() -> None:
    page = parse_history_page(
        {"RspMsgList": [msg(1, IsSystemMsg="yes", MsgPriority=7, CloudCustomData="c")]}, None, 20
    )
    (item,) = page.items
    assert item.is_system_msg is None  # INFERRED field: an odd type is dropped, not fatal
    assert item.priority == 7 and not isinstance(item.priority, tim_oa.MsgPriority)
    assert item.cloud_custom_data == "c"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"account_id": "@news"}, "account_id"),
        ({"page_size": 0}, r"page_size must be 1\.\.20"),
        ({"page_size": 21}, r"page_size must be 1\.\.20"),
        ({"page_size": True}, "page_size must be an int"),
        ({"with_recalled": 1}, "with_recalled must be a bool"),
        ({"last_msg_key": ""}, "last_msg_key must not be empty"),
        ({"last_msg_key": 5}, "last_msg_key must be a str"),
    ],
)
async def test_history_input_is_checked_when_called(
    api: respx.MockRouter, oa: tim_oa.Session, kwargs: dict[str, Any], message: str
) -> None:
    args: dict[str, Any] = {"account_id": ACCOUNT, **kwargs}
    with pytest.raises(ValidationError, match=message):
        oa.messages(args.pop("account_id"), **args)  # no iteration needed
    assert api.calls.call_count == 0


# --- recall_messages --------------------------------------------------------------------------


async def test_recall_golden_body_and_sample_answer(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    route = api.post(RECALL).mock(
        return_value=ok(
            RecallRetList=[
                {"MsgKey": "71_1_1698741698", "RetCode": 10030},
                {"MsgKey": "72_1_1698741699", "RetCode": 0, "MsgSeq": 72, "New": True},
            ]
        )
    )
    result = await oa.recall_messages(
        ACCOUNT, ["71_1_1698741698", "72_1_1698741699"], reason="sent by mistake"
    )
    assert body_of(route.calls.last) == {
        "Official_Account": ACCOUNT,
        "MsgKeyList": ["71_1_1698741698", "72_1_1698741699"],
        "Reason": "sent by mistake",
    }
    assert result.succeeded == ["72_1_1698741699"]
    assert result.failed == ["71_1_1698741698"]
    assert result.outcomes["71_1_1698741698"].code == 10030
    assert result.outcomes["72_1_1698741699"] == tim_oa.Outcome(
        "72_1_1698741699", Status.SUCCEEDED, 0
    )
    await oa.recall_messages(ACCOUNT, ["1_1_1"])
    assert body_of(route.calls.last) == {"Official_Account": ACCOUNT, "MsgKeyList": ["1_1_1"]}


async def test_recall_partial_failure_keeps_every_key_in_order(api: respx.MockRouter) -> None:
    keys = [f"{n}_1_17000000{n:02d}" for n in range(25)]
    refused = keys[3]

    def respond(request: httpx.Request) -> httpx.Response:
        chunk = json.loads(request.content)["MsgKeyList"]
        if chunk[0] == keys[10]:  # the second chunk sinks as a whole
            return fail(20001, "invalid request packet")
        return ok(
            RecallRetList=[{"MsgKey": k, "RetCode": 10030 if k == refused else 0} for k in chunk]
        )

    route = api.post(RECALL).mock(side_effect=respond)
    progress: list[tim_oa.BatchProgress] = []
    async with make_session() as session:
        result = await session.recall_messages(
            ACCOUNT, [*keys, keys[0], keys[12]], on_progress=progress.append
        )
    sent_chunks = sorted(body_of(c)["MsgKeyList"] for c in route.calls)
    assert sent_chunks == sorted([keys[0:10], keys[10:20], keys[20:25]])  # 20001: no retry
    assert list(result.outcomes) == keys  # deduplicated, input order, nothing lost
    assert result.failed == [refused, *keys[10:20]]
    assert result.succeeded == [k for k in keys if k != refused and k not in keys[10:20]]
    assert result.outcomes[refused].code == 10030 and result.outcomes[refused].error is None
    for k in keys[10:20]:
        error = result.outcomes[k].error
        assert isinstance(error, InvalidRequestError) and error.code == 20001
    assert progress[-1].done == 25 and progress[-1].chunks_done == 3
    with pytest.raises(tim_oa.BatchError):
        result.raise_for_failures()


async def test_recall_key_left_out_of_the_answer_fails(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    api.post(RECALL).mock(return_value=ok(RecallRetList=[{"MsgKey": "1_1_1", "RetCode": 0}]))
    result = await oa.recall_messages(ACCOUNT, ["1_1_1", "2_1_2"])
    assert result.succeeded == ["1_1_1"]
    assert result.failed == ["2_1_2"]
    assert "left out" in str(result.outcomes["2_1_2"].error)


async def test_recall_stops_on_a_missing_account(api: respx.MockRouter) -> None:
    keys = [f"{n}_1_1" for n in range(30)]
    route = api.post(RECALL).mock(return_value=fail(130004, "account does not exist"))
    async with make_session(max_concurrency=1) as session:
        result = await session.recall_messages(ACCOUNT, keys)
    assert route.call_count == 1
    assert result.failed == keys
    first_error = result.outcomes[keys[0]].error
    assert isinstance(first_error, AccountNotFoundError)
    for k in keys[10:]:
        error = result.outcomes[k].error
        assert isinstance(error, BatchAbortedError) and error.cause is first_error


async def test_recall_nothing_sends_nothing(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    result = await oa.recall_messages(ACCOUNT, [])
    assert len(result) == 0 and result.ok
    assert api.calls.call_count == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"account_id": "x"}, "account_id"),
        ({"msg_keys": "1_1_1"}, "msg_keys must be an iterable of str"),
        ({"msg_keys": ["1_1_1", ""]}, r"msg_keys\[1\] must not be empty"),
        ({"msg_keys": [5]}, r"msg_keys\[0\] must be a str"),
        ({"reason": "é" * 51}, r"reason \(Reason\) is 102 bytes in UTF-8; the limit is 100"),
        ({"reason": 5}, "reason"),
        ({"concurrency": 0}, "concurrency must be at least 1"),
    ],
)
async def test_recall_validation_happens_before_any_request(
    api: respx.MockRouter, oa: tim_oa.Session, kwargs: dict[str, Any], message: str
) -> None:
    args: dict[str, Any] = {"account_id": ACCOUNT, "msg_keys": ["1_1_1"], **kwargs}
    with pytest.raises(ValidationError, match=message):
        await oa.recall_messages(args.pop("account_id"), args.pop("msg_keys"), **args)
    assert api.calls.call_count == 0


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        ({"RecallRetList": [{"MsgKey": "1_1_1"}, {"RetCode": 0}]}, "needs a str MsgKey"),
        ({"RecallRetList": [{"MsgKey": "1_1_1", "RetCode": "0"}]}, "an int RetCode"),
        ({"RecallRetList": [{"MsgKey": "1_1_1", "RetCode": True}]}, "an int RetCode"),
        ({"RecallRetList": "1_1_1"}, "RecallRetList must be a list, got str"),
        ({"RecallRetList": ["1_1_1"]}, r"RecallRetList\[0\] is not an object"),
        ({}, "RecallRetList is missing"),
        (
            {
                "RecallRetList": [
                    {"MsgKey": "1_1_1", "RetCode": 0},
                    {"MsgKey": "1_1_1", "RetCode": 10030},
                ]
            },
            "answered twice with different RetCodes",
        ),
    ],
)
def test_parse_recall_refuses_answers_of_the_wrong_shape(answer: dict[str, Any], text: str) -> None:
    with pytest.raises(tim_oa.MalformedResponseError, match=text) as info:
        parse_recall(answer, ["1_1_1", "2_1_2", "3_1_3"])
    assert info.value.may_have_taken_effect is True


def test_parse_recall_matches_the_official_sample_by_position() -> None:
    # Tencent's sample: asked ...698, answered ...699 with RetCode 0.
    asked = ["71_1_1698741698", "72_1_1698741698"]
    sample = {
        "RecallRetList": [
            {"MsgKey": "71_1_1698741698", "RetCode": 10030},
            {"MsgKey": "72_1_1698741699", "RetCode": 0},
        ]
    }
    assert parse_recall(sample, asked) == {"71_1_1698741698": 10030, "72_1_1698741698": 0}
    # Exactly the asked keys in another order: by key, not by position.
    swapped = {"RecallRetList": list(reversed(sample["RecallRetList"]))}
    assert parse_recall(swapped, ["72_1_1698741699", "71_1_1698741698"]) == {
        "72_1_1698741699": 0,
        "71_1_1698741698": 10030,
    }
    # Fewer entries than keys: by key; an unmatched entry is not given to another key.
    short = {"RecallRetList": [{"MsgKey": "72_1_1698741699", "RetCode": 0}]}
    assert parse_recall(short, asked) == {}
    assert parse_recall(short, ["72_1_1698741699", "x"]) == {"72_1_1698741699": 0}


async def test_recall_of_the_official_sample_marks_both_keys_right(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    api.post(RECALL).mock(
        return_value=ok(
            RecallRetList=[
                {"MsgKey": "71_1_1698741698", "RetCode": 10030},
                {"MsgKey": "72_1_1698741699", "RetCode": 0},
            ]
        )
    )
    result = await oa.recall_messages(ACCOUNT, ["71_1_1698741698", "72_1_1698741698"])
    assert result.succeeded == ["72_1_1698741698"]
    assert result.failed == ["71_1_1698741698"]
    assert result.outcomes["71_1_1698741698"].code == 10030
