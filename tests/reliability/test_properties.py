"""Property tests: invalid arguments to every public ``Session`` method are refused before any
request (issue 8, item 8).

For every argument of every method, hypothesis draws each kind of invalid value (NaN/inf, huge,
negative, bools, None, lone surrogates, control characters, empty strings, bytes, nested
non-JSON objects; see ``bad_values``). Each must raise ``ValidationError`` whose ``field`` names
the argument (or a ``TypeError`` naming it), and nothing may reach the transport, which counts
requests. A baseline test per method proves the valid arguments do go on the wire, so the
harness is not vacuous. Runs are deterministic (``derandomize=True``, no example database).
The constructors are in ``test_properties_constructors``.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tim_oa

from .bad_values import (
    BAD_BODIES,
    BAD_BOOL,
    BAD_CALL_BODIES,
    BAD_CALLBACK,
    BAD_COMMANDS,
    BAD_EXTRA_BODY,
    BAD_FILTERS,
    BAD_FORBID_CALLBACKS,
    BAD_MSG_KEYS,
    BAD_OFFLINE_PUSH,
    PROPERTY,
    Kinds,
    attempt,
    bad_account_ids,
    bad_id_list,
    bad_int,
    bad_optional_str,
    bad_text,
    bad_user_ids,
    check_refusal,
)
from .support import count, mock_session

ACCOUNT = "@TOA#_prop"

# --- the cases ----------------------------------------------------------------------------------


class Case:
    """One kind of bad value for one argument of one method."""

    def __init__(self, method: str, arg: str, kind: str, bad: Any) -> None:
        self.method = method
        self.arg = arg
        self.kind = kind
        self.bad = bad

    @property
    def id(self) -> str:
        return f"{self.method}-{self.arg}-{self.kind}"

    def __repr__(self) -> str:
        return f"Case({self.id})"


def cases(method: str, arg: str, kinds: Kinds) -> list[Case]:
    return [Case(method, arg, kind, bad) for kind, bad in kinds.items()]


def bad_extra(*built: str) -> Kinds:
    """``extra_body`` values to refuse: the generic kinds, an empty key, and a key the method
    builds itself (``extra_body`` adds keys; it never replaces one)."""
    return {
        **BAD_EXTRA_BODY,
        "empty-key": st.just({"": 1}),
        "built-key": st.sampled_from(built).map(lambda key: {key: 1}),
    }


BASE: dict[str, dict[str, Any]] = {
    "create_account": {"owner": "107867", "name": "News"},
    "destroy_account": {"account_id": ACCOUNT},
    "modify_account": {"account_id": ACCOUNT, "name": "News"},
    "get_accounts": {"account_ids": [ACCOUNT]},
    "subscribed_accounts": {"user_id": "107867"},
    "subscribers": {"account_id": ACCOUNT},
    "add_subscribers": {"account_id": ACCOUNT, "user_ids": ["u1", "u2"]},
    "remove_subscribers": {"account_id": ACCOUNT, "user_ids": ["u1", "u2"]},
    "modify_subscriber": {"account_id": ACCOUNT, "user_id": "u1", "custom_string": "c"},
    "send_message": {"account_id": ACCOUNT, "body": "hello"},
    "messages": {"account_id": ACCOUNT},
    "recall_messages": {"account_id": ACCOUNT, "msg_keys": ["71_1_1698741698"]},
    "call": {"command": "destroy_official_account", "body": {"Official_Account": ACCOUNT}},
}

ARGUMENTS: list[tuple[str, str, Kinds]] = [
    ("create_account", "owner", bad_user_ids()),
    ("create_account", "name", bad_text(150, required=True, optional=False)),
    ("create_account", "account_id", bad_account_ids(none=False, custom=True)),
    ("create_account", "introduction", bad_text(400)),
    ("create_account", "face_url", bad_text(500)),
    ("create_account", "organization", bad_text(500)),
    ("create_account", "custom_string", bad_text(3000)),
    ("create_account", "max_subscribers", bad_int(1, 2**32 - 1, optional=True)),
    ("create_account", "extra_body", bad_extra("Name", "Owner_Account", "MaxSubscriberNum")),
    ("destroy_account", "account_id", bad_account_ids()),
    ("destroy_account", "extra_body", bad_extra("Official_Account")),
    ("modify_account", "account_id", bad_account_ids()),
    ("modify_account", "name", bad_text(150, required=True)),
    ("modify_account", "introduction", bad_text(400)),
    ("modify_account", "custom_string", bad_text(3000)),
    ("modify_account", "max_subscribers", bad_int(1, 2**32 - 1, optional=True)),
    ("modify_account", "extra_body", bad_extra("Name", "Official_Account", "CustomString")),
    ("get_accounts", "account_ids", bad_id_list(bad_account_ids(), ACCOUNT)),
    ("get_accounts", "fields", BAD_FILTERS),
    ("get_accounts", "extra_body", bad_extra("OfficialAccountIdList", "ResponseFilter")),
    ("subscribed_accounts", "user_id", bad_user_ids()),
    ("subscribed_accounts", "page_size", bad_int(1, 200)),
    ("subscribed_accounts", "account_fields", BAD_FILTERS),
    ("subscribed_accounts", "self_fields", BAD_FILTERS),
    ("subscribed_accounts", "offset", bad_int(0, 2**32 - 1)),
    ("subscribed_accounts", "extra_body", bad_extra("Offset", "Limit", "Subscriber_Account")),
    ("subscribers", "account_id", bad_account_ids()),
    ("subscribers", "page_size", bad_int(1, 200)),
    ("subscribers", "cursor", bad_optional_str()),
    ("subscribers", "extra_body", bad_extra("Next", "Limit")),
    ("add_subscribers", "account_id", bad_account_ids()),
    ("add_subscribers", "user_ids", bad_id_list(bad_user_ids(), "u1")),
    ("add_subscribers", "concurrency", bad_int(1, None, optional=True, huge=False)),
    ("add_subscribers", "on_progress", BAD_CALLBACK),
    ("add_subscribers", "extra_body", bad_extra("SubscriberList", "Official_Account")),
    ("remove_subscribers", "account_id", bad_account_ids()),
    ("remove_subscribers", "user_ids", bad_id_list(bad_user_ids(), "u1")),
    ("remove_subscribers", "concurrency", bad_int(1, None, optional=True, huge=False)),
    ("remove_subscribers", "on_progress", BAD_CALLBACK),
    ("remove_subscribers", "extra_body", bad_extra("SubscriberToDel_Account")),
    ("modify_subscriber", "account_id", bad_account_ids()),
    ("modify_subscriber", "user_id", bad_user_ids()),
    ("modify_subscriber", "custom_string", bad_text(3000, optional=False)),
    ("modify_subscriber", "extra_body", bad_extra("CustomString")),
    ("send_message", "account_id", bad_account_ids()),
    ("send_message", "body", BAD_BODIES),
    ("send_message", "random", bad_int(0, 2**32 - 1, optional=True)),
    ("send_message", "cloud_custom_data", bad_optional_str()),
    ("send_message", "offline_push", BAD_OFFLINE_PUSH),
    ("send_message", "online_only", BAD_BOOL),
    ("send_message", "no_last_msg", BAD_BOOL),
    ("send_message", "extra_body", bad_extra("Random", "MsgBody", "ForbidCallbackControl")),
    ("send_message", "forbid_callbacks", BAD_FORBID_CALLBACKS),
    ("messages", "account_id", bad_account_ids()),
    ("messages", "page_size", bad_int(1, 20)),
    ("messages", "with_recalled", BAD_BOOL),
    ("messages", "last_msg_key", bad_optional_str(empty=True)),
    ("messages", "extra_body", bad_extra("LastMsgKey", "ReqMsgNumber")),
    ("recall_messages", "account_id", bad_account_ids()),
    ("recall_messages", "msg_keys", BAD_MSG_KEYS),
    ("recall_messages", "reason", bad_text(100)),
    ("recall_messages", "concurrency", bad_int(1, None, optional=True, huge=False)),
    ("recall_messages", "on_progress", BAD_CALLBACK),
    ("recall_messages", "extra_body", bad_extra("MsgKeyList", "Reason")),
    ("call", "command", BAD_COMMANDS),
    ("call", "body", BAD_CALL_BODIES),
]
CASES = [case for method, arg, kinds in ARGUMENTS for case in cases(method, arg, kinds)]

# --- the harness --------------------------------------------------------------------------------


async def _invoke(method: str, kwargs: dict[str, Any], sent: list[httpx.Request]) -> Any:
    async with mock_session(sent) as oa:
        outcome = getattr(oa, method)(**kwargs)
        if inspect.isawaitable(outcome):
            return await outcome
        return await outcome.collect()  # a pager: input must already have been refused


@pytest.mark.parametrize("method", list(BASE))
def test_the_baseline_arguments_are_valid_and_go_on_the_wire(method: str) -> None:
    sent: list[httpx.Request] = []
    asyncio.run(_invoke(method, dict(BASE[method]), sent))
    assert sent, f"{method} with its baseline arguments sent nothing: the harness is vacuous"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@PROPERTY
@given(data=st.data())
def test_invalid_arguments_are_refused_before_any_request(case: Case, data: st.DataObject) -> None:
    value = data.draw(case.bad, label=case.arg)
    count("property cases")
    kwargs = {**BASE[case.method], case.arg: value}
    sent: list[httpx.Request] = []
    exc = attempt(lambda: asyncio.run(_invoke(case.method, kwargs, sent)))
    check_refusal(exc, case.arg, value)
    assert sent == [], f"{case.arg}={value!r}: {len(sent)} request(s) sent before refusing"


def test_modify_account_without_fields_sends_nothing() -> None:
    sent: list[httpx.Request] = []
    exc = attempt(lambda: asyncio.run(_invoke("modify_account", {"account_id": ACCOUNT}, sent)))
    assert isinstance(exc, tim_oa.ValidationError)
    assert sent == []
