from __future__ import annotations

import time
from typing import Any

import pytest

from tim_oa.testing import Emulator, ManualClock

from .helpers import T0, RawClient

ADD = "add_subscriber"
DELETE = "delete_subscriber"
LIST = "get_subscriber_info"
SUBSCRIBED = "get_subscribed_official_account_list"


def users(*ids: str) -> list[dict[str, str]]:
    return [{"Subscriber_Account": u} for u in ids]


def results(data: dict[str, Any]) -> list[tuple[str, int]]:
    return [(i["Subscriber_Account"], i["Result"]) for i in data["SubscriberList"]]


def bulk_subscribe(emulator: Emulator, account_id: str, count: int, prefix: str = "user") -> None:
    for start in range(0, count, 100):
        batch = users(*(f"{prefix}{i}" for i in range(start, min(count, start + 100))))
        assert (
            emulator.call(ADD, {"Official_Account": account_id, "SubscriberList": batch})[
                "ErrorCode"
            ]
            == 0
        )


async def test_add_results(emulator: Emulator, client: RawClient) -> None:
    account_id = await client.create()
    data = await client.ok(ADD, {"Official_Account": account_id, "SubscriberList": users("a", "b")})
    assert results(data) == [("a", 1), ("b", 1)]
    data = await client.ok(
        ADD, {"Official_Account": account_id, "SubscriberList": users("b", "c", "c")}
    )
    assert results(data) == [("b", 2), ("c", 1), ("c", 2)]
    record = emulator.account(account_id)
    assert list(record.subscribers) == ["a", "b", "c"]
    sub = record.subscribers["a"]
    assert (sub.subscribe_time, sub.custom_string, sub.msg_flag, sub.last_send_msg_time) == (
        T0,
        "",
        "AcceptAndNotify",
        0,
    )


async def test_add_unknown_users_get_result_0() -> None:
    client = RawClient(Emulator(clock=ManualClock(), known_users={"owner1", "a"}))
    account_id = await client.create()
    data = await client.ok(
        ADD, {"Official_Account": account_id, "SubscriberList": users("a", "ghost")}
    )
    assert results(data) == [("a", 1), ("ghost", 0)]
    await client.aclose()


async def test_full_account(emulator: Emulator, client: RawClient) -> None:
    account_id = await client.create(MaxSubscriberNum=3)
    data = await client.ok(
        ADD, {"Official_Account": account_id, "SubscriberList": users("a", "b", "c", "d", "a")}
    )
    # Full mid-batch: the rest fail with Result 0; already-subscribed still reads 2.
    assert results(data) == [("a", 1), ("b", 1), ("c", 1), ("d", 0), ("a", 2)]
    # Full at call time: the whole request fails.
    assert (
        await client.code(ADD, {"Official_Account": account_id, "SubscriberList": users("a")})
        == 130006
    )
    await client.ok(DELETE, {"Official_Account": account_id, "SubscriberToDel_Account": ["a"]})
    data = await client.ok(ADD, {"Official_Account": account_id, "SubscriberList": users("d")})
    assert results(data) == [("d", 1)]


async def test_subscription_cap_per_user() -> None:
    client = RawClient(Emulator(clock=ManualClock(), max_accounts_per_subscriber=1))
    first = await client.create("A")
    second = await client.create("B")
    await client.ok(ADD, {"Official_Account": first, "SubscriberList": users("capped")})
    # Mixed batch: the capped user fails alone.
    data = await client.ok(
        ADD, {"Official_Account": second, "SubscriberList": users("capped", "free")}
    )
    assert results(data) == [("capped", 0), ("free", 1)]
    # Only capped users: the whole request fails with 130010.
    assert (
        await client.code(ADD, {"Official_Account": second, "SubscriberList": users("capped")})
        == 130010
    )
    # Already subscribed is not "capped": re-adding to the first account still reads 2.
    data = await client.ok(ADD, {"Official_Account": first, "SubscriberList": users("capped")})
    assert results(data) == [("capped", 2)]
    await client.aclose()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"SubscriberList": users("a")}, 20001),
        ({"Official_Account": "@TOA#_x"}, 20001),
        ({"Official_Account": "@TOA#_x", "SubscriberList": ["a"]}, 20001),
        ({"Official_Account": "@TOA#_x", "SubscriberList": [{"Subscriber_Account": 1}]}, 20001),
        ({"Official_Account": "@TOA#_x", "SubscriberList": []}, 6017),
        (
            {"Official_Account": "@TOA#_x", "SubscriberList": users(*(str(i) for i in range(101)))},
            6017,
        ),
        ({"Official_Account": "@TOA#_x", "SubscriberList": users("")}, 6017),
        ({"Official_Account": "@TOA#_x", "SubscriberList": users("u" * 33)}, 6017),
        ({"Official_Account": "bad", "SubscriberList": users("a")}, 130007),
        ({"Official_Account": "@TOA#_x", "SubscriberList": users("a")}, 130004),
    ],
)
async def test_add_validation(client: RawClient, body: dict[str, Any], code: int) -> None:
    assert await client.code(ADD, body) == code


async def test_add_accepts_100(client: RawClient) -> None:
    account_id = await client.create()
    data = await client.ok(
        ADD,
        {"Official_Account": account_id, "SubscriberList": users(*(f"u{i}" for i in range(100)))},
    )
    assert {r for _, r in results(data)} == {1}


async def test_delete_both_shapes(emulator: Emulator, client: RawClient) -> None:
    account_id = await client.create()
    await client.ok(ADD, {"Official_Account": account_id, "SubscriberList": users("a", "b", "c")})
    data = await client.ok(
        DELETE, {"Official_Account": account_id, "SubscriberToDel_Account": ["a", "zz", "a"]}
    )
    assert results(data) == [("a", 1), ("zz", 2), ("a", 2)]
    data = await client.ok(DELETE, {"Official_Account": account_id, "SubscriberList": users("b")})
    assert results(data) == [("b", 1)]
    assert list(emulator.account(account_id).subscribers) == ["c"]
    assert emulator.subscriptions("a") == frozenset()


async def test_delete_unknown_user_result_0() -> None:
    client = RawClient(Emulator(clock=ManualClock(), known_users={"owner1"}))
    account_id = await client.create()
    data = await client.ok(
        DELETE, {"Official_Account": account_id, "SubscriberToDel_Account": ["ghost"]}
    )
    assert results(data) == [("ghost", 0)]
    await client.aclose()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"Official_Account": "@TOA#_x"}, 20001),
        ({"Official_Account": "@TOA#_x", "SubscriberToDel_Account": "a"}, 20001),
        (
            {
                "Official_Account": "@TOA#_x",
                "SubscriberToDel_Account": [{"Subscriber_Account": "a"}],
            },
            20001,
        ),
        ({"Official_Account": "@TOA#_x", "SubscriberToDel_Account": []}, 6017),
        ({"Official_Account": "@TOA#_x", "SubscriberToDel_Account": ["u"] * 101}, 6017),
        ({"Official_Account": "@TOA#_x", "SubscriberToDel_Account": [""]}, 6017),
        ({"Official_Account": "@TOA#_x", "SubscriberList": []}, 6017),
        ({"Official_Account": "@TOA#_x", "SubscriberToDel_Account": ["a"]}, 130004),
    ],
)
async def test_delete_validation(client: RawClient, body: dict[str, Any], code: int) -> None:
    assert await client.code(DELETE, body) == code


async def test_resubscribe_goes_to_the_end(emulator: Emulator, client: RawClient) -> None:
    account_id = await client.create()
    await client.ok(ADD, {"Official_Account": account_id, "SubscriberList": users("a", "b")})
    await client.ok(DELETE, {"Official_Account": account_id, "SubscriberToDel_Account": ["a"]})
    emulator.advance(5)
    await client.ok(ADD, {"Official_Account": account_id, "SubscriberList": users("a")})
    data = await client.ok(LIST, {"Official_Account": account_id, "Next": ""})
    assert [(s["Subscriber_Account"], s["SubscribeTime"]) for s in data["SubscriberList"]] == [
        ("b", T0),
        ("a", T0 + 5),
    ]


async def test_modify_subscriber(emulator: Emulator, client: RawClient) -> None:
    account_id = await client.create()
    await client.ok(ADD, {"Official_Account": account_id, "SubscriberList": users("a")})
    body = {"Official_Account": account_id, "Subscriber_Account": "a", "CustomString": "vip"}
    await client.ok("modify_subscriber_info", body)
    assert emulator.account(account_id).subscribers["a"].custom_string == "vip"
    data = await client.ok(LIST, {"Official_Account": account_id, "Next": ""})
    assert data["SubscriberList"][0]["CustomString"] == "vip"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"CustomString": None}, 20001),
        ({"Subscriber_Account": None}, 20001),
        ({"CustomString": 5}, 20001),
        ({"CustomString": "x" * 3001}, 6017),
        ({"Subscriber_Account": "stranger"}, 6017),
        ({"Official_Account": "@TOA#_none"}, 130004),
    ],
)
async def test_modify_subscriber_validation(
    client: RawClient, changes: dict[str, Any], code: int
) -> None:
    account_id = await client.create()
    await client.ok(ADD, {"Official_Account": account_id, "SubscriberList": users("a")})
    body: dict[str, Any] = {
        "Official_Account": account_id,
        "Subscriber_Account": "a",
        "CustomString": "x",
    }
    body.update(changes)
    body = {k: v for k, v in body.items() if v is not None}
    assert await client.code("modify_subscriber_info", body) == code


async def test_subscriber_cursor_paging_100k(emulator: Emulator, client: RawClient) -> None:
    account_id = await client.create()
    bulk_subscribe(emulator, account_id, 100_000)
    # CPU time of this process, not wall time: other work on a loaded machine does not count.
    started = time.process_time()
    seen: list[str] = []
    cursor = ""
    while True:
        emulator.advance(0.005)  # 200 calls/s: the emulator's rate limit is on
        data = await client.ok(LIST, {"Official_Account": account_id, "Limit": 200, "Next": cursor})
        assert data["SubscriberNum"] == 100_000
        seen.extend(s["Subscriber_Account"] for s in data["SubscriberList"])
        cursor = data["Next"]
        if not cursor:
            break
    # 500 pages take ~3 s of CPU when a page starts at its cursor: a bound (with slack for slow
    # machines) against pages whose cost grows with the whole list.
    assert time.process_time() - started < 15
    assert seen == [f"user{i}" for i in range(100_000)]


async def test_subscriber_paging_survives_removals(emulator: Emulator, client: RawClient) -> None:
    account_id = await client.create()
    bulk_subscribe(emulator, account_id, 1000)
    seen: list[str] = []
    gone_unseen: set[str] = set()
    cursor = ""
    page = 0
    while True:
        data = await client.ok(LIST, {"Official_Account": account_id, "Limit": 100, "Next": cursor})
        seen.extend(s["Subscriber_Account"] for s in data["SubscriberList"])
        cursor = data["Next"]
        if not cursor:
            break
        page += 1
        # Between pages: remove a user already seen, the very next one and one further on, and
        # subscribe a newcomer (who lands at the end).
        doomed = [seen[-1], *(f"user{i}" for i in (page * 100 + 3 * page, page * 100 + 50))]
        gone_unseen.update(u for u in doomed if u not in seen)
        emulator.call(DELETE, {"Official_Account": account_id, "SubscriberToDel_Account": doomed})
        emulator.call(ADD, {"Official_Account": account_id, "SubscriberList": users(f"late{page}")})
    assert len(seen) == len(set(seen)), "duplicates"
    assert not gone_unseen & set(seen), "removed before reached, yet returned"
    everyone = [f"user{i}" for i in range(1000)] + [f"late{p}" for p in range(1, page + 1)]
    assert seen == [u for u in everyone if u not in gone_unseen], "gaps or order"


async def test_subscriber_page_edges(emulator: Emulator, client: RawClient) -> None:
    account_id = await client.create()
    empty = await client.ok(LIST, {"Official_Account": account_id, "Next": ""})
    assert (empty["Next"], empty["SubscriberNum"], empty["SubscriberList"]) == ("", 0, [])
    bulk_subscribe(emulator, account_id, 400)
    # Exactly a full last page ends with "" (no empty extra page).
    first = await client.ok(LIST, {"Official_Account": account_id, "Next": ""})  # Limit absent: 200
    assert len(first["SubscriberList"]) == 200 and first["Next"]
    second = await client.ok(LIST, {"Official_Account": account_id, "Next": first["Next"]})
    assert len(second["SubscriberList"]) == 200 and second["Next"] == ""
    # Next absent reads as the first page.
    assert (await client.ok(LIST, {"Official_Account": account_id, "Limit": 1}))["SubscriberList"][
        0
    ]["Subscriber_Account"] == "user0"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"Limit": 0}, 6017),
        ({"Limit": 201}, 6017),
        ({"Limit": "10"}, 20001),
        ({"Next": 5}, 20001),
        ({"Next": "garbage!"}, 6017),
        ({"Next": "c3ViOng="}, 6017),  # base64 of "sub:x"
        ({"Official_Account": "@TOA#_none"}, 130004),
        ({"Official_Account": None}, 20001),
    ],
)
async def test_subscriber_list_validation(
    client: RawClient, changes: dict[str, Any], code: int
) -> None:
    account_id = await client.create()
    body: dict[str, Any] = {"Official_Account": account_id, "Next": ""}
    body.update(changes)
    body = {k: v for k, v in body.items() if v is not None}
    assert await client.code(LIST, body) == code


async def test_subscribed_list_paging(emulator: Emulator, client: RawClient) -> None:
    accounts = []
    for i in range(450):
        if i % 100 == 0:
            emulator.advance(1)
        account_id = emulator.call(
            "create_official_account", {"Owner_Account": "o", "Name": f"A{i}"}
        )["OfficialAccountUserID"]
        emulator.call(ADD, {"Official_Account": account_id, "SubscriberList": users("fan")})
        accounts.append(
            (emulator.account(account_id).subscribers["fan"].subscribe_time, account_id)
        )
    expected = [aid for _, aid in sorted(accounts)]
    seen: list[str] = []
    offset = 0
    while True:
        data = await client.ok(SUBSCRIBED, {"Subscriber_Account": "fan", "Offset": offset})
        assert data["TotalCount"] == 450
        seen.extend(i["Official_Account"] for i in data["OfficialAccountInfoList"])
        assert data["Next"] == len(seen)
        if data["CompleteFlag"] == 1:
            break
        offset = data["Next"]
    assert seen == expected
    past_end = await client.ok(
        SUBSCRIBED, {"Subscriber_Account": "fan", "Offset": 1000, "Limit": 5}
    )
    assert (past_end["OfficialAccountInfoList"], past_end["CompleteFlag"], past_end["Next"]) == (
        [],
        1,
        1000,
    )


async def test_subscribed_list_items_and_filters(emulator: Emulator, client: RawClient) -> None:
    account_id = await client.create("A", owner="boss")
    await client.ok(ADD, {"Official_Account": account_id, "SubscriberList": users("fan")})
    await client.ok(
        "modify_subscriber_info",
        {"Official_Account": account_id, "Subscriber_Account": "fan", "CustomString": "s"},
    )
    data = await client.ok(SUBSCRIBED, {"Subscriber_Account": "fan", "Limit": 10})
    (item,) = data["OfficialAccountInfoList"]
    assert (
        item["Official_Account"] == account_id
        and item["Name"] == "A"
        and item["Owner_Account"] == "boss"
    )
    assert item["SubscriberNum"] == 1
    assert item["SelfInfo"] == {"SubscribeTime": T0, "CustomString": "s"}
    assert (data["TotalCount"], data["CompleteFlag"], data["Next"]) == (1, 1, 1)
    body = {
        "Subscriber_Account": "fan",
        "ResponseFilter": {
            "OfficialAccountBaseInfoFilter": ["Name"],
            "SelfInfoFilter": ["CustomString"],
        },
    }
    (item,) = (await client.ok(SUBSCRIBED, body))["OfficialAccountInfoList"]
    assert item == {"Official_Account": account_id, "Name": "A", "SelfInfo": {"CustomString": "s"}}
    nobody = await client.ok(SUBSCRIBED, {"Subscriber_Account": "nobody"})
    assert (
        nobody["OfficialAccountInfoList"],
        nobody["TotalCount"],
        nobody["CompleteFlag"],
        nobody["Next"],
    ) == ([], 0, 1, 0)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, 20001),
        ({"Subscriber_Account": 1}, 20001),
        ({"Subscriber_Account": ""}, 6017),
        ({"Subscriber_Account": "u", "Limit": 0}, 6017),
        ({"Subscriber_Account": "u", "Limit": 201}, 6017),
        ({"Subscriber_Account": "u", "Offset": -1}, 6017),
        ({"Subscriber_Account": "u", "Offset": "0"}, 20001),
        ({"Subscriber_Account": "u", "ResponseFilter": {"SelfInfoFilter": ["Name"]}}, 6017),
        (
            {
                "Subscriber_Account": "u",
                "ResponseFilter": {"OfficialAccountBaseInfoFilter": ["SubscribeTime"]},
            },
            6017,
        ),
    ],
)
async def test_subscribed_list_validation(
    client: RawClient, body: dict[str, Any], code: int
) -> None:
    assert await client.code(SUBSCRIBED, body) == code
