from __future__ import annotations

from typing import Any

import pytest

from tim_oa import _limits
from tim_oa.testing import Emulator, ManualClock

from .helpers import T0, RawClient

CREATE = "create_official_account"
INFO = "get_official_account_info"


def info_body(*ids: str, fields: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"OfficialAccountIdList": [{"Official_Account": i} for i in ids]}
    if fields is not None:
        body["ResponseFilter"] = {"OfficialAccountBaseInfoFilter": fields}
    return body


async def test_create_and_read_back(emulator: Emulator, client: RawClient) -> None:
    account_id = await client.create(
        "News",
        owner="107867",
        Introduction="Daily",
        FaceUrl="https://x/face.png",
        Organization="Org",
        CustomString="c",
        MaxSubscriberNum=500,
    )
    assert account_id.startswith("@TOA#_@TOA#") and len(account_id) == len("@TOA#_@TOA#") + 8
    (item,) = (await client.ok(INFO, info_body(account_id)))["OfficialAccountInfoList"]
    assert item == {
        "Official_Account": account_id,
        "ActionStatus": "OK",
        "ErrorCode": 0,
        "ErrorInfo": "",
        "CreateTime": T0,
        "Name": "News",
        "Owner_Account": "107867",
        "LastMsgTime": 0,
        "SubscriberNum": 0,
        "Introduction": "Daily",
        "FaceUrl": "https://x/face.png",
        "Organization": "Org",
        "CustomString": "c",
    }  # not MaxSubscriberNum: the reference does not list it among the answer's fields
    record = emulator.account(account_id)
    assert (record.owner, record.create_time, record.max_subscribers) == ("107867", T0, 500)


async def test_create_defaults(emulator: Emulator, client: RawClient) -> None:
    account_id = await client.create()
    record = emulator.accounts[account_id]
    assert record.max_subscribers == 100_000
    assert (record.introduction, record.face_url, record.organization, record.custom_string) == (
        "",
    ) * 4


async def test_generated_ids_are_seeded_and_unique() -> None:
    async def ids(seed: int) -> list[str]:
        client = RawClient(Emulator(clock=ManualClock(), seed=seed))
        made = [await client.create() for _ in range(20)]
        await client.aclose()
        return made

    first = await ids(1)
    assert len(set(first)) == 20
    assert first == await ids(1)
    assert first != await ids(2)


async def test_custom_id(client: RawClient) -> None:
    assert await client.create(OfficialAccountUserID="@TOA#_news") == "@TOA#_news"
    assert (
        await client.code(
            CREATE, {"Owner_Account": "o", "Name": "N", "OfficialAccountUserID": "@TOA#_news"}
        )
        == 130008
    )


@pytest.mark.parametrize(
    "bad_id",
    ["news", "@TOA#_", "@TOA#_@TOA#abc", "@TOA#_" + "x" * 43, "@TOA#_é", "@TOA#_tab\t", "@toa#_x"],
)
async def test_bad_custom_ids(client: RawClient, bad_id: str) -> None:
    body = {"Owner_Account": "o", "Name": "N", "OfficialAccountUserID": bad_id}
    assert await client.code(CREATE, body) == 130007


async def test_custom_id_at_48_bytes(client: RawClient) -> None:
    longest = "@TOA#_" + "x" * 42
    assert await client.create(OfficialAccountUserID=longest) == longest


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"Name": "N"}, 20001),
        ({"Owner_Account": "o"}, 20001),
        ({"Owner_Account": 5, "Name": "N"}, 20001),
        ({"Owner_Account": "o", "Name": None}, 20001),
        ({"Owner_Account": "o", "Name": "N", "MaxSubscriberNum": "10"}, 20001),
        ({"Owner_Account": "o", "Name": "N", "MaxSubscriberNum": True}, 20001),
        ({"Owner_Account": "o", "Name": "N", "OfficialAccountUserID": 7}, 20001),
        ({"Owner_Account": "o", "Name": ""}, 6017),
        ({"Owner_Account": "", "Name": "N"}, 6017),
        ({"Owner_Account": "u" * 33, "Name": "N"}, 6017),
        ({"Owner_Account": "o", "Name": "N", "MaxSubscriberNum": 0}, 6017),
        ({"Owner_Account": "o", "Name": "N", "MaxSubscriberNum": -5}, 6017),
    ],
)
async def test_create_validation(client: RawClient, body: dict[str, Any], code: int) -> None:
    assert await client.code(CREATE, body) == code


@pytest.mark.parametrize(
    "field", ["Name", "Introduction", "FaceUrl", "Organization", "CustomString"]
)
async def test_byte_limits_count_utf8(client: RawClient, field: str) -> None:
    limit = _limits.FIELD_MAX_BYTES[field]
    base = {"Owner_Account": "o", "Name": "N"}
    exact = "中" * (limit // 3) + "a" * (limit % 3)  # a CJK character is 3 bytes
    assert await client.code(CREATE, {**base, field: exact}) == 0
    data = await client.envelope(CREATE, {**base, field: exact + "a"})
    assert data["ErrorCode"] == 6017 and field in data["ErrorInfo"]


async def test_owner_must_be_known() -> None:
    client = RawClient(Emulator(clock=ManualClock(), known_users={"alice"}))
    assert await client.code(CREATE, {"Owner_Account": "bob", "Name": "N"}) == 70107
    assert await client.code(CREATE, {"Owner_Account": "alice", "Name": "N"}) == 0
    await client.aclose()


async def test_destroy(emulator: Emulator, client: RawClient) -> None:
    account_id = await client.create(OfficialAccountUserID="@TOA#_gone")
    other = await client.create()
    for user in ("u1", "u2"):
        for acct in (account_id, other):
            await client.ok(
                "add_subscriber",
                {"Official_Account": acct, "SubscriberList": [{"Subscriber_Account": user}]},
            )
    assert await client.code("destroy_official_account", {"Official_Account": account_id}) == 0
    assert account_id not in emulator.accounts
    assert emulator.subscriptions("u1") == {other}
    assert await client.code("destroy_official_account", {"Official_Account": account_id}) == 130004
    assert await client.code("get_subscriber_info", {"Official_Account": account_id}) == 130004
    # A destroyed id is never reissued.
    body = {"Owner_Account": "o", "Name": "N", "OfficialAccountUserID": account_id}
    assert await client.code(CREATE, body) == 130008
    listed = await client.ok("get_subscribed_official_account_list", {"Subscriber_Account": "u1"})
    assert [i["Official_Account"] for i in listed["OfficialAccountInfoList"]] == [other]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, 20001),
        ({"Official_Account": 3}, 20001),
        ({"Official_Account": "nope"}, 130007),
        ({"Official_Account": "@TOA#_missing"}, 130004),
    ],
)
async def test_destroy_errors(client: RawClient, body: dict[str, Any], code: int) -> None:
    assert await client.code("destroy_official_account", body) == code


async def test_modify_changes_only_given_fields(emulator: Emulator, client: RawClient) -> None:
    account_id = await client.create("Old", Introduction="keep", CustomString="keep too")
    body = {"Official_Account": account_id, "Name": "New", "FaceUrl": "f", "MaxSubscriberNum": 7}
    assert await client.code("modify_official_account_base_info", body) == 0
    record = emulator.account(account_id)
    assert (record.name, record.face_url, record.max_subscribers) == ("New", "f", 7)
    assert (record.introduction, record.custom_string) == ("keep", "keep too")
    # Clearing a text field with "" is allowed (except the name).
    await client.ok(
        "modify_official_account_base_info", {"Official_Account": account_id, "Introduction": ""}
    )
    assert emulator.account(account_id).introduction == ""


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({}, 6017),
        ({"Owner_Account": "x"}, 6017),  # not modifiable, so nothing to modify
        ({"Name": ""}, 6017),
        ({"Name": "x" * 151}, 6017),
        ({"Organization": "x" * 501}, 6017),
        ({"MaxSubscriberNum": 0}, 6017),
        ({"Name": 5}, 20001),
    ],
)
async def test_modify_validation(client: RawClient, changes: dict[str, Any], code: int) -> None:
    account_id = await client.create()
    assert (
        await client.code(
            "modify_official_account_base_info", {"Official_Account": account_id, **changes}
        )
        == code
    )


async def test_modify_unknown_account(client: RawClient) -> None:
    body = {"Official_Account": "@TOA#_none", "Name": "x"}
    assert await client.code("modify_official_account_base_info", body) == 130004


async def test_lowering_max_subscribers_evicts_nobody(
    emulator: Emulator, client: RawClient
) -> None:
    account_id = await client.create()
    users = [{"Subscriber_Account": f"u{i}"} for i in range(5)]
    await client.ok("add_subscriber", {"Official_Account": account_id, "SubscriberList": users})
    await client.ok(
        "modify_official_account_base_info", {"Official_Account": account_id, "MaxSubscriberNum": 2}
    )
    assert emulator.account(account_id).subscriber_num == 5
    add_one = {"Official_Account": account_id, "SubscriberList": [{"Subscriber_Account": "new"}]}
    assert await client.code("add_subscriber", add_one) == 130006


async def test_get_info_order_and_partial_failure(client: RawClient) -> None:
    a = await client.create("A")
    b = await client.create("B")
    data = await client.ok(INFO, info_body(b, "@TOA#_missing", a, "garbage", b))
    items = data["OfficialAccountInfoList"]
    assert [i["Official_Account"] for i in items] == [b, "@TOA#_missing", a, "garbage", b]
    assert [i["ErrorCode"] for i in items] == [0, 130004, 0, 130007, 0]
    assert [i["ActionStatus"] for i in items] == ["OK", "FAIL", "OK", "FAIL", "OK"]
    assert items[1].keys() == {"Official_Account", "ActionStatus", "ErrorCode", "ErrorInfo"}
    assert items[2]["Name"] == "A"


async def test_get_info_filter(client: RawClient) -> None:
    account_id = await client.create("A")
    data = await client.ok(INFO, info_body(account_id, fields=["Name", "SubscriberNum"]))
    (item,) = data["OfficialAccountInfoList"]
    assert item == {
        "Official_Account": account_id,
        "ActionStatus": "OK",
        "ErrorCode": 0,
        "ErrorInfo": "",
        "Name": "A",
        "SubscriberNum": 0,
    }
    data = await client.ok(INFO, info_body(account_id, fields=list(_limits.ACCOUNT_FILTER_FIELDS)))
    assert "MaxSubscriberNum" not in data["OfficialAccountInfoList"][0]
    data = await client.ok(INFO, info_body(account_id, fields=[]))  # empty filter = everything
    everything = data["OfficialAccountInfoList"][0]
    assert set(_limits.ACCOUNT_FILTER_FIELDS) <= set(everything)
    assert "MaxSubscriberNum" not in everything


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, 20001),
        ({"OfficialAccountIdList": "x"}, 20001),
        ({"OfficialAccountIdList": ["@TOA#_a"]}, 20001),
        ({"OfficialAccountIdList": [{"Official_Account": 1}]}, 20001),
        ({"OfficialAccountIdList": []}, 6017),
        (info_body(*[f"@TOA#_{i}" for i in range(51)]), 6017),
        (info_body("@TOA#_a", fields=["MaxSubscriberNum"]), 6017),
        (info_body("@TOA#_a", fields=["Nope"]), 6017),
        ({**info_body("@TOA#_a"), "ResponseFilter": []}, 20001),
        (
            {**info_body("@TOA#_a"), "ResponseFilter": {"OfficialAccountBaseInfoFilter": "Name"}},
            20001,
        ),
        ({**info_body("@TOA#_a"), "ResponseFilter": {"OfficialAccountBaseInfoFilter": [1]}}, 20001),
    ],
)
async def test_get_info_validation(client: RawClient, body: dict[str, Any], code: int) -> None:
    assert await client.code(INFO, body) == code


async def test_get_info_accepts_fifty(client: RawClient) -> None:
    data = await client.ok(INFO, info_body(*[f"@TOA#_{i}" for i in range(50)]))
    assert len(data["OfficialAccountInfoList"]) == 50
