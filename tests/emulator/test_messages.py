from __future__ import annotations

from typing import Any

import pytest

from tim_oa.testing import Emulator, ManualClock

from .helpers import T0, RawClient, text

SEND = "send_official_account_msg"
HISTORY = "official_account_msg_get_simple"
RECALL = "official_account_msg_recall"


def send_body(account_id: str, random: int = 1, body: Any = None, **extra: Any) -> dict[str, Any]:
    return {"Official_Account": account_id, "Random": random, "MsgBody": body or text(), **extra}


async def test_send_and_read_back(emulator: Emulator, client: RawClient) -> None:
    account_id = await client.create()
    data = await client.ok(
        SEND, send_body(account_id, 7, CloudCustomData="ccd", OfflinePushInfo={"PushFlag": 0})
    )
    assert data["MsgTime"] == T0 and data["MsgKey"] == f"1_1_{T0}"
    emulator.advance(2)
    second = await client.ok(SEND, send_body(account_id, 8, SendMsgControl=["NoLastMsg"]))
    assert second["MsgKey"] == f"2_1_{T0 + 2}"
    record = emulator.account(account_id)
    assert record.last_msg_time == T0 + 2
    assert [m.key for m in record.messages] == [f"1_1_{T0}", f"2_1_{T0 + 2}"]
    first = record.messages[0]
    assert (first.random, first.cloud_custom_data, first.offline_push_info) == (
        7,
        "ccd",
        {"PushFlag": 0},
    )
    assert record.messages[1].send_msg_control == ("NoLastMsg",)
    info = await client.ok(
        "get_official_account_info", {"OfficialAccountIdList": [{"Official_Account": account_id}]}
    )
    assert info["OfficialAccountInfoList"][0]["LastMsgTime"] == T0 + 2


async def test_seq_is_per_account(client: RawClient) -> None:
    a = await client.create()
    b = await client.create()
    assert (await client.ok(SEND, send_body(a, 1)))["MsgKey"].startswith("1_")
    assert (await client.ok(SEND, send_body(b, 1)))["MsgKey"].startswith("1_")
    assert (await client.ok(SEND, send_body(a, 2)))["MsgKey"].startswith("2_")


ALL_TYPES: list[dict[str, Any]] = [
    {"MsgType": t, "MsgContent": {}}
    for t in (
        "TIMTextElem",
        "TIMLocationElem",
        "TIMFaceElem",
        "TIMCustomElem",
        "TIMSoundElem",
        "TIMImageElem",
        "TIMFileElem",
        "TIMVideoFileElem",
    )
]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"Random": None}, 20001),
        ({"Random": "1"}, 20001),
        ({"Random": True}, 20001),
        ({"Random": -1}, 6017),
        ({"Random": 2**32}, 6017),
        ({"MsgBody": None}, 20001),
        ({"MsgBody": {"MsgType": "TIMTextElem"}}, 20001),
        ({"MsgBody": []}, 6017),
        ({"MsgBody": ["text"]}, 20001),
        ({"MsgBody": [{"MsgContent": {}}]}, 20001),
        ({"MsgBody": [{"MsgType": "TIMTextElem"}]}, 20001),
        ({"MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": "hi"}]}, 20001),
        ({"MsgBody": [{"MsgType": "TIMBogusElem", "MsgContent": {}}]}, 6017),
        ({"MsgBody": text("x" * 12 * 1024)}, 6017),
        ({"CloudCustomData": 5}, 20001),
        ({"OfflinePushInfo": "x"}, 20001),
        ({"OnlineOnlyFlag": 2}, 6017),
        ({"OnlineOnlyFlag": "1"}, 20001),
        ({"SendMsgControl": "NoLastMsg"}, 20001),
        ({"SendMsgControl": ["Whatever"]}, 6017),
        ({"ForbidCallbackControl": ["Nope"]}, 6017),
        ({"OnlineOnlyFlag": 1, "SendMsgControl": ["NoLastMsg"]}, 6017),
        ({"Official_Account": "@TOA#_none"}, 130004),
        ({"Official_Account": "oops"}, 130007),
    ],
)
async def test_send_validation(client: RawClient, changes: dict[str, Any], code: int) -> None:
    account_id = await client.create()
    body = send_body(account_id)
    body.update(changes)
    body = {k: v for k, v in body.items() if v is not None}
    assert await client.code(SEND, body) == code


async def test_send_accepts_every_type_and_options(client: RawClient) -> None:
    account_id = await client.create()
    body = send_body(
        account_id,
        4294967295,
        ALL_TYPES,
        OnlineOnlyFlag=1,
        SendMsgControl=["NoUnread"],
        ForbidCallbackControl=["ForbidBeforeSendMsgCallback", "ForbidAfterSendMsgCallback"],
    )
    assert await client.code(SEND, body) == 0


async def test_message_size_limit_is_compact_utf8_json(client: RawClient) -> None:
    account_id = await client.create()
    overhead = len('[{"MsgType":"TIMTextElem","MsgContent":{"Text":""}}]')
    room = 12 * 1024 - overhead
    fits = "中" * (room // 3) + "a" * (room % 3)  # exactly 12288 bytes
    assert await client.code(SEND, send_body(account_id, 1, text(fits))) == 0
    assert await client.code(SEND, send_body(account_id, 2, text(fits + "a"))) == 6017


async def test_duplicate_send_returns_the_original(emulator: Emulator, client: RawClient) -> None:
    account_id = await client.create()
    original = await client.ok(SEND, send_body(account_id, 42, text("same")))
    emulator.advance(299)
    again = await client.ok(
        SEND,
        send_body(account_id, 42, [{"MsgContent": {"Text": "same"}, "MsgType": "TIMTextElem"}]),
    )
    assert (again["MsgKey"], again["MsgTime"]) == (original["MsgKey"], original["MsgTime"])
    assert len(emulator.account(account_id).messages) == 1
    # Another Random, or other content, is a new message.
    assert (await client.ok(SEND, send_body(account_id, 43, text("same"))))["MsgKey"] != original[
        "MsgKey"
    ]
    assert len(emulator.account(account_id).messages) == 2
    # After the 300 s window the same pair is a new message again.
    emulator.advance(1)
    assert (await client.ok(SEND, send_body(account_id, 42, text("same"))))["MsgKey"].startswith(
        "3_"
    )


async def test_dedup_is_per_account(client: RawClient) -> None:
    a = await client.create()
    b = await client.create()
    await client.ok(SEND, send_body(a, 1))
    assert (await client.ok(SEND, send_body(b, 1)))["MsgKey"].startswith("1_")


async def test_send_pacing() -> None:
    clock = ManualClock()
    client = RawClient(Emulator(clock=clock))  # defaults: 1 per second, 2 per hour
    account_id = await client.create()
    other = await client.create()
    assert await client.code(SEND, send_body(account_id, 1)) == 0
    assert await client.code(SEND, send_body(account_id, 2)) == 60018
    assert await client.code(SEND, send_body(other, 2)) == 0  # per account
    clock.advance(0.5)
    assert await client.code(SEND, send_body(account_id, 3)) == 60018
    # A retried duplicate is answered even while the pace limit would refuse a new message.
    assert await client.code(SEND, send_body(account_id, 1)) == 0
    clock.advance(0.5)
    assert await client.code(SEND, send_body(account_id, 4)) == 0
    clock.advance(10)
    assert await client.code(SEND, send_body(account_id, 5)) == 60019  # 2 per rolling hour
    clock.advance(3600 - 10.5)  # the first send (at 0) leaves the window
    assert await client.code(SEND, send_body(account_id, 6)) == 0
    assert await client.code(SEND, send_body(account_id, 7)) == 60018
    await client.aclose()


async def test_send_pacing_can_be_disabled_separately() -> None:
    client = RawClient(Emulator(clock=ManualClock(), send_per_second=None, broadcasts_per_hour=3))
    account_id = await client.create()
    codes = [await client.code(SEND, send_body(account_id, i)) for i in range(4)]
    assert codes == [0, 0, 0, 60019]
    await client.aclose()


async def fill_history(emulator: Emulator, account_id: str, count: int) -> list[str]:
    keys = []
    for i in range(count):
        if i % 50 == 0:
            emulator.advance(1)
        keys.append(emulator.call(SEND, send_body(account_id, i, text(f"m{i}")))["MsgKey"])
    return keys


async def test_history_paging_thousands(emulator: Emulator, client: RawClient) -> None:
    account_id = await client.create()
    keys = await fill_history(emulator, account_id, 3000)
    seen: list[str] = []
    last = None
    while True:
        body: dict[str, Any] = {"Official_Account": account_id, "ReqMsgNumber": 20}
        if last is not None:
            body["LastMsgKey"] = last
        emulator.advance(0.005)
        data = await client.ok(HISTORY, body)
        if not data["RspMsgList"]:
            assert data["LastMsgKey"] == ""
            break
        assert data["IsFinished"] == 1 and data["Official_Account"] == account_id
        seen.extend(m["MsgKey"] for m in data["RspMsgList"])
        last = data["LastMsgKey"]
        assert last == data["RspMsgList"][-1]["MsgKey"]
    assert seen == keys[::-1]


async def test_history_items_and_recalled(emulator: Emulator, client: RawClient) -> None:
    account_id = await client.create()
    keys = await fill_history(emulator, account_id, 5)
    await client.ok(
        RECALL, {"Official_Account": account_id, "MsgKeyList": [keys[3]], "Reason": "oops"}
    )
    data = await client.ok(HISTORY, {"Official_Account": account_id})
    assert [m["MsgKey"] for m in data["RspMsgList"]] == [keys[4], keys[2], keys[1], keys[0]]
    newest = data["RspMsgList"][0]
    assert newest == {
        "From_Account": account_id,
        "IsPlaceMsg": 0,
        "MsgBody": text("m4"),
        "MsgSeq": 5,
        "MsgKey": keys[4],
        "MsgTimeStamp": T0 + 1,
        "MsgRandom": 4,
    }
    data = await client.ok(
        HISTORY, {"Official_Account": account_id, "WithRecalledMsg": 1, "ReqMsgNumber": 2}
    )
    assert [m["MsgKey"] for m in data["RspMsgList"]] == [keys[4], keys[3]]
    recalled = data["RspMsgList"][1]
    assert (recalled["IsPlaceMsg"], recalled["MsgBody"], recalled["MsgSeq"]) == (2, [], 4)
    # Paging on from a recalled message's key works with or without recalled messages.
    data = await client.ok(HISTORY, {"Official_Account": account_id, "LastMsgKey": keys[3]})
    assert [m["MsgKey"] for m in data["RspMsgList"]] == [keys[2], keys[1], keys[0]]


async def test_history_request_sizes(emulator: Emulator, client: RawClient) -> None:
    account_id = await client.create()
    await fill_history(emulator, account_id, 30)
    big = await client.ok(HISTORY, {"Official_Account": account_id, "ReqMsgNumber": 25})
    assert len(big["RspMsgList"]) == 20 and big["IsFinished"] == 0
    small = await client.ok(
        HISTORY, {"Official_Account": account_id, "ReqMsgNumber": 3, "LastMsgKey": ""}
    )
    assert [m["MsgSeq"] for m in small["RspMsgList"]] == [30, 29, 28] and small["IsFinished"] == 1
    empty = await client.ok(HISTORY, {"Official_Account": await client.create()})
    assert (empty["RspMsgList"], empty["LastMsgKey"], empty["IsFinished"]) == ([], "", 1)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"ReqMsgNumber": 0}, 6017),
        ({"ReqMsgNumber": -3}, 6017),
        ({"ReqMsgNumber": "5"}, 20001),
        ({"LastMsgKey": "999_1_1"}, 6017),
        ({"LastMsgKey": 5}, 20001),
        ({"WithRecalledMsg": 2}, 6017),
        ({"Official_Account": "@TOA#_none"}, 130004),
    ],
)
async def test_history_validation(client: RawClient, changes: dict[str, Any], code: int) -> None:
    account_id = await client.create()
    assert await client.code(HISTORY, {"Official_Account": account_id, **changes}) == code


async def test_history_key_of_another_account_is_rejected(client: RawClient) -> None:
    a = await client.create()
    b = await client.create()
    key = (await client.ok(SEND, send_body(a)))["MsgKey"]
    await client.ok(SEND, send_body(b))  # b has a message with the same key text "1_1_T0"
    assert (
        await client.code(HISTORY, {"Official_Account": await client.create(), "LastMsgKey": key})
        == 6017
    )


async def test_recall(emulator: Emulator, client: RawClient) -> None:
    account_id = await client.create()
    keys = await fill_history(emulator, account_id, 3)
    body = {
        "Official_Account": account_id,
        "MsgKeyList": [keys[0], "71_1_1698741698", keys[2], keys[0]],
    }
    data = await client.ok(RECALL, body)
    assert data["RecallRetList"] == [
        {"MsgKey": keys[0], "RetCode": 0, "MsgSeq": 1},
        {"MsgKey": "71_1_1698741698", "RetCode": 10030, "MsgSeq": 0},
        {"MsgKey": keys[2], "RetCode": 0, "MsgSeq": 3},
        {"MsgKey": keys[0], "RetCode": 0, "MsgSeq": 1},
    ]
    messages = emulator.account(account_id).messages
    assert [m.recalled for m in messages] == [True, False, True]
    # Idempotent: recalling again still reports success.
    again = await client.ok(RECALL, {"Official_Account": account_id, "MsgKeyList": [keys[0]]})
    assert again["RecallRetList"][0]["RetCode"] == 0


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"MsgKeyList": None}, 20001),
        ({"MsgKeyList": "k"}, 20001),
        ({"MsgKeyList": [1]}, 20001),
        ({"MsgKeyList": []}, 6017),
        ({"MsgKeyList": ["k"] * 11}, 6017),
        ({"Reason": "r" * 101}, 6017),
        ({"Reason": 1}, 20001),
        ({"Official_Account": "@TOA#_none"}, 130004),
    ],
)
async def test_recall_validation(client: RawClient, changes: dict[str, Any], code: int) -> None:
    account_id = await client.create()
    body: dict[str, Any] = {"Official_Account": account_id, "MsgKeyList": ["1_1_1"], **changes}
    body = {k: v for k, v in body.items() if v is not None}
    assert await client.code(RECALL, body) == code


async def test_recall_accepts_ten(client: RawClient) -> None:
    account_id = await client.create()
    data = await client.ok(
        RECALL,
        {
            "Official_Account": account_id,
            "MsgKeyList": [f"{i}_1_1" for i in range(10)],
            "Reason": "r" * 100,
        },
    )
    assert len(data["RecallRetList"]) == 10
