"""Callback bodies built from the reference (§3), one per command, and signing helpers."""

from __future__ import annotations

import json
from typing import Any

from tim_oa import webhooks

SDKAPPID = 1400000000
TOKEN = "my-token"
NOW = 1_700_000_000  # RequestTime of the reference's second Sign vector

BODIES: dict[str, dict[str, Any]] = {
    "OfficialAccount.CallbackBeforeCreateOfficialAccount": {
        "CallbackCommand": "OfficialAccount.CallbackBeforeCreateOfficialAccount",
        "Operator_Account": "administrator",
        "Owner_Account": "u_1001",
        "Name": "Daily News",
        "EventTime": 1700000000123,
    },
    "OfficialAccount.CallbackAfterCreateOfficialAccount": {
        "CallbackCommand": "OfficialAccount.CallbackAfterCreateOfficialAccount",
        "Official_Account": "@TOA#_daily_news",
        "Operator_Account": "administrator",
        "Owner_Account": "u_1001",
        "Name": "Daily News",
        "EventTime": 1700000000456,
    },
    "OfficialAccount.CallbackAfterOfficialAccountInfoChanged": {
        "CallbackCommand": "OfficialAccount.CallbackAfterOfficialAccountInfoChanged",
        "Official_Account": "@TOA#_daily_news",
        "Operator_Account": "administrator",
        "Name": "Daily News (EU)",
        "Introduction": "Morning briefing",
        "FaceUrl": "https://cdn.example.com/a.png",
        "Organization": "Example Media",
        "EventTime": 1700000100000,
    },
    "OfficialAccount.CallbackAfterOfficialAccountDestroyed": {
        "CallbackCommand": "OfficialAccount.CallbackAfterOfficialAccountDestroyed",
        "Official_Account": "@TOA#_daily_news",
        "Owner_Account": "u_1001",
        "Name": "Daily News",
        "EventTime": 1700000200000,
    },
    "OfficialAccount.CallbackBeforeAddSubscriber": {
        "CallbackCommand": "OfficialAccount.CallbackBeforeAddSubscriber",
        "Official_Account": "@TOA#_daily_news",
        "Operator_Account": "administrator",
        "SubscribeAccountList": [{"Subscriber_Account": "alice"}, {"Subscriber_Account": "bob"}],
        "EventTime": 1700000300000,
    },
    "OfficialAccount.CallbackAfterAddSubscriber": {
        "CallbackCommand": "OfficialAccount.CallbackAfterAddSubscriber",
        "Official_Account": "@TOA#_daily_news",
        "Operator_Account": "alice",
        "SubscribeAccountList": [{"Subscriber_Account": "alice"}],
        "EventTime": 1700000301000,
    },
    "OfficialAccount.CallbackAfterOfficialAccountFull": {
        "CallbackCommand": "OfficialAccount.CallbackAfterOfficialAccountFull",
        "Official_Account": "@TOA#_daily_news",
        "EventTime": 1700000400000,
    },
    "OfficialAccount.CallbackAfterDeleteSubscriber": {
        "CallbackCommand": "OfficialAccount.CallbackAfterDeleteSubscriber",
        "Official_Account": "@TOA#_daily_news",
        "Operator_Account": "bob",
        "SubscribeAccountList": [{"Subscriber_Account": "bob"}],
        "EventTime": 1700000500000,
    },
    "OfficialAccount.CallbackBeforeSendMsg": {
        "CallbackCommand": "OfficialAccount.CallbackBeforeSendMsg",
        "Official_Account": "@TOA#_daily_news",
        "OnlineOnlyFlag": 0,
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "Top stories"}}],
        "CloudCustomData": '{"edition":"am"}',
        "EventTime": 1700000600000,
    },
    "OfficialAccount.CallbackAfterSendMsg": {
        "CallbackCommand": "OfficialAccount.CallbackAfterSendMsg",
        "Official_Account": "@TOA#_daily_news",
        "MsgKey": "72_1_1700000601",
        "MsgTime": 1700000601,
        "OnlineOnlyFlag": 0,
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "Top stories"}}],
        "CloudCustomData": '{"edition":"am"}',
        "EventTime": 1700000601234,
    },
    "OfficialAccount.CallbackAfterMsgWithDraw": {
        "CallbackCommand": "OfficialAccount.CallbackAfterMsgWithDraw",
        "Official_Account": "@TOA#_daily_news",
        "WithdrawMsgList": [{"MsgKey": "72_1_1700000601"}],
        "EventTime": 1700000700000,
    },
}


def body_of(event_type: type[webhooks.Event], **changes: Any) -> dict[str, Any]:
    """The reference body of an event class, with keys replaced (a value of None drops it)."""
    body = dict(BODIES[event_type.command])
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def query_for(
    event_type: type[webhooks.Event] | str, *, token: str | None = TOKEN, at: int = NOW
) -> dict[str, str]:
    """A callback query for the command, signed with ``token`` at ``at``."""
    return webhooks.callback_query(SDKAPPID, event_type, token=token, request_time=at)


def request_for(event_type: type[webhooks.Event], **changes: Any) -> tuple[dict[str, str], bytes]:
    """A signed (query, body bytes) pair for the event's reference body."""
    return query_for(event_type), json.dumps(body_of(event_type, **changes)).encode()
