"""Account commands on the wire: golden bodies, answers, pagination of subscriptions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
        ({"max_subscribers": 0}, "max_subscribers", "1..4294967295"),
        ({"max_subscribers": 2**32}, "max_subscribers", "1..4294967295"),
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
    assert pages[0].next_cursor is not None
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


# --- get_accounts: never a group, never another id's profile (issues 8 and 9) -----------------


async def test_get_accounts_over_one_chunk_raises_the_chunks_own_error(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        ids = [i["Official_Account"] for i in body_of_request(request)["OfficialAccountIdList"]]
        if "@TOA#_60" in ids:
            return fail(131000, "service not enabled")
        return ok(OfficialAccountInfoList=[{"Official_Account": a} for a in ids])

    api.post(SVC + "get_official_account_info").mock(side_effect=answer)
    with pytest.raises(tim_oa.ServiceNotEnabledError) as info:
        await oa.get_accounts([f"@TOA#_{i}" for i in range(120)])
    assert info.value.code == 131000  # the chunk's own error, not an ExceptionGroup


@pytest.mark.parametrize("bad", [None, 5, "@TOA#_a", b"@TOA#_a", {"@TOA#_a": 1}])
async def test_get_accounts_names_the_argument(
    api: respx.MockRouter, oa: tim_oa.Session, bad: Any
) -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        await oa.get_accounts(bad)
    assert info.value.field == "account_ids"
    assert api.calls.call_count == 0


async def test_get_accounts_never_assigns_a_profile_by_position_to_a_short_answer(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    # Three ids asked, two entries without Official_Account: no way to tell whose they are.
    api.post(SVC + "get_official_account_info").mock(
        return_value=ok(OfficialAccountInfoList=[{"Name": "A"}, {"Name": "B"}])
    )
    accounts = await oa.get_accounts(["@TOA#_a", "@TOA#_b", "@TOA#_c"])
    assert [a.ok for a in accounts] == [False, False, False]
    assert all(a.name is None for a in accounts)
    assert isinstance(accounts[0].error, tim_oa.MissingResultError)
    assert accounts[0].error_code == -1


async def test_get_accounts_matches_an_answer_of_one_entry_per_id_by_position(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    api.post(SVC + "get_official_account_info").mock(
        return_value=ok(
            OfficialAccountInfoList=[
                {"Name": "A"},
                {"Official_Account": "@TOA#_b", "Name": "B"},
            ]
        )
    )
    a, b = await oa.get_accounts(["@TOA#_a", "@TOA#_b"])
    assert (a.official_account, a.name, b.name) == ("@TOA#_a", "A", "B")
    # The same count but an entry naming another id: no positional matching.
    api.post(SVC + "get_official_account_info").mock(
        return_value=ok(
            OfficialAccountInfoList=[{"Name": "A"}, {"Official_Account": "@TOA#_a", "Name": "B"}]
        )
    )
    a, b = await oa.get_accounts(["@TOA#_a", "@TOA#_b"])
    assert (a.name, b.ok) == ("B", False)


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        ({"OfficialAccountInfoList": "@TOA#_a"}, "OfficialAccountInfoList must be a list"),
        ({"OfficialAccountInfoList": ["@TOA#_a"]}, r"OfficialAccountInfoList\[0\] must be an"),
        (
            {"OfficialAccountInfoList": [{"Official_Account": "@TOA#_a", "SubscriberNum": "3"}]},
            r"OfficialAccountInfoList\[0\]\.SubscriberNum must be an int, got str",
        ),
        (
            {"OfficialAccountInfoList": [{"Official_Account": "@TOA#_a", "ErrorCode": True}]},
            "ErrorCode must be an int, got bool",
        ),
        (
            {
                "OfficialAccountInfoList": [
                    {"Official_Account": "@TOA#_a", "Name": "A"},
                    {"Official_Account": "@TOA#_a", "Name": "Z"},
                ]
            },
            "answered twice, differently",
        ),
    ],
)
async def test_get_accounts_answers_of_the_wrong_shape_are_malformed(
    api: respx.MockRouter, oa: tim_oa.Session, answer: dict[str, Any], text: str
) -> None:
    api.post(SVC + "get_official_account_info").mock(return_value=ok(**answer))
    with pytest.raises(tim_oa.MalformedResponseError, match=text) as info:
        await oa.get_accounts(["@TOA#_a", "@TOA#_b"])
    assert info.value.may_have_taken_effect is False


@pytest.mark.parametrize(
    ("answer", "custom", "text"),
    [
        ({}, None, "OfficialAccountUserID is missing"),
        ({"OfficialAccountUserID": ""}, None, "OfficialAccountUserID is missing"),
        ({"OfficialAccountUserID": 5}, None, "must be a str, got int"),
        ({"OfficialAccountUserID": "@TOA#_other"}, "@TOA#_mine", "answered '@TOA#_other'"),
    ],
)
async def test_create_answers_of_the_wrong_shape_are_malformed(
    api: respx.MockRouter, oa: tim_oa.Session, answer: dict[str, Any], custom: Any, text: str
) -> None:
    route = api.post(SVC + "create_official_account").mock(return_value=ok(**answer))
    with pytest.raises(tim_oa.MalformedResponseError, match=text) as info:
        await oa.create_account("107867", "News", account_id=custom)
    assert info.value.may_have_taken_effect is True  # the account may exist all the same
    assert not isinstance(info.value, tim_oa.ValidationError)
    assert route.call_count == 1


async def test_create_with_a_custom_id_tolerates_an_answer_without_it(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    api.post(SVC + "create_official_account").mock(return_value=ok())
    assert await oa.create_account("107867", "News", account_id="@TOA#_mine") == "@TOA#_mine"


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        ({"OfficialAccountInfoList": "ab", "CompleteFlag": 1}, "must be a list, got str"),
        (
            {
                "OfficialAccountInfoList": [{"Official_Account": "@TOA#_a", "SelfInfo": "x"}],
                "CompleteFlag": 1,
            },
            "SelfInfo must be",
        ),
        ({"OfficialAccountInfoList": [], "CompleteFlag": 0, "Next": "5"}, "Next must be an int"),
        ({"OfficialAccountInfoList": [], "CompleteFlag": 2}, "CompleteFlag must be 0 or 1"),
        ({"OfficialAccountInfoList": [], "CompleteFlag": True}, "CompleteFlag must be an int"),
        ({"OfficialAccountInfoList": [], "TotalCount": 1.5}, "TotalCount must be an int"),
    ],
)
async def test_subscribed_answers_of_the_wrong_shape_are_malformed(
    api: respx.MockRouter, oa: tim_oa.Session, answer: dict[str, Any], text: str
) -> None:
    api.post(SVC + "get_subscribed_official_account_list").mock(return_value=ok(**answer))
    with pytest.raises(tim_oa.MalformedResponseError, match=text):
        await oa.subscribed_accounts("107867").collect()


async def test_subscribed_accounts_stops_on_endless_empty_pages(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        offset = body_of_request(request)["Offset"]
        return ok(OfficialAccountInfoList=[], CompleteFlag=0, Next=offset + 200, TotalCount=9)

    route = api.post(SVC + "get_subscribed_official_account_list").mock(side_effect=answer)
    with pytest.raises(tim_oa.PaginationError, match="3 empty pages in a row"):
        await oa.subscribed_accounts("107867").collect()
    assert route.call_count == 3


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ({"offset": 2**32}, "offset"),
        ({"user_id": "\ud800"}, "user_id"),
        ({"account_fields": "name"}, "account_fields"),
        ({"extra_body": {"Offset": 5}}, "extra_body"),
    ],
)
async def test_subscribed_accounts_input_names_the_argument(
    api: respx.MockRouter, oa: tim_oa.Session, call: dict[str, Any], field: str
) -> None:
    args = {"user_id": "107867", **call}
    with pytest.raises(tim_oa.ValidationError) as info:
        oa.subscribed_accounts(args.pop("user_id"), **args)
    assert info.value.field == field


async def test_extra_body_on_account_commands(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    create = api.post(SVC + "create_official_account").mock(
        return_value=ok(OfficialAccountUserID="@TOA#_x")
    )
    modify = api.post(SVC + "modify_official_account_base_info").mock(return_value=ok())
    destroy = api.post(SVC + "destroy_official_account").mock(return_value=ok())
    info = api.post(SVC + "get_official_account_info").mock(
        return_value=ok(OfficialAccountInfoList=[{"Official_Account": "@TOA#_x"}])
    )
    await oa.create_account("107867", "News", extra_body={"Future": 1})
    assert body_of(create.calls.last) == {"Owner_Account": "107867", "Name": "News", "Future": 1}
    await oa.modify_account("@TOA#_x", extra_body={"Future": [1]})  # extra alone is a change
    assert body_of(modify.calls.last) == {"Official_Account": "@TOA#_x", "Future": [1]}
    await oa.destroy_account("@TOA#_x", extra_body={"Why": "test"})
    assert body_of(destroy.calls.last) == {"Official_Account": "@TOA#_x", "Why": "test"}
    await oa.get_accounts(["@TOA#_x"], extra_body={"Future": True})
    assert body_of(info.calls.last)["Future"] is True
    for method, args, key in [
        (oa.create_account, ("107867", "News"), "MaxSubscriberNum"),
        (oa.modify_account, ("@TOA#_x",), "Name"),
        (oa.destroy_account, ("@TOA#_x",), "Official_Account"),
        (oa.get_accounts, (["@TOA#_x"],), "ResponseFilter"),
    ]:
        with pytest.raises(tim_oa.ValidationError, match=f"sets '{key}'") as error:
            await method(*args, extra_body={key: 1})  # type: ignore[operator]
        assert error.value.field == "extra_body"
    assert create.call_count == modify.call_count == destroy.call_count == info.call_count == 1


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ({"name": "\udcff"}, "name"),
        ({"owner": "\ud800x"}, "owner"),
        ({"account_id": "@TOA#_\ud800"}, "account_id"),
        ({"introduction": "a\udfffb"}, "introduction"),
        ({"max_subscribers": 2**32}, "max_subscribers"),
        ({"max_subscribers": 10**30}, "max_subscribers"),
        ({"name": ""}, "name"),
        ({"extra_body": {"x": float("nan")}}, "extra_body"),
    ],
)
async def test_create_input_that_must_not_reach_the_wire(
    api: respx.MockRouter, oa: tim_oa.Session, call: dict[str, Any], field: str
) -> None:
    args = {"owner": "107867", "name": "News", **call}
    with pytest.raises(tim_oa.ValidationError) as info:
        await oa.create_account(args.pop("owner"), args.pop("name"), **args)
    assert info.value.field == field
    assert api.calls.call_count == 0


async def test_malformed_messages_do_not_echo_long_server_strings(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    """A hostile answer may echo the UserSig into any field; error texts show only its length."""
    secret = "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkKjIT87NK82CSxSnZiQUFmSlA" * 3
    api.post(SVC + "create_official_account").mock(return_value=ok(OfficialAccountUserID=secret))
    api.post(SVC + "get_subscribed_official_account_list").mock(
        return_value=ok(OfficialAccountInfoList=[], CompleteFlag=0, Next=secret)
    )
    api.post(SVC + "get_subscriber_info").mock(
        return_value=ok(SubscriberList=[{"Subscriber_Account": "u"}], Next=secret)
    )
    api.post(SVC + "add_subscriber").mock(
        return_value=ok(SubscriberList=[{"Subscriber_Account": "a", "Result": secret}])
    )
    errors: list[BaseException] = []
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: oa.create_account("107867", "News", account_id="@TOA#_mine"),
        lambda: oa.subscribed_accounts("107867").collect(),
        lambda: oa.subscribers("@TOA#_news").collect(),
    ]
    for call in calls:
        with pytest.raises(tim_oa.TimOAError) as info:
            await call()
        errors.append(info.value)
    report = await oa.add_subscribers("@TOA#_news", ["a"])
    errors.append(report.outcomes["a"].error)  # type: ignore[arg-type]
    for error in errors:
        assert secret not in str(error) and secret[:40] not in repr(error), error


async def test_get_accounts_of_one_chunk_runs_inline(
    api: respx.MockRouter, oa: tim_oa.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One chunk needs no task group and no idle workers (bench: get_accounts([1 id]) CPU).
    import anyio

    def no_task_group() -> None:
        raise AssertionError("a task group was opened for a single chunk")

    monkeypatch.setattr(anyio, "create_task_group", no_task_group)
    api.post("/v4/official_account_open_http_svc/get_official_account_info").mock(
        return_value=ok(OfficialAccountInfoList=[{"Official_Account": "@TOA#_a", "Name": "A"}])
    )
    [account] = await oa.get_accounts(["@TOA#_a"])
    assert account.name == "A"
