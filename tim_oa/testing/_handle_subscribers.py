"""Handlers of the subscriber commands: list, add, delete, modify, and a user's subscriptions.

Webhook lists (INFERRED where the reference is silent): the before-subscribe callback lists the
requested users not subscribed yet, and is not sent when there are none; after-subscribe and
after-unsubscribe list the users actually added or removed; the full callback fires when a
request fills the account (not when it finds it full).
"""

from __future__ import annotations

from .. import _limits as L
from . import _readers as R
from ._backend import Backend
from ._call import Call, Result, before
from ._handle_accounts import ALL_ACCOUNT_FIELDS
from ._readers import Body
from ._webhooks import (
    AFTER_ADD_SUBSCRIBER,
    AFTER_DELETE_SUBSCRIBER,
    AFTER_FULL,
    ALLOW,
    BEFORE_ADD_SUBSCRIBER,
    Decision,
)

# -- 5. get_subscriber_info --


def get_subscribers(backend: Backend, body: Body, call: Call) -> Result:
    """``get_subscriber_info``: a page of subscribers in subscription order, opaque cursor."""
    account_id = R.account_id(body)
    limit = R.limit(body, "Limit", L.MAX_PAGE_SIZE, L.MAX_PAGE_SIZE)
    cursor = R.opt_str(body, "Next") or ""  # absent Next reads as the first page (INFERRED)
    start_seq = R.decode_cursor(cursor) if cursor else 0
    records, next_seq = backend.subscribers_page(account_id, start_seq, limit)
    page = [
        {
            "Subscriber_Account": record.user_id,
            "SubscribeTime": record.subscribe_time,
            "CustomString": record.custom_string,
            "MsgFlag": record.msg_flag,
            "LastSendMsgTime": record.last_send_msg_time,
        }
        for record in records
    ]
    return {
        "Next": "" if next_seq is None else R.encode_cursor(next_seq),
        "SubscriberNum": len(backend.get(account_id).subscribers),
        "SubscriberList": page,
    }


# -- 6. add_subscriber --


def add_subscribers(backend: Backend, body: Body, call: Call) -> Result:
    """``add_subscriber``: a Result per user."""
    account_id = R.account_id(body)
    items = R.req_list(body, "SubscriberList")
    R.check_count("SubscriberList", items, L.MAX_SUBSCRIBERS_PER_ADD)
    users = R.user_items("SubscriberList", items)

    def finish(decision: Decision) -> Body:
        refused = frozenset(users) if decision.refuse_all else decision.refused
        results = backend.add_subscribers(account_id, users, refused=refused)
        added = [user for user, result in zip(users, results, strict=True) if result == 1]
        if added:
            call.notify(
                AFTER_ADD_SUBSCRIBER,
                Official_Account=account_id,
                Operator_Account=call.operator,
                SubscribeAccountList=[{"Subscriber_Account": user} for user in added],
            )
            if backend.get(account_id).is_full:
                call.notify(AFTER_FULL, Official_Account=account_id)
        return {"SubscriberList": _user_results(users, results)}

    account = backend.check_add_subscribers(account_id, users)
    candidates = [u for u in dict.fromkeys(users) if u not in account.subscribers]
    if not candidates:
        return finish(ALLOW)
    fields = {
        "Official_Account": account_id,
        "Operator_Account": call.operator,
        "SubscribeAccountList": [{"Subscriber_Account": user} for user in candidates],
    }
    return before(call, BEFORE_ADD_SUBSCRIBER, fields, finish)


def _user_results(users: list[str], results: list[int]) -> list[Body]:
    return [{"Subscriber_Account": u, "Result": r} for u, r in zip(users, results, strict=True)]


# -- 7. delete_subscriber --


def delete_subscribers(backend: Backend, body: Body, call: Call) -> Result:
    """``delete_subscriber``: a Result per user."""
    account_id = R.account_id(body)
    if "SubscriberToDel_Account" in body:
        name = "SubscriberToDel_Account"
        users = R.str_list(name, R.req_list(body, name))
        R.check_count(name, users, L.MAX_SUBSCRIBERS_PER_DELETE)
        users = [R.check_user_id(name, user) for user in users]
    elif "SubscriberList" in body:
        # The shape one production client sends; accepted too (reference §4.7).
        items = R.req_list(body, "SubscriberList")
        R.check_count("SubscriberList", items, L.MAX_SUBSCRIBERS_PER_DELETE)
        users = R.user_items("SubscriberList", items)
    else:
        raise R.missing("SubscriberToDel_Account")
    results = backend.delete_subscribers(account_id, users)
    removed = [user for user, result in zip(users, results, strict=True) if result == 1]
    if removed:
        call.notify(
            AFTER_DELETE_SUBSCRIBER,
            Official_Account=account_id,
            Operator_Account=call.operator,
            SubscribeAccountList=[{"Subscriber_Account": user} for user in removed],
        )
    return {"SubscriberList": _user_results(users, results)}


# -- 8. modify_subscriber_info --


def modify_subscriber(backend: Backend, body: Body, call: Call) -> Result:
    """``modify_subscriber_info``."""
    account_id = R.account_id(body)
    user = R.check_user_id("Subscriber_Account", R.req_str(body, "Subscriber_Account"))
    custom = R.check_bytes("CustomString", R.req_str(body, "CustomString"))
    backend.modify_subscriber(account_id, user, custom)
    return {}


# -- 9. get_subscribed_official_account_list --


def get_subscribed(backend: Backend, body: Body, call: Call) -> Result:
    """``get_subscribed_official_account_list``: offset paging; an unknown user has none."""
    user = R.check_user_id("Subscriber_Account", R.req_str(body, "Subscriber_Account"))
    limit = R.limit(body, "Limit", L.MAX_PAGE_SIZE, L.MAX_PAGE_SIZE)
    offset = R.opt_int(body, "Offset") or 0
    if offset < 0:
        raise R.invalid("Offset", f"must not be negative, got {offset}")
    account_fields = R.response_filter(
        body, "OfficialAccountBaseInfoFilter", L.ACCOUNT_FILTER_FIELDS, ALL_ACCOUNT_FIELDS
    )
    self_fields = R.response_filter(
        body, "SelfInfoFilter", L.SELF_INFO_FILTER_FIELDS, L.SELF_INFO_FILTER_FIELDS
    )
    subscribed = backend.subscriptions(user)
    page = subscribed[offset : offset + limit]
    items = []
    for account, record in page:
        self_values = {"SubscribeTime": record.subscribe_time, "CustomString": record.custom_string}
        item: Body = {"Official_Account": account.account_id}
        item.update({name: account.field_value(name) for name in account_fields})
        item["SelfInfo"] = {name: self_values[name] for name in self_fields}
        items.append(item)
    next_offset = offset + len(page)
    return {
        "OfficialAccountInfoList": items,
        "TotalCount": len(subscribed),
        "CompleteFlag": 1 if next_offset >= len(subscribed) else 0,
        "Next": next_offset,
    }
