"""Account commands on the wire: golden bodies, answers, pagination of subscriptions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

import tim_oa

from .conftest import body_of, fail, ok

SVC = "/v4/official_account_open_http_svc/"


async def test_create_golden(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    route = api.post(SVC + "create_official_account").mock(
        return_value=ok(OfficialAccountUserID="@TOA#_test_id")
    )
    account_id = await oa.create_account(
        "107867",
        "News",
        account_id="@TOA#_test_id",
        introduction="Daily",
        face_url="https://x/y.png",
        organization="Org",
        custom_string="c",
        max_subscribers=1000,
    )
    assert account_id == "@TOA#_test_id"
    assert body_of(route.calls.last) == {
        "Owner_Account": "107867",
        "OfficialAccountUserID": "@TOA#_test_id",
        "Name": "News",
        "Introduction": "Daily",
        "FaceUrl": "https://x/y.png",
        "Organization": "Org",
        "CustomString": "c",
        "MaxSubscriberNum": 1000,
    }


async def test_create_minimal_omits_unset(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    route = api.post(SVC + "create_official_account").mock(
        return_value=ok(OfficialAccountUserID="@TOA#_@TOA#dOEF")
    )
    assert await oa.create_account("107867", "News") == "@TOA#_@TOA#dOEF"
    assert body_of(route.calls.last) == {"Owner_Account": "107867", "Name": "News"}


async def test_destroy_golden_and_not_found(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    route = api.post(SVC + "destroy_official_account").mock(side_effect=[ok(), fail(130004)])
    await oa.destroy_account("@TOA#_test_id")
    assert body_of(route.calls.last) == {"Official_Account": "@TOA#_test_id"}
    with pytest.raises(tim_oa.AccountNotFoundError) as info:
        await oa.destroy_account("@TOA#_test_id")
    assert info.value.command == "destroy_official_account"


async def test_modify_sends_only_given_fields(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    route = api.post(SVC + "modify_official_account_base_info").mock(return_value=ok())
    await oa.modify_account("@TOA#_news", introduction="", max_subscribers=1000)
    assert body_of(route.calls.last) == {
        "Official_Account": "@TOA#_news",
        "Introduction": "",
        "MaxSubscriberNum": 1000,
    }


@pytest.mark.parametrize(
    ("call", "field", "limit"),
    [
        ({"name": "新" * 51}, "name", 150),  # 153 bytes in UTF-8, 51 characters
        ({"introduction": "a" * 401}, "introduction", 400),
        ({"face_url": "a" * 501}, "face_url", 500),
        ({"organization": "é" * 251}, "organization", 500),
        ({"custom_string": "a" * 3001}, "custom_string", 3000),
        ({"max_subscribers": 0}, "max_subscribers", "at least 1"),
        ({"name": ""}, "name", None),
        ({}, "fields", None),
    ],
)
async def test_modify_validates_before_io(
    api: respx.MockRouter, oa: tim_oa.Session, call: dict[str, Any], field: str, limit: object
) -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        await oa.modify_account("@TOA#_news", **call)
    assert info.value.field == field
    assert info.value.limit == limit
    if isinstance(limit, int):
        assert f"limit is {limit} bytes" in str(info.value)
    assert api.calls.call_count == 0


def test_byte_limits_count_utf8_not_characters() -> None:
    from tim_oa._accounts import profile_fields

    assert profile_fields(name="新" * 50) == {"Name": "新" * 50}  # exactly 150 bytes


@pytest.mark.parametrize(
    ("account_id", "message"),
    [
        ("news", "must start with"),
        ("@TOA#_" + "a" * 43, "limit is 48"),
        ("@TOA#_né", "printable ASCII"),
        ("@TOA#_@TOA#mine", "reserved"),
    ],
)
async def test_custom_id_rules(
    api: respx.MockRouter, oa: tim_oa.Session, account_id: str, message: str
) -> None:
    with pytest.raises(tim_oa.ValidationError, match=message):
        await oa.create_account("107867", "News", account_id=account_id)
    assert api.calls.call_count == 0


async def test_get_accounts_chunks_keeps_order_and_surfaces_errors(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        ids = [i["Official_Account"] for i in body_of_request(request)["OfficialAccountIdList"]]
        items = []
        for account_id in reversed(ids):  # the server's order must not matter
            if account_id.endswith("_missing"):
                items.append(
                    {
                        "Official_Account": account_id,
                        "ErrorCode": 130004,
                        "ErrorInfo": "gone",
                        "ActionStatus": "FAIL",
                    }
                )
            else:
                items.append(
                    {
                        "Official_Account": account_id,
                        "ErrorCode": 0,
                        "Name": account_id[6:],
                        "SubscriberNum": 3,
                        "Unknown": True,
                    }
                )
        return ok(OfficialAccountInfoList=items)

    route = api.post(SVC + "get_official_account_info").mock(side_effect=answer)
    ids = [f"@TOA#_{i}" for i in range(120)] + ["@TOA#_missing", "@TOA#_5"]
    accounts = await oa.get_accounts(ids, fields=["name", "SubscriberNum"])
    assert [a.official_account for a in accounts] == ids
    assert route.call_count == 3  # 121 distinct ids in chunks of 50
    sent = [body_of(c) for c in route.calls]
    assert sorted(len(b["OfficialAccountIdList"]) for b in sent) == [21, 50, 50]
    assert all(
        b["ResponseFilter"] == {"OfficialAccountBaseInfoFilter": ["Name", "SubscriberNum"]}
        for b in sent
    )
    assert accounts[0].name == "0" and accounts[0].subscriber_num == 3 and accounts[0].ok
    missing = accounts[120]
    assert not missing.ok
    assert isinstance(missing.error, tim_oa.AccountNotFoundError)
    assert missing.error.code == 130004


def body_of_request(request: httpx.Request) -> dict[str, Any]:
    import json

    data: dict[str, Any] = json.loads(request.content)
    return data


async def test_get_accounts_rejects_bad_input(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    with pytest.raises(tim_oa.ValidationError):
        await oa.get_accounts("@TOA#_a")
    with pytest.raises(tim_oa.ValidationError, match="unknown field"):
        await oa.get_accounts(["@TOA#_a"], fields=["Nope"])
    with pytest.raises(tim_oa.ValidationError, match=r"account_ids\[1\]"):
        await oa.get_accounts(["@TOA#_a", "bad"])
    assert api.calls.call_count == 0


def subscribed_pages(total: int, page: int) -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        body = body_of_request(request)
        offset, limit = body.get("Offset", 0), body["Limit"]
        chunk = range(offset, min(offset + limit, total))
        items = [
            {
                "Official_Account": f"@TOA#_{i}",
                "Name": f"n{i}",
                "SelfInfo": {"SubscribeTime": 1000 + i, "CustomString": ""},
            }
            for i in chunk
        ]
        done = offset + limit >= total
        return ok(
            OfficialAccountInfoList=items,
            TotalCount=total,
            CompleteFlag=int(done),
            Next=offset + len(items),
        )

    return answer


async def test_subscribed_accounts_walks_every_page(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    route = api.post(SVC + "get_subscribed_official_account_list").mock(
        side_effect=subscribed_pages(450, 200)
    )
    accounts = [a async for a in oa.subscribed_accounts("107867")]
    assert [a.official_account for a in accounts] == [f"@TOA#_{i}" for i in range(450)]
    assert accounts[7].self_info.subscribe_time == 1007
    assert [body_of(c)["Offset"] for c in route.calls] == [0, 200, 400]
    assert body_of(route.calls[0]) == {"Subscriber_Account": "107867", "Limit": 200, "Offset": 0}


async def test_subscribed_pages_resume_and_filters(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    route = api.post(SVC + "get_subscribed_official_account_list").mock(
        side_effect=subscribed_pages(25, 10)
    )
    pager = oa.subscribed_accounts(
        "107867", page_size=10, account_fields=["name"], self_fields=["subscribe_time"]
    )
    pages = [p async for p in pager.pages()]
    assert [(p.cursor, p.next_cursor, len(p.items), p.total) for p in pages] == [
        (0, 10, 10, 25),
        (10, 20, 10, 25),
        (20, None, 5, 25),
    ]
    assert body_of(route.calls[0])["ResponseFilter"] == {
        "OfficialAccountBaseInfoFilter": ["Name"],
        "SelfInfoFilter": ["SubscribeTime"],
    }
    # A worker that crashed after the first page resumes from its saved offset.
    resumed = await oa.subscribed_accounts(
        "107867", page_size=10, offset=pages[0].next_cursor
    ).collect()
    assert [a.official_account for a in resumed] == [f"@TOA#_{i}" for i in range(10, 25)]


async def test_subscribed_accounts_refuses_a_stuck_cursor(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    api.post(SVC + "get_subscribed_official_account_list").mock(
        return_value=ok(
            OfficialAccountInfoList=[{"Official_Account": "@TOA#_a"}],
            TotalCount=5,
            CompleteFlag=0,
            Next=0,
        )
    )
    with pytest.raises(tim_oa.PaginationError, match="does not move"):
        await oa.subscribed_accounts("107867").collect()


async def test_subscribed_accounts_validates_on_call(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    with pytest.raises(tim_oa.ValidationError, match="page_size"):
        oa.subscribed_accounts("107867", page_size=201)
    with pytest.raises(tim_oa.ValidationError, match="page_size"):
        oa.subscribed_accounts("107867", page_size=0)
    with pytest.raises(tim_oa.ValidationError, match="offset"):
        oa.subscribed_accounts("107867", offset=-1)
    with pytest.raises(tim_oa.ValidationError, match="user_id"):
        oa.subscribed_accounts("x" * 33)
    with pytest.raises(tim_oa.ValidationError, match="self_fields"):
        oa.subscribed_accounts("107867", self_fields=["Name"])
    assert api.calls.call_count == 0


def test_filter_names_match_the_documented_ones() -> None:
    from tim_oa import _limits
    from tim_oa._accounts import ACCOUNT_FILTER, SELF_FILTER

    assert sorted(ACCOUNT_FILTER.values()) == sorted(_limits.ACCOUNT_FILTER_FIELDS)
    assert sorted(SELF_FILTER.values()) == sorted(_limits.SELF_INFO_FILTER_FIELDS)
