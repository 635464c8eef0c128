"""Property tests over every public method's arguments (issue 8, item 8).

For each argument of each command method, hypothesis draws values that are invalid for it while
every other argument stays valid. The call must raise ``ValidationError`` naming that argument
(``.field``, possibly with an ``[index]``) and must send nothing: requests are counted at the
transport.
"""

from __future__ import annotations

import json
import math
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tim_oa

ACCOUNT = "@TOA#_news"
MSG_KEY = "1_1_1"

# --- invalid values, by kind -------------------------------------------------------------------

surrogate = st.sampled_from(["\ud800", "a\udfffb", "\udc80" * 3])
not_str = st.one_of(
    st.integers(),
    st.floats(),
    st.booleans(),
    st.binary(max_size=4),
    st.lists(st.text(), max_size=2),
)
not_int = st.one_of(st.booleans(), st.floats(), st.text(max_size=3), st.binary(max_size=2))
not_json = st.one_of(
    st.just(math.nan),
    st.just(math.inf),
    st.just(-math.inf),
    st.just(b"bytes"),
    st.just({1, 2}),
    st.just(object()),
    surrogate,
)
not_callable = st.one_of(st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=2))
not_bool = st.one_of(st.integers(min_value=0, max_value=1), st.text(max_size=2), st.none())

bad_account_id = st.one_of(
    not_str,
    st.none(),
    st.text(max_size=10).filter(lambda s: not s.startswith("@TOA#_")),
    st.text(min_size=1, max_size=5)
    .filter(lambda s: not (s.isascii() and s.isprintable()))
    .map(lambda s: "@TOA#_" + s),
    st.integers(43, 60).map(lambda n: "@TOA#_" + "a" * n),
    surrogate.map(lambda s: "@TOA#_" + s),
)
bad_user_id = st.one_of(
    not_str,
    st.none(),
    st.just(""),
    st.text(alphabet="x", min_size=33, max_size=40),
    st.text(alphabet="新", min_size=11, max_size=15),  # 33+ bytes
    surrogate,
)


def bad_text(
    limit: int, *, required: bool = False, optional: bool = True
) -> st.SearchStrategy[Any]:
    too_long = st.integers(limit // 2 + 1, limit).map(lambda n: "é" * n)  # 2 bytes each
    options: list[st.SearchStrategy[Any]] = [not_str, surrogate, too_long]
    if required:
        options.append(st.just(""))
    if not optional:
        options.append(st.none())
    return st.one_of(*options)


def bad_int(low: int, high: int | None, *, optional: bool) -> st.SearchStrategy[Any]:
    options: list[st.SearchStrategy[Any]] = [not_int, st.integers(max_value=low - 1)]
    if high is not None:
        options.append(st.integers(min_value=high + 1))
    if not optional:
        options.append(st.none())
    return st.one_of(*options)


def bad_list(item: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.integers(),
        st.text(max_size=5),
        st.binary(max_size=3),
        st.lists(item, min_size=1, max_size=3),
        st.tuples(st.just("ok"), item).map(list),
    )


def bad_extra(modelled: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(),
        st.text(max_size=3).filter(bool),
        st.lists(st.text(max_size=2), min_size=1, max_size=2),
        st.sampled_from(modelled).map(lambda key: {key: 1}),
        not_json.map(lambda value: {"Future": value}),
        not_json.map(lambda value: {"Future": [1, {"deep": value}]}),
        st.just({5: "x"}),
        st.just({"": 1}),
    )


bad_filter = st.one_of(
    st.text(min_size=1, max_size=5),
    st.integers(),
    st.lists(st.sampled_from(["Nope", "self_info", "msg_key"]), min_size=1, max_size=2),
)
bad_concurrency = st.one_of(st.integers(max_value=0), st.booleans(), st.floats(), st.text())
bad_body = st.one_of(
    st.just(""),
    st.just([]),
    st.integers(),
    st.none(),
    st.just([""]),
    st.just(["ok", ""]),
    surrogate,
    st.just([tim_oa.TextElem("ok"), "\ud800"]),
    not_json.map(lambda value: {"MsgType": "TIMCustomElem", "MsgContent": {"Data": value}}),
    st.just({"MsgType": "TIMTextElem"}),
    st.just({"MsgType": "", "MsgContent": {}}),
    st.integers(12 * 1024 + 1, 13 * 1024).map(lambda n: "x" * n),
)
bad_offline_push = st.one_of(
    st.integers(),
    st.text(max_size=3),
    st.lists(st.integers(), max_size=2),
    not_json.map(lambda value: {"Desc": value}),
    not_json.map(lambda value: {"AndroidInfo": {"Sound": value}}),
)
bad_forbid = st.one_of(
    st.text(min_size=1, max_size=6),
    st.integers(),
    st.lists(st.sampled_from(["during", "Before", 1, None]), min_size=1, max_size=2),
)
bad_msg_keys = bad_list(st.one_of(not_str, st.just(""), surrogate))

# --- the methods, each with valid arguments and per-argument invalid strategies ----------------

Spec = tuple[dict[str, Any], dict[str, st.SearchStrategy[Any]]]

SPECS: dict[str, Spec] = {
    "create_account": (
        {"owner": "107867", "name": "News", "account_id": "@TOA#_mine"},
        {
            "owner": bad_user_id,
            "name": bad_text(150, required=True, optional=False),
            "account_id": st.one_of(
                bad_account_id.filter(lambda v: v is not None),
                st.just("@TOA#_@TOA#reserved"),
            ),
            "introduction": bad_text(400),
            "face_url": bad_text(500),
            "organization": bad_text(500),
            "custom_string": bad_text(3000),
            "max_subscribers": bad_int(1, 2**32 - 1, optional=True),
            "extra_body": bad_extra(["Name", "Owner_Account", "MaxSubscriberNum"]),
        },
    ),
    "destroy_account": (
        {"account_id": ACCOUNT},
        {"account_id": bad_account_id, "extra_body": bad_extra(["Official_Account"])},
    ),
    "modify_account": (
        {"account_id": ACCOUNT, "name": "News"},
        {
            "account_id": bad_account_id,
            "name": bad_text(150, required=True),
            "introduction": bad_text(400),
            "custom_string": bad_text(3000),
            "max_subscribers": bad_int(1, 2**32 - 1, optional=True),
            "extra_body": bad_extra(["Name", "Official_Account", "CustomString"]),
        },
    ),
    "get_accounts": (
        {"account_ids": [ACCOUNT]},
        {
            "account_ids": bad_list(bad_account_id),
            "fields": bad_filter,
            "extra_body": bad_extra(["OfficialAccountIdList", "ResponseFilter"]),
        },
    ),
    "subscribed_accounts": (
        {"user_id": "107867"},
        {
            "user_id": bad_user_id,
            "page_size": bad_int(1, 200, optional=False),
            "account_fields": bad_filter,
            "self_fields": bad_filter,
            "offset": bad_int(0, 2**32 - 1, optional=False),
            "extra_body": bad_extra(["Offset", "Limit", "Subscriber_Account"]),
        },
    ),
    "subscribers": (
        {"account_id": ACCOUNT},
        {
            "account_id": bad_account_id,
            "page_size": bad_int(1, 200, optional=False),
            "cursor": st.one_of(not_str, st.none(), surrogate),
            "extra_body": bad_extra(["Next", "Limit"]),
        },
    ),
    "add_subscribers": (
        {"account_id": ACCOUNT, "user_ids": ["u1"]},
        {
            "account_id": bad_account_id,
            "user_ids": bad_list(bad_user_id),
            "concurrency": bad_concurrency,
            "on_progress": not_callable,
            "extra_body": bad_extra(["SubscriberList", "Official_Account"]),
        },
    ),
    "remove_subscribers": (
        {"account_id": ACCOUNT, "user_ids": ["u1"]},
        {
            "account_id": bad_account_id,
            "user_ids": bad_list(bad_user_id),
            "concurrency": bad_concurrency,
            "on_progress": not_callable,
            "extra_body": bad_extra(["SubscriberToDel_Account"]),
        },
    ),
    "modify_subscriber": (
        {"account_id": ACCOUNT, "user_id": "u1", "custom_string": "vip"},
        {
            "account_id": bad_account_id,
            "user_id": bad_user_id,
            "custom_string": bad_text(3000, optional=False),
            "extra_body": bad_extra(["CustomString"]),
        },
    ),
    "send_message": (
        {"account_id": ACCOUNT, "body": "hello"},
        {
            "account_id": bad_account_id,
            "body": bad_body,
            "random": bad_int(0, 2**32 - 1, optional=True),
            "cloud_custom_data": st.one_of(not_str, surrogate),
            "offline_push": bad_offline_push,
            "online_only": not_bool,
            "no_last_msg": not_bool,
            "forbid_callbacks": bad_forbid,
            "extra_body": bad_extra(["Random", "MsgBody", "ForbidCallbackControl"]),
        },
    ),
    "messages": (
        {"account_id": ACCOUNT},
        {
            "account_id": bad_account_id,
            "page_size": bad_int(1, 20, optional=False),
            "with_recalled": not_bool,
            "last_msg_key": st.one_of(not_str, st.just(""), surrogate),
            "extra_body": bad_extra(["LastMsgKey", "ReqMsgNumber"]),
        },
    ),
    "recall_messages": (
        {"account_id": ACCOUNT, "msg_keys": [MSG_KEY]},
        {
            "account_id": bad_account_id,
            "msg_keys": bad_msg_keys,
            "reason": bad_text(100),
            "concurrency": bad_concurrency,
            "on_progress": not_callable,
            "extra_body": bad_extra(["MsgKeyList", "Reason"]),
        },
    ),
}

PAGERS = {"subscribed_accounts", "subscribers", "messages"}
CASES = [(method, arg) for method, (_, bad) in SPECS.items() for arg in bad]


def answer(request: httpx.Request) -> httpx.Response:
    """A valid answer for every command (used by the baseline check)."""
    command = request.url.path.rsplit("/", 1)[-1]
    body = json.loads(request.content)
    every: dict[str, dict[str, Any]] = {
        "create_official_account": {"OfficialAccountUserID": "@TOA#_mine"},
        "get_official_account_info": {"OfficialAccountInfoList": [{"Official_Account": ACCOUNT}]},
        "get_subscribed_official_account_list": {"CompleteFlag": 1},
        "get_subscriber_info": {"Next": ""},
        "add_subscriber": {"SubscriberList": [{"Subscriber_Account": "u1", "Result": 1}]},
        "delete_subscriber": {"SubscriberList": [{"Subscriber_Account": "u1", "Result": 1}]},
        "send_official_account_msg": {"MsgKey": MSG_KEY, "MsgTime": 1},
        "official_account_msg_get_simple": {"RspMsgList": []},
        "official_account_msg_recall": {
            "RecallRetList": [{"MsgKey": k, "RetCode": 0} for k in body.get("MsgKeyList", [])]
        },
    }
    fields = every.get(command, {})
    return httpx.Response(200, json={"ActionStatus": "OK", "ErrorCode": 0, **fields})


async def call(method: str, kwargs: dict[str, Any], sent: list[str]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return answer(request)

    async with tim_oa.Session(
        1400000000,
        "administrator",
        "sig",
        base_url="https://api.test",
        transport=httpx.MockTransport(handler),
        rate_limit=None,
        send_rate=None,
        max_retries=0,
    ) as oa:
        result = getattr(oa, method)(**kwargs)
        if method in PAGERS:
            await result.collect()
        else:
            await result


@pytest.mark.parametrize("method", list(SPECS))
def test_valid_arguments_reach_the_wire(method: str) -> None:
    sent: list[str] = []
    anyio.run(call, method, dict(SPECS[method][0]), sent)
    assert sent, "the harness must see requests, or the property below proves nothing"


@pytest.mark.parametrize(("method", "arg"), CASES, ids=[f"{m}-{a}" for m, a in CASES])
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_invalid_arguments_are_refused_before_any_request(
    method: str, arg: str, data: st.DataObject
) -> None:
    valid, bad = SPECS[method]
    value = data.draw(bad[arg], label=arg)
    kwargs = {**valid, arg: value}
    sent: list[str] = []
    with pytest.raises(tim_oa.ValidationError) as info:
        anyio.run(call, method, kwargs, sent)
    assert sent == []
    field = info.value.field
    assert field is not None and field.split("[")[0] == arg, (field, str(info.value))
