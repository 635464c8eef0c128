"""Every event class read from a body built from the reference, tolerantly and strictly."""

from __future__ import annotations

import datetime
import json
from typing import Any

import attrs
import pytest

import tim_oa
from tim_oa import webhooks
from tim_oa.webhooks import WebhookError

from .samples import BODIES, NOW, SDKAPPID, TOKEN, body_of, query_for

ALL_EVENTS = list(webhooks.EVENT_TYPES.values())


def parse(event_type: type[webhooks.Event], body: Any, **options: Any) -> Any:
    return webhooks.parse_event(
        query_for(event_type), body, sdkappid=SDKAPPID, token=TOKEN, now=NOW, **options
    )


def test_there_are_exactly_the_eleven_commands_of_the_reference() -> None:
    assert set(webhooks.EVENT_TYPES) == set(BODIES)
    assert len(webhooks.EVENT_TYPES) == 11
    before = {cls.__name__ for cls in ALL_EVENTS if cls.is_before}
    assert before == {"BeforeCreateAccount", "BeforeAddSubscriber", "BeforeSendMessage"}


# event class -> the snake_case fields the reference body fills
EXPECTED: dict[type[webhooks.Event], dict[str, Any]] = {
    webhooks.BeforeCreateAccount: {
        "operator": "administrator", "owner": "u_1001", "name": "Daily News",
        "event_time": 1700000000123,
    },
    webhooks.AfterCreateAccount: {
        "official_account": "@TOA#_daily_news", "operator": "administrator", "owner": "u_1001",
        "name": "Daily News", "event_time": 1700000000456,
    },
    webhooks.AfterAccountInfoChanged: {
        "official_account": "@TOA#_daily_news", "operator": "administrator",
        "name": "Daily News (EU)", "introduction": "Morning briefing",
        "face_url": "https://cdn.example.com/a.png", "organization": "Example Media",
        "event_time": 1700000100000,
    },
    webhooks.AfterAccountDestroyed: {
        "official_account": "@TOA#_daily_news", "owner": "u_1001", "name": "Daily News",
        "event_time": 1700000200000,
    },
    webhooks.BeforeAddSubscriber: {
        "official_account": "@TOA#_daily_news", "operator": "administrator",
        "user_ids": ("alice", "bob"), "event_time": 1700000300000,
    },
    webhooks.AfterAddSubscriber: {
        "official_account": "@TOA#_daily_news", "operator": "alice", "user_ids": ("alice",),
        "event_time": 1700000301000,
    },
    webhooks.AfterAccountFull: {
        "official_account": "@TOA#_daily_news", "event_time": 1700000400000,
    },
    webhooks.AfterDeleteSubscriber: {
        "official_account": "@TOA#_daily_news", "operator": "bob", "user_ids": ("bob",),
        "event_time": 1700000500000,
    },
    webhooks.BeforeSendMessage: {
        "official_account": "@TOA#_daily_news", "online_only": False,
        "msg_body": ({"MsgType": "TIMTextElem", "MsgContent": {"Text": "Top stories"}},),
        "cloud_custom_data": '{"edition":"am"}', "event_time": 1700000600000,
    },
    webhooks.AfterSendMessage: {
        "official_account": "@TOA#_daily_news", "msg_key": "72_1_1700000601",
        "msg_time": 1700000601, "online_only": False,
        "msg_body": ({"MsgType": "TIMTextElem", "MsgContent": {"Text": "Top stories"}},),
        "cloud_custom_data": '{"edition":"am"}', "event_time": 1700000601234,
    },
    webhooks.AfterRecallMessages: {
        "official_account": "@TOA#_daily_news", "msg_keys": ("72_1_1700000601",),
        "event_time": 1700000700000,
    },
}  # fmt: skip


@pytest.mark.parametrize("event_type", ALL_EVENTS, ids=lambda c: c.__name__)
def test_each_event_from_its_reference_body(event_type: type[webhooks.Event]) -> None:
    body = body_of(event_type)
    event = parse(event_type, json.dumps(body).encode(), strict=True)
    assert type(event) is event_type
    assert event.command == body["CallbackCommand"]
    fields = {f.name for f in attrs.fields(event_type)} - {"context", "raw"}
    assert fields == set(EXPECTED[event_type])  # every field is filled by the reference body
    for name, value in EXPECTED[event_type].items():
        assert getattr(event, name) == value, name
    assert event.raw == body
    assert event.context == webhooks.CallbackContext(
        sdkappid=SDKAPPID, command=event_type.command, client_ip="127.0.0.1",
        opt_platform="RESTAPI", content_type="json", request_time=NOW, authenticated=True,
    )  # fmt: skip
    assert event.event_datetime == datetime.datetime.fromtimestamp(
        body["EventTime"] / 1000, tz=datetime.timezone.utc
    )
    hash(event)  # usable in sets, e.g. to drop a retried after-callback


@pytest.mark.parametrize("event_type", ALL_EVENTS, ids=lambda c: c.__name__)
def test_unknown_fields_are_ignored_and_kept_in_raw(event_type: type[webhooks.Event]) -> None:
    body = body_of(event_type, TopicId="t1", Extra={"nested": [1, 2]})
    event = parse(event_type, body, strict=True)
    assert event.raw["Extra"] == {"nested": [1, 2]}
    plain = parse(event_type, body_of(event_type))
    assert attrs.evolve(event, raw=plain.raw) == plain


@pytest.mark.parametrize("event_type", ALL_EVENTS, ids=lambda c: c.__name__)
def test_absent_fields_are_none_or_empty_unless_strict(event_type: type[webhooks.Event]) -> None:
    body = {"CallbackCommand": event_type.command}
    event = parse(event_type, body)
    for field in attrs.fields(event_type):
        if field.name not in ("context", "raw"):
            assert getattr(event, field.name) in (None, ()), field.name
    with pytest.raises(WebhookError) as info:
        parse(event_type, body, strict=True)
    assert info.value.reason == "body" and "missing" in str(info.value)


def test_null_counts_as_absent() -> None:
    event = parse(
        webhooks.AfterAccountFull, body_of(webhooks.AfterAccountFull) | {"EventTime": None}
    )
    assert event.event_time is None and event.event_datetime is None


def test_strict_mode_allows_the_fields_the_reference_calls_optional() -> None:
    changed = body_of(
        webhooks.AfterAccountInfoChanged, Introduction=None, FaceUrl=None, Organization=None
    )
    event = parse(webhooks.AfterAccountInfoChanged, changed, strict=True)
    assert event.name == "Daily News (EU)" and event.introduction is None
    send = parse(
        webhooks.BeforeSendMessage, body_of(webhooks.BeforeSendMessage, CloudCustomData=None),
        strict=True,
    )  # fmt: skip
    assert send.cloud_custom_data is None
    with pytest.raises(WebhookError):
        parse(
            webhooks.AfterSendMessage,
            body_of(webhooks.AfterSendMessage, CloudCustomData=None),
            strict=True,
        )


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1700000300000, 1700000300000), ("1700000300000", 1700000300000), ("-5", -5), (0, 0)],
)
def test_event_time_is_an_int_or_a_numeric_string(value: Any, expected: int) -> None:
    body = body_of(webhooks.BeforeAddSubscriber, EventTime=value)
    assert parse(webhooks.BeforeAddSubscriber, body).event_time == expected


@pytest.mark.parametrize(
    "value", [1.7e12, "1.7e12", "", "12a", True, 2**63, "99999999999999999999", [1], {"ms": 1}]
)
def test_event_time_of_another_shape_is_a_malformed_body(value: Any) -> None:
    body = body_of(webhooks.BeforeAddSubscriber, EventTime=value)
    with pytest.raises(WebhookError) as info:
        parse(webhooks.BeforeAddSubscriber, body)
    assert info.value.reason == "body" and "EventTime" in str(info.value)


def test_event_datetime_out_of_range_is_none() -> None:
    assert webhooks.AfterAccountFull(event_time=2**62).event_datetime is None


@pytest.mark.parametrize(
    ("event_type", "key", "value"),
    [
        (webhooks.BeforeCreateAccount, "Name", 5),
        (webhooks.AfterCreateAccount, "Official_Account", ["@TOA#_x"]),
        (webhooks.BeforeAddSubscriber, "SubscribeAccountList", {"Subscriber_Account": "a"}),
        (webhooks.BeforeAddSubscriber, "SubscribeAccountList", ["alice"]),
        (webhooks.BeforeAddSubscriber, "SubscribeAccountList", [{"Subscriber_Account": 7}]),
        (webhooks.AfterDeleteSubscriber, "SubscribeAccountList", [{"User_Account": "a"}]),
        (webhooks.BeforeSendMessage, "MsgBody", "hello"),
        (webhooks.BeforeSendMessage, "MsgBody", [["TIMTextElem"]]),
        (webhooks.BeforeSendMessage, "OnlineOnlyFlag", "yes"),
        (webhooks.AfterSendMessage, "MsgTime", "soon"),
        (webhooks.AfterRecallMessages, "WithdrawMsgList", [{"MsgKey": None}]),
        (webhooks.AfterRecallMessages, "WithdrawMsgList", "72_1_1700000601"),
    ],
)
def test_a_field_of_the_wrong_type_is_a_malformed_body(
    event_type: type[webhooks.Event], key: str, value: Any
) -> None:
    with pytest.raises(WebhookError) as info:
        parse(event_type, body_of(event_type, **{key: value}))
    assert info.value.reason == "body" and key in str(info.value)


def test_online_only_flag_and_typed_elements() -> None:
    body = body_of(
        webhooks.BeforeSendMessage,
        OnlineOnlyFlag="1",
        MsgBody=[
            {"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}},
            {"MsgType": "TIMNewElem", "MsgContent": {"X": 1}},
        ],
    )
    event = parse(webhooks.BeforeSendMessage, body)
    assert event.online_only is True
    assert event.elements == (
        tim_oa.TextElem("hi"),
        {"MsgType": "TIMNewElem", "MsgContent": {"X": 1}},
    )


def test_events_are_frozen_values_you_can_build_for_handler_tests() -> None:
    event = webhooks.BeforeAddSubscriber(official_account="@TOA#_news", user_ids=("alice",))
    assert event.user_ids == ("alice",) and event.raw == {} and event.event_time is None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.user_ids = ()  # type: ignore[misc]
    assert webhooks.BeforeAddSubscriber.answers == (
        webhooks.Allow, webhooks.Refuse, webhooks.RefuseSubscribers,
    )  # fmt: skip
    assert "raw" not in repr(event)
