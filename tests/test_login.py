"""The app's IM accounts (import, check, delete) and the webhook addresses, on the wire (respx)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

import tim_oa

from .conftest import body_of, fail, ok

LOGIN = "/v4/im_open_login_svc/"


def ids_of(request: httpx.Request, key: str) -> list[str]:
    body = body_of(type("Call", (), {"request": request})())
    return [i["UserID"] for i in body[key]] if key != "Accounts" else body[key]


async def test_import_accounts_chunks_of_100_and_fail_accounts_fail(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    route = api.post(LOGIN + "multiaccount_import").mock(
        side_effect=lambda r: ok(FailAccounts=[u for u in ids_of(r, "Accounts") if u == "u7"])
    )
    ids = [f"u{i}" for i in range(150)] + ["u7"]
    result = await oa.import_accounts(ids)
    assert route.call_count == 2
    assert sorted(len(body_of(c)["Accounts"]) for c in route.calls) == [50, 100]
    assert body_of(route.calls[0])["Accounts"][:2] == ["u0", "u1"]  # plain ids, not objects
    assert result.failed == ["u7"] and len(result.succeeded) == 149
    assert result.outcomes["u7"].code == 0 and result.outcomes["u0"].code == 1


async def test_import_accounts_without_fail_accounts_means_none_failed(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    api.post(LOGIN + "multiaccount_import").mock(return_value=ok())
    assert (await oa.import_accounts(["a", "b"])).succeeded == ["a", "b"]


async def test_import_accounts_malformed_fail_accounts_fails_the_chunk(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    api.post(LOGIN + "multiaccount_import").mock(return_value=ok(FailAccounts=[1]))
    result = await oa.import_accounts(["a"])
    assert isinstance(result.errors()["a"], tim_oa.MalformedResponseError)


async def test_import_account_sends_the_profile_fields_given(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    route = api.post(LOGIN + "account_import").mock(return_value=ok())
    await oa.import_account("alice", nick="Alice", face_url="https://x/a.png")
    await oa.import_account("bob")
    assert body_of(route.calls[0]) == {
        "UserID": "alice",
        "Nick": "Alice",
        "FaceUrl": "https://x/a.png",
    }
    assert body_of(route.calls[1]) == {"UserID": "bob"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"user_id": ""}, "user_id"),
        ({"user_id": "x" * 33}, "user_id"),
        ({"user_id": "a", "nick": "n" * 501}, "nick"),
        ({"user_id": "a", "face_url": 5}, "face_url"),
        ({"user_id": "a", "extra_body": {"Nick": "x"}}, "extra_body"),
    ],
)
async def test_import_account_checks_input_before_sending(
    api: respx.MockRouter, oa: tim_oa.Session, kwargs: dict[str, Any], field: str
) -> None:
    route = api.post(LOGIN + "account_import").mock(return_value=ok())
    with pytest.raises(tim_oa.ValidationError) as info:
        await oa.import_account(**kwargs)
    assert info.value.field == field
    assert route.call_count == 0


async def test_import_account_codes_of_its_page(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    api.post(LOGIN + "account_import").mock(return_value=fail(70403, "admin required"))
    with pytest.raises(tim_oa.PermissionDeniedError):
        await oa.import_account("alice")


async def test_a_login_timeout_code_is_retried(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    route = api.post(LOGIN + "account_import").mock(side_effect=[fail(70169), ok()])
    await oa.import_account("alice")
    assert route.call_count == 2


def check_answer(request: httpx.Request, status: dict[str, Any]) -> httpx.Response:
    items = []
    for user_id in ids_of(request, "CheckItem"):
        value = status.get(user_id, "Imported")
        if value is None:
            continue
        if isinstance(value, int):
            items.append({"UserID": user_id, "ResultCode": value, "ResultInfo": "bad"})
        else:
            items.append(
                {"UserID": user_id, "ResultCode": 0, "ResultInfo": "", "AccountStatus": value}
            )
    return ok(ResultItem=items)


async def test_check_accounts_answers_in_input_order(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    route = api.post(LOGIN + "account_check").mock(
        side_effect=lambda r: check_answer(r, {"u3": "NotImported"})
    )
    ids = [f"u{i}" for i in range(120)] + ["u3"]
    found = await oa.check_accounts(ids)
    assert route.call_count == 2
    assert body_of(route.calls[0])["CheckItem"][0] == {"UserID": "u0"}
    assert list(found) == [f"u{i}" for i in range(120)]
    assert found["u3"] is False and found["u0"] is True


async def test_check_accounts_item_error_raises_naming_the_ids(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    api.post(LOGIN + "account_check").mock(
        side_effect=lambda r: check_answer(r, {"b": 70402, "c": 70402})
    )
    with pytest.raises(tim_oa.InvalidRequestError) as info:
        await oa.check_accounts(["a", "b", "c"])
    assert "'b'" in str(info.value) and "'c'" in str(info.value) and "'a'" not in str(info.value)
    assert info.value.code == 70402 and info.value.command == "account_check"


@pytest.mark.parametrize("status", [None, "Gone"])
async def test_check_accounts_missing_or_unknown_status_is_malformed(
    api: respx.MockRouter, oa: tim_oa.Session, status: str | None
) -> None:
    api.post(LOGIN + "account_check").mock(side_effect=lambda r: check_answer(r, {"b": status}))
    with pytest.raises(tim_oa.MalformedResponseError, match="'b'") as info:
        await oa.check_accounts(["a", "b"])
    assert not info.value.may_have_taken_effect


async def test_check_accounts_lists_every_bad_id(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        await oa.check_accounts(["ok", "", "x" * 40])
    assert "user_ids[1]" in str(info.value) and "user_ids[2]" in str(info.value)


def delete_answer(request: httpx.Request, codes: dict[str, int]) -> httpx.Response:
    return ok(
        ResultItem=[
            {"UserID": u, "ResultCode": codes.get(u, 0), "ResultInfo": ""}
            for u in ids_of(request, "DeleteItem")
            if codes.get(u, 0) != -1
        ]
    )


async def test_delete_accounts_outcomes(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    route = api.post(LOGIN + "account_delete").mock(
        side_effect=lambda r: delete_answer(r, {"gone": 70107, "bad": 70402, "lost": -1})
    )
    result = await oa.delete_accounts(["a", "gone", "bad", "lost"])
    assert body_of(route.calls[0]) == {
        "DeleteItem": [{"UserID": u} for u in ["a", "gone", "bad", "lost"]]
    }
    assert result.succeeded == ["a"] and result.unchanged == ["gone"]
    assert result.failed == ["bad", "lost"]
    assert result.outcomes["bad"].code == 70402 and result.outcomes["gone"].code == 70107
    assert isinstance(result.errors()["lost"], tim_oa.MissingResultError)


async def test_callback_ips(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    route = api.post("/v4/ConfigSvc/GetIPList").mock(
        return_value=ok(IPList=["127.0.0.2", "183.192.202.0/25"])
    )
    assert await oa.get_callback_ips() == ["127.0.0.2", "183.192.202.0/25"]
    await oa.get_callback_ips(receiver_in_china=True)
    await oa.get_callback_ips(receiver_in_china=False)
    queries = [c.request.url.params for c in route.calls]
    assert [q.get("nettype") for q in queries] == [None, "5", "6"]
    assert all(q["contenttype"] == "json" and q["usersig"] for q in queries)
    assert body_of(route.calls[0]) == {}
    with pytest.raises(tim_oa.ValidationError):
        await oa.get_callback_ips(receiver_in_china=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("answer", [{}, {"IPList": "1.2.3.4"}, {"IPList": [1]}])
async def test_callback_ips_malformed(
    api: respx.MockRouter, oa: tim_oa.Session, answer: dict[str, Any]
) -> None:
    api.post("/v4/ConfigSvc/GetIPList").mock(return_value=ok(**answer))
    with pytest.raises(tim_oa.MalformedResponseError):
        await oa.get_callback_ips()
