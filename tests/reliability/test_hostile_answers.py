"""Well-framed JSON answers of the wrong shape, pagers that never end, bulk jobs whose chunks or
callbacks fail (issue 8, items 4, 5, 9, 10).

A malformed answer must raise one ``MalformedResponseError`` (or fail the ids of its chunk with
it) saying whether the command may have taken effect: never a TypeError, a cattrs error, an
exception group, or a made-up success.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import tim_oa

from .hostile import HostileServer, endless, envelope, error_envelope, json_reply, with_fields
from .support import (
    ACCOUNT,
    assert_usable,
    check_public,
    count,
    failure_of,
    make_session,
    result_of,
)

KEYS = ["71_1_1698741698", "72_1_1698741699"]


@pytest.fixture
async def oa(hostile: HostileServer) -> AsyncIterator[tim_oa.Session]:
    async with make_session(hostile.base_url) as session:
        yield session


def assert_malformed(exc: BaseException, *, may_have_taken_effect: bool) -> None:
    error = check_public(exc, tim_oa.MalformedResponseError)
    assert error.may_have_taken_effect is may_have_taken_effect


# --- single writes: the server accepted, the answer is unreadable ------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"MsgKey": 5, "MsgTime": 1698741698},
        {"MsgKey": "", "MsgTime": 1698741698},
        {"MsgKey": "71_1_1698741698", "MsgTime": "yesterday"},
        {"MsgKey": ["71_1_1698741698"], "MsgTime": 1698741698},
    ],
    ids=["no-msgkey", "msgkey-int", "msgkey-empty", "msgtime-str", "msgkey-list"],
)
async def test_a_broadcast_answer_without_a_usable_msgkey(
    hostile: HostileServer, oa: tim_oa.Session, fields: dict[str, Any]
) -> None:
    hostile.script(with_fields(**fields))
    exc, _ = await failure_of(lambda: oa.send_message(ACCOUNT, "hello"))
    # ErrorCode 0: the broadcast went out; sending it again would deliver it twice
    assert_malformed(exc, may_have_taken_effect=True)
    await assert_usable(oa)


@pytest.mark.parametrize(
    "fields",
    [{}, {"OfficialAccountUserID": ""}, {"OfficialAccountUserID": 5}],
    ids=["no-id", "empty-id", "int-id"],
)
async def test_a_create_answer_without_an_id(
    hostile: HostileServer, oa: tim_oa.Session, fields: dict[str, Any]
) -> None:
    hostile.script(with_fields(**fields))
    exc, _ = await failure_of(lambda: oa.create_account("owner", "News"))
    assert not isinstance(exc, tim_oa.ValidationError), "the server's answer is not bad input"
    assert_malformed(exc, may_have_taken_effect=True)
    await assert_usable(oa)


# --- bulk writes: per-id results ---------------------------------------------------------------


def _items(*pairs: tuple[Any, Any]) -> dict[str, Any]:
    return {"SubscriberList": [{"Subscriber_Account": u, "Result": r} for u, r in pairs]}


@pytest.mark.parametrize(
    "fields",
    [
        {"SubscriberList": "abc"},
        {"SubscriberList": {"Subscriber_Account": "a", "Result": 1}},
        {"SubscriberList": [1, "a", None]},
        {"SubscriberList": 7},
    ],
    ids=["str", "object", "scalars", "int"],
)
async def test_a_subscriber_list_that_is_not_a_list_of_items(
    hostile: HostileServer, oa: tim_oa.Session, fields: dict[str, Any]
) -> None:
    hostile.script(with_fields(**fields))
    result = await oa.add_subscribers(ACCOUNT, ["a", "b"])
    assert result.succeeded == [] and result.unchanged == []
    for outcome in result.outcomes.values():
        assert isinstance(outcome.error, tim_oa.MalformedResponseError), outcome
        assert outcome.error.may_have_taken_effect is True
    count("ids checked", 2)


@pytest.mark.parametrize(
    "result_value",
    [True, "1", 1.0, 3, None, -1, [1]],
    ids=["true", "str-1", "float-1", "three", "null", "minus-1", "list"],
)
async def test_a_result_that_is_not_0_1_or_2_is_never_success(
    hostile: HostileServer, oa: tim_oa.Session, result_value: Any
) -> None:
    hostile.script(with_fields(**_items(("a", result_value), ("b", 1))))
    result = await oa.add_subscribers(ACCOUNT, ["a", "b"])
    assert result.outcomes["a"].status is tim_oa.Status.FAILED, result.outcomes["a"]
    assert "a" not in result.succeeded and "a" not in result.unchanged
    count("ids checked", 2)


@pytest.mark.parametrize("order", [(0, 1), (1, 0), (2, 0), (1, 2)])
async def test_an_id_answered_twice_with_different_results_is_not_a_success(
    hostile: HostileServer, oa: tim_oa.Session, order: tuple[int, int]
) -> None:
    first, second = order
    hostile.script(with_fields(**_items(("a", first), ("b", 1), ("a", second))))
    result = await oa.add_subscribers(ACCOUNT, ["a", "b"])
    outcome = result.outcomes["a"]
    assert outcome.status is tim_oa.Status.FAILED, f"conflicting results {order} gave {outcome}"
    assert outcome.error is not None  # says why
    count("ids checked", 2)


async def test_ids_the_answer_leaves_out_or_adds_are_accounted_for(
    hostile: HostileServer, oa: tim_oa.Session
) -> None:
    hostile.script(with_fields(**_items(("a", 1), ("intruder", 1))))
    result = await oa.add_subscribers(ACCOUNT, ["a", "b"])
    assert list(result.outcomes) == ["a", "b"]  # exactly the ids asked, once each
    assert result.outcomes["b"].status is tim_oa.Status.FAILED  # no answer: not done
    assert isinstance(result.outcomes["b"].error, tim_oa.TimOAError)
    a = result.outcomes["a"]  # answered 1; or failed, if the stranger makes the answer malformed
    assert a.status is tim_oa.Status.SUCCEEDED or isinstance(a.error, tim_oa.MalformedResponseError)
    count("ids checked", 2)


@pytest.mark.parametrize(
    "fields",
    [
        {"RecallRetList": "abc"},
        {"RecallRetList": [{"MsgKey": KEYS[0], "RetCode": "0"}, {"MsgKey": KEYS[1], "RetCode": 0}]},
        {"RecallRetList": [{"MsgKey": KEYS[0], "RetCode": None}, {"MsgKey": KEYS[1]}]},
    ],
    ids=["str", "retcode-str", "retcode-missing"],
)
async def test_a_recall_answer_of_the_wrong_shape_is_not_success(
    hostile: HostileServer, oa: tim_oa.Session, fields: dict[str, Any]
) -> None:
    hostile.script(with_fields(**fields))
    result = await oa.recall_messages(ACCOUNT, KEYS)
    assert KEYS[0] not in result.succeeded
    assert result.outcomes[KEYS[0]].status is tim_oa.Status.FAILED
    count("ids checked", 2)


# --- reads -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"SubscriberList": "abc", "Next": "", "SubscriberNum": 3},
        {"SubscriberList": [], "Next": 5, "SubscriberNum": 0},
        {"SubscriberList": [{"Subscriber_Account": "a", "SubscribeTime": "x"}], "Next": ""},
        {"SubscriberList": [{"Subscriber_Account": 5}], "Next": ""},
        {"SubscriberList": [["a"]], "Next": ""},
        {"SubscriberList": [], "Next": "", "SubscriberNum": "many"},
    ],
    ids=["list-str", "next-int", "time-str", "id-int", "item-list", "num-str"],
)
async def test_a_subscriber_page_of_the_wrong_shape(
    hostile: HostileServer, oa: tim_oa.Session, fields: dict[str, Any]
) -> None:
    hostile.script(with_fields(**fields))
    exc, _ = await failure_of(lambda: oa.subscribers(ACCOUNT).collect())
    assert_malformed(exc, may_have_taken_effect=False)
    assert len(hostile.requests) == 1  # a bad cursor is never sent back to the server
    await assert_usable(oa)


@pytest.mark.parametrize(
    "fields",
    [
        {"OfficialAccountInfoList": "abc", "TotalCount": 1, "CompleteFlag": 1},
        {"OfficialAccountInfoList": [], "TotalCount": 1, "CompleteFlag": 0, "Next": "200"},
        {"OfficialAccountInfoList": [{"Name": 5}], "CompleteFlag": 1},
        {"OfficialAccountInfoList": [{"SelfInfo": "x"}], "CompleteFlag": 1},
        {"OfficialAccountInfoList": [], "CompleteFlag": "1", "Next": 0},
    ],
    ids=["list-str", "next-str", "name-int", "selfinfo-str", "flag-str"],
)
async def test_a_subscribed_accounts_page_of_the_wrong_shape(
    hostile: HostileServer, oa: tim_oa.Session, fields: dict[str, Any]
) -> None:
    hostile.script(with_fields(**fields))
    exc, _ = await failure_of(lambda: oa.subscribed_accounts("user1").collect())
    assert_malformed(exc, may_have_taken_effect=False)
    await assert_usable(oa)


@pytest.mark.parametrize(
    "fields",
    [
        {"RspMsgList": "abc", "LastMsgKey": "", "IsFinished": 1},
        {"RspMsgList": [], "LastMsgKey": 5, "IsFinished": 0},
        {"RspMsgList": [{"MsgKey": KEYS[0], "MsgTimeStamp": "x"}], "IsFinished": 1},
        {"RspMsgList": [{"MsgKey": KEYS[0], "MsgBody": "hello"}], "IsFinished": 1},
    ],
    ids=["list-str", "lastkey-int", "time-str", "body-str"],
)
async def test_a_history_page_of_the_wrong_shape(
    hostile: HostileServer, oa: tim_oa.Session, fields: dict[str, Any]
) -> None:
    hostile.script(with_fields(**fields))
    exc, _ = await failure_of(lambda: oa.messages(ACCOUNT).collect())
    assert_malformed(exc, may_have_taken_effect=False)
    await assert_usable(oa)


@pytest.mark.parametrize(
    "fields",
    [
        {"OfficialAccountInfoList": "abc"},
        {"OfficialAccountInfoList": [{"Official_Account": ACCOUNT, "SubscriberNum": "many"}]},
        {"OfficialAccountInfoList": [{"Official_Account": ACCOUNT, "ErrorCode": "0"}]},
    ],
    ids=["list-str", "num-str", "code-str"],
)
async def test_an_account_info_answer_of_the_wrong_shape(
    hostile: HostileServer, oa: tim_oa.Session, fields: dict[str, Any]
) -> None:
    hostile.script(with_fields(**fields))
    exc, _ = await failure_of(lambda: oa.get_accounts([ACCOUNT]))
    assert_malformed(exc, may_have_taken_effect=False)
    await assert_usable(oa)


async def test_a_profile_is_never_given_to_an_id_by_position_when_entries_are_missing(
    hostile: HostileServer, oa: tim_oa.Session
) -> None:
    other = "@TOA#_other"
    hostile.script(with_fields(OfficialAccountInfoList=[{"Name": "Whose?", "ErrorCode": 0}]))
    try:
        found = await oa.get_accounts([ACCOUNT, other])
    except tim_oa.MalformedResponseError:
        return  # refusing the whole answer is also honest
    assert [a.official_account for a in found] == [ACCOUNT, other]
    for account in found:
        assert account.name != "Whose?", f"{account.official_account} was given a stranger's name"
        assert not account.ok and account.error is not None


# --- pagers that never end (item 10) -----------------------------------------------------------


def _fresh_cursor_pages(style: str) -> Callable[[Any, int], Any]:
    def page(request: Any, n: int) -> Any:
        if style == "subscribers":
            return envelope(SubscriberList=[], Next=f"cursor-{n}", SubscriberNum=3)
        if style == "subscribed":
            offset = request.json().get("Offset", 0)
            return envelope(
                OfficialAccountInfoList=[], TotalCount=3, CompleteFlag=0, Next=offset + 1
            )
        return envelope(RspMsgList=[], LastMsgKey=f"{n}_1_1698741698", IsFinished=0)

    return page


def _walk(oa: tim_oa.Session, style: str) -> Callable[[], Any]:
    if style == "subscribers":
        return lambda: oa.subscribers(ACCOUNT).collect()
    if style == "subscribed":
        return lambda: oa.subscribed_accounts("user1").collect()
    return lambda: oa.messages(ACCOUNT).collect()


@pytest.mark.parametrize("style", ["subscribers", "subscribed"])
async def test_empty_pages_with_fresh_cursors_end_the_walk(
    hostile: HostileServer, oa: tim_oa.Session, style: str
) -> None:
    hostile.always(endless(_fresh_cursor_pages(style)))
    exc, _ = await failure_of(_walk(oa, style), limit=5)
    check_public(exc, tim_oa.PaginationError)


async def test_empty_history_pages_with_fresh_keys_end_the_walk(
    hostile: HostileServer, oa: tim_oa.Session
) -> None:
    hostile.always(endless(_fresh_cursor_pages("history")))
    try:
        items = await result_of(_walk(oa, "history"), limit=5)
    except tim_oa.TimOAError as exc:
        check_public(exc, tim_oa.PaginationError)
    else:
        assert items == []  # an empty page may also be read as the end of the history


# --- bulk jobs: one failing chunk, a failing callback (items 4, 5) -----------------------------


def _fail_chunk_with(code: int, poisoned: set[str]) -> Callable[[Any], Any]:
    def answer(request: Any) -> Any:
        asked = [i["Official_Account"] for i in request.json()["OfficialAccountIdList"]]
        if poisoned & set(asked):
            return error_envelope(code, "no such account")
        return envelope(
            OfficialAccountInfoList=[
                {"Official_Account": a, "ErrorCode": 0, "ActionStatus": "OK", "Name": "n"}
                for a in asked
            ]
        )

    return answer


@pytest.mark.parametrize("poisoned_count", [1, 2])
async def test_get_accounts_over_many_chunks_raises_the_chunks_own_error(
    hostile: HostileServer, oa: tim_oa.Session, poisoned_count: int
) -> None:
    ids = [f"@TOA#_acct{i:03d}" for i in range(120)]  # three chunks of at most 50
    poisoned = set(ids[60 : 60 + poisoned_count * 50 : 50])
    hostile.always(json_reply(_fail_chunk_with(130004, poisoned)))
    exc, _ = await failure_of(lambda: oa.get_accounts(ids))
    check_public(exc, tim_oa.AccountNotFoundError)


async def test_get_accounts_over_many_chunks_with_a_broken_connection(
    hostile: HostileServer, oa: tim_oa.Session
) -> None:
    from .hostile import reset_after_read

    ids = [f"@TOA#_acct{i:03d}" for i in range(120)]
    hostile.script(reset_after_read())
    exc, _ = await failure_of(lambda: oa.get_accounts(ids))
    check_public(exc, tim_oa.TransportError)
    await assert_usable(oa)


BULK = {
    "add": lambda oa, cb: oa.add_subscribers(
        ACCOUNT, [f"u{i}" for i in range(250)], on_progress=cb, concurrency=2
    ),
    "remove": lambda oa, cb: oa.remove_subscribers(
        ACCOUNT, [f"u{i}" for i in range(250)], on_progress=cb, concurrency=2
    ),
    "recall": lambda oa, cb: oa.recall_messages(
        ACCOUNT, [f"{i}_1_1698741698" for i in range(25)], on_progress=cb, concurrency=2
    ),
}


@pytest.mark.parametrize("kind", list(BULK))
@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_a_failing_progress_callback_keeps_the_batch_result(
    hostile: HostileServer, oa: tim_oa.Session, kind: str, flavour: str
) -> None:
    boom = LookupError("the callback's own bug")
    calls = 0

    def sync_cb(progress: tim_oa.BatchProgress) -> None:
        nonlocal calls
        calls += 1
        raise boom

    async def async_cb(progress: tim_oa.BatchProgress) -> None:
        sync_cb(progress)

    callback = sync_cb if flavour == "sync" else async_cb
    exc, _ = await failure_of(lambda: BULK[kind](oa, callback))
    error = check_public(exc, tim_oa.ProgressCallbackError)
    assert error.__cause__ is boom
    result = error.result
    assert len(result.outcomes) == (25 if kind == "recall" else 250)
    assert result.ok, "every chunk was still sent and answered"
    assert len(hostile.requests) == 3  # the job ran to the end
    count("ids checked", len(result.outcomes))


@pytest.mark.parametrize("kind", list(BULK))
@pytest.mark.parametrize("bad", [5, "print", object()], ids=["int", "str", "object"])
async def test_a_non_callable_progress_callback_is_refused_before_sending(
    hostile: HostileServer, oa: tim_oa.Session, kind: str, bad: object
) -> None:
    exc, _ = await failure_of(lambda: BULK[kind](oa, bad))
    error = check_public(exc, tim_oa.ValidationError)
    assert error.field == "on_progress"
    assert hostile.requests == []
