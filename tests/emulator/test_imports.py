"""The account commands of ``im_open_login_svc`` over raw HTTP, and ``known_users``: who exists."""

from __future__ import annotations

from typing import Any

import pytest

from tim_oa.testing import Emulator, ManualClock

from .helpers import ADMIN, RawClient, mint_usersig

LOGIN = "/v4/im_open_login_svc/"
CREATE = "create_official_account"


async def login(client: RawClient, command: str, body: Any, **kw: Any) -> dict[str, Any]:
    return await client.envelope(command, body, path=LOGIN + command, **kw)


def check(*users: str) -> dict[str, Any]:
    return {"CheckItem": [{"UserID": u} for u in users]}


def delete(*users: str) -> dict[str, Any]:
    return {"DeleteItem": [{"UserID": u} for u in users]}


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(clock=ManualClock(), known_users={"alice"})


async def status(client: RawClient, *users: str) -> list[str]:
    data = await login(client, "account_check", check(*users))
    assert data["ErrorCode"] == 0
    assert [item["UserID"] for item in data["ResultItem"]] == list(users)
    assert all((i["ResultCode"], i["ResultInfo"]) == (0, "") for i in data["ResultItem"])
    return [item["AccountStatus"] for item in data["ResultItem"]]


async def test_only_known_users_and_admins_exist_until_imported(client: RawClient) -> None:
    assert await status(client, "alice", ADMIN, "bob") == ["Imported", "Imported", "NotImported"]
    assert await client.code(CREATE, {"Owner_Account": "bob", "Name": "N"}) == 70107
    data = await login(client, "account_import", {"UserID": "bob", "Nick": "Bob"})
    assert data["ErrorCode"] == 0 and data["ActionStatus"] == "OK"
    assert await status(client, "bob") == ["Imported"]
    assert await client.code(CREATE, {"Owner_Account": "bob", "Name": "N"}) == 0
    assert client.emulator.is_imported("bob") and not client.emulator.is_imported("carol")


async def test_multiaccount_import_old_and_new_forms(client: RawClient) -> None:
    data = await login(client, "multiaccount_import", {"Accounts": ["u1", "u2", "u1"]})
    assert (data["ErrorCode"], data["FailAccounts"]) == (0, [])
    new_form = {"AccountList": [{"UserID": "u3", "Nick": "Three", "FaceUrl": "https://f"}]}
    assert (await login(client, "multiaccount_import", new_form))["ErrorCode"] == 0
    assert await status(client, "u1", "u2", "u3", "u4") == ["Imported"] * 3 + ["NotImported"]


async def test_account_import_accepts_the_older_identifier_key(client: RawClient) -> None:
    assert (await login(client, "account_import", {"Identifier": "old"}))["ErrorCode"] == 0
    assert (await login(client, "account_import", {"Identifier": "old"}))["ErrorCode"] == 0
    assert await status(client, "old") == ["Imported"]


async def test_account_delete_answers_each_id(client: RawClient) -> None:
    await login(client, "multiaccount_import", {"Accounts": ["u1"]})
    data = await login(client, "account_delete", delete("u1", "ghost", "alice"))
    assert data["ErrorCode"] == 0
    assert data["ResultItem"] == [
        {"ResultCode": 0, "ResultInfo": "", "UserID": "u1"},
        {
            "ResultCode": 70107,
            "ResultInfo": "Err_TLS_PT_Open_Login_Account_Not_Exist",
            "UserID": "ghost",
        },
        {"ResultCode": 0, "ResultInfo": "", "UserID": "alice"},
    ]
    assert await status(client, "u1", "alice") == ["NotImported", "NotImported"]
    await login(client, "account_import", {"UserID": "alice"})  # may come back at once
    assert await status(client, "alice") == ["Imported"]


async def test_a_deleted_subscriber_leaves_its_accounts() -> None:
    client = RawClient(Emulator(clock=ManualClock()))  # known_users=None: everyone exists
    account_id = await client.create(owner="owner1")
    body = {"Official_Account": account_id, "SubscriberList": [{"Subscriber_Account": "sam"}]}
    assert (await client.ok("add_subscriber", body))["SubscriberList"][0]["Result"] == 1
    assert await status(client, "sam", "anyone") == ["Imported", "Imported"]
    await login(client, "account_delete", delete("sam"))
    assert client.emulator.subscriptions("sam") == frozenset()
    assert await status(client, "sam") == ["NotImported"]
    # Not imported any more: subscribing it again fails for that user (Result 0).
    assert (await client.ok("add_subscriber", body))["SubscriberList"][0]["Result"] == 0
    await client.aclose()


@pytest.mark.parametrize(
    ("command", "body"),
    [
        ("multiaccount_import", {}),
        ("multiaccount_import", {"Accounts": []}),
        ("multiaccount_import", {"Accounts": [f"u{i}" for i in range(101)]}),
        ("multiaccount_import", {"Accounts": ["x" * 33]}),
        ("multiaccount_import", {"Accounts": [""]}),
        ("multiaccount_import", {"Accounts": [5]}),
        ("multiaccount_import", {"Accounts": "u1"}),
        ("multiaccount_import", {"AccountList": [{"Nick": "no id"}]}),
        ("multiaccount_import", {"Accounts": ["a"], "AccountList": [{"UserID": "b"}]}),
        ("account_import", {}),
        ("account_import", {"UserID": "x" * 33}),
        ("account_import", {"UserID": "u", "Nick": 5}),
        ("account_import", {"UserID": "u", "Identifier": "u"}),
        ("account_check", {"CheckItem": [{"UserID": f"u{i}"} for i in range(101)]}),
        ("account_check", {"CheckItem": ["u1"]}),
        ("account_check", {"CheckItem": []}),
        ("account_delete", {"DeleteItem": [{"User": "u1"}]}),
        ("account_delete", {}),
    ],
)
async def test_malformed_bodies_fail_with_70402(
    client: RawClient, command: str, body: dict[str, Any]
) -> None:
    data = await login(client, command, body)
    assert data["ErrorCode"] == 70402 and data["ActionStatus"] == "FAIL"
    assert await status(client, "u", "u1", "b") == ["NotImported"] * 3  # nothing half-applied


async def test_limits_are_inclusive(client: RawClient) -> None:
    ids = [f"u{i}" for i in range(99)] + ["x" * 32]
    assert (await login(client, "multiaccount_import", {"Accounts": ids}))["ErrorCode"] == 0
    assert (await login(client, "account_check", check(*ids)))["ErrorCode"] == 0
    assert (await login(client, "account_delete", delete(*ids)))["ErrorCode"] == 0


async def test_a_profile_value_over_500_bytes_is_40601(client: RawClient) -> None:
    body: dict[str, Any] = {"UserID": "u", "FaceUrl": "h" * 501}
    assert (await login(client, "account_import", body))["ErrorCode"] == 40601
    body = {"AccountList": [{"UserID": "u", "Nick": "é" * 251}]}
    assert (await login(client, "multiaccount_import", body))["ErrorCode"] == 40601


async def test_same_usersig_check_as_every_command(client: RawClient) -> None:
    body = {"UserID": "u"}
    forged = mint_usersig(key="wrong-key")
    assert (await login(client, "account_import", body, usersig=forged))["ErrorCode"] == 70009
    assert (await login(client, "account_import", body, identifier="u"))["ErrorCode"] == 60010
    assert client.emulator.is_imported("u") is False


async def test_paths_and_services(client: RawClient) -> None:
    # An Official Account command is not served by the login service, nor the reverse.
    wrong = await client.envelope(CREATE, {}, path=LOGIN + CREATE)
    assert wrong["ErrorCode"] == 10003
    oa_path = "/v4/official_account_open_http_svc/account_import"
    assert (await client.envelope("x", {"UserID": "u"}, path=oa_path))["ErrorCode"] == 10003
    other = await client.envelope("x", {}, path="/v4/group_open_http_svc/create_group")
    assert other["ErrorCode"] == 60009
    assert client.emulator.requests[-1].command is None  # not a path the emulator serves


async def test_account_commands_work_with_official_accounts_disabled(client: RawClient) -> None:
    client.emulator.service_enabled = False
    assert (await login(client, "account_import", {"UserID": "u"}))["ErrorCode"] == 0
    assert await client.code(CREATE, {"Owner_Account": "u", "Name": "N"}) == 131000


async def test_documented_rates_capped_by_rate_limit() -> None:
    clock = ManualClock()
    client = RawClient(Emulator(clock=clock))  # rate_limit=200: import at its own 100/s
    codes = [
        (await login(client, "multiaccount_import", {"Accounts": [f"u{i}"]}))["ErrorCode"]
        for i in range(101)
    ]
    assert codes.count(0) == 100 and codes[-1] == 60007
    single = [
        (await login(client, "account_import", {"UserID": "s"}))["ErrorCode"] for _ in range(201)
    ]
    assert single.count(0) == 200 and single[-1] == 60007
    clock.advance(1.0)
    assert (await login(client, "multiaccount_import", {"Accounts": ["v"]}))["ErrorCode"] == 0
    await client.aclose()
    low = RawClient(Emulator(clock=ManualClock(), rate_limit=2))
    codes = [(await login(low, "account_check", check("u")))["ErrorCode"] for _ in range(3)]
    assert codes == [0, 0, 60007]
    await low.aclose()


async def test_fault_injection_reaches_the_account_commands(client: RawClient) -> None:
    client.emulator.fail_next("account_import", code=70169)
    assert (await login(client, "account_import", {"UserID": "u"}))["ErrorCode"] == 70169
    assert client.emulator.is_imported("u") is False
    client.emulator.fail_next("multiaccount_import", drop=True, after_commit=True)
    with pytest.raises(Exception):  # noqa: B017 - the connection breaks mid-answer
        await login(client, "multiaccount_import", {"Accounts": ["w"]})
    assert client.emulator.is_imported("w")  # applied, only the answer was lost
    with pytest.raises(ValueError, match="unknown command"):
        client.emulator.fail_next("account_imports", code=1)


def test_emulator_call_and_reset() -> None:
    emulator = Emulator(known_users=())
    assert emulator.call("account_import", {"UserID": "u"})["ErrorCode"] == 0
    answer = emulator.call("account_check", check("u", ADMIN, "v"))
    assert [i["AccountStatus"] for i in answer["ResultItem"]] == [
        "Imported",
        "Imported",
        "NotImported",
    ]
    emulator.reset()
    assert not emulator.is_imported("u") and emulator.is_imported(ADMIN)
    assert emulator.known_users == frozenset()
