"""One handler per command: read the body, call the backend, shape the answer.

Each handler reads and checks every field of the body first (``_readers``), and only then calls
the backend, so a malformed request never reports a lookup error such as 130004. ``HANDLERS``
maps each of the twelve command names to its handler.

Answers the reference does not show field by field (INFERRED; a client must not depend on them):

- unfiltered ``get_official_account_info`` and ``get_subscribed_official_account_list`` items
  carry ``MaxSubscriberNum`` besides the nine filter fields. The reference does not list it
  among the returned fields (§4.4: "whether MaxSubscriberNum is returnable ... UNKNOWN"); it is
  kept because the project's CLI tests read it back, and is the first thing to drop;
- a recall result carries ``MsgSeq`` besides ``MsgKey`` and ``RetCode``: the reference cites only
  the doocs SDK's model for it (§4.12); 0 for a key never sent. Other choices the reference leaves
open (all INFERRED) are noted where they are made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from .. import _limits as L
from .._codes import ErrorCode as C
from . import _readers as R
from ._backend import Backend
from ._failure import Failure
from ._readers import Body
from ._records import MessageRecord, is_valid_account_id

Handler = Callable[[Backend, Body], Body]

ALL_ACCOUNT_FIELDS: Final = (*L.ACCOUNT_FILTER_FIELDS, "MaxSubscriberNum")
"""Account fields returned when no ``OfficialAccountBaseInfoFilter`` is given: the filter's nine
(reference §4.4 and §4.9) plus ``MaxSubscriberNum`` (INFERRED; see the module docstring)."""

MESSAGE_TYPES: Final = frozenset(
    {
        "TIMTextElem",
        "TIMLocationElem",
        "TIMFaceElem",
        "TIMCustomElem",
        "TIMSoundElem",
        "TIMImageElem",
        "TIMFileElem",
        "TIMVideoFileElem",
    }
)
"""``MsgType`` values accepted in a ``MsgBody`` (the standard IM element types)."""

SEND_MSG_CONTROLS: Final = frozenset({"NoLastMsg", "NoUnread"})
FORBID_CALLBACK_CONTROLS: Final = frozenset(
    {"ForbidBeforeSendMsgCallback", "ForbidAfterSendMsgCallback"}
)
_PROFILE_TEXTS: Final = ("Introduction", "FaceUrl", "Organization", "CustomString")


def _texts(body: Body, names: tuple[str, ...]) -> dict[str, str]:
    return {
        key: R.check_bytes(key, value, allow_empty=key != "Name")
        for key in names
        if (value := R.opt_str(body, key)) is not None
    }


def _max_subscribers(body: Body) -> int | None:
    value = R.opt_int(body, "MaxSubscriberNum")
    if value is not None and value < 1:
        raise R.invalid("MaxSubscriberNum", "must be a positive integer")
    return value


# -- 1. create_official_account --


def create_account(backend: Backend, body: Body) -> Body:
    """``create_official_account``."""
    owner = R.check_user_id("Owner_Account", R.req_str(body, "Owner_Account"))
    name = R.check_bytes("Name", R.req_str(body, "Name"), allow_empty=False)
    texts = _texts(body, _PROFILE_TEXTS)
    max_subscribers = _max_subscribers(body)
    custom_id = R.opt_str(body, "OfficialAccountUserID")
    if custom_id is not None and (
        not is_valid_account_id(custom_id) or custom_id.startswith(L.GENERATED_ID_PREFIX)
    ):
        raise Failure(
            C.OA_ID_INVALID,
            "OfficialAccountUserID must be printable ASCII, at most "
            f"{L.ACCOUNT_ID_MAX_BYTES} bytes, start with {L.ACCOUNT_ID_PREFIX} and not "
            f"with {L.GENERATED_ID_PREFIX}",
        )
    account_id = backend.create_account(
        owner,
        name,
        account_id=custom_id,
        introduction=texts.get("Introduction", ""),
        face_url=texts.get("FaceUrl", ""),
        organization=texts.get("Organization", ""),
        custom_string=texts.get("CustomString", ""),
        max_subscribers=max_subscribers,
    )
    return {"OfficialAccountUserID": account_id}


# -- 2. destroy_official_account --


def destroy_account(backend: Backend, body: Body) -> Body:
    """``destroy_official_account``."""
    backend.destroy_account(R.account_id(body))
    return {}


# -- 3. modify_official_account_base_info --


def modify_account(backend: Backend, body: Body) -> Body:
    """``modify_official_account_base_info``: only the fields given change."""
    account_id = R.account_id(body)
    texts = _texts(body, ("Name", *_PROFILE_TEXTS))
    max_subscribers = _max_subscribers(body)
    if not texts and max_subscribers is None:
        raise R.invalid("body", "has no field to modify")
    backend.modify_account(
        account_id,
        name=texts.get("Name"),
        introduction=texts.get("Introduction"),
        face_url=texts.get("FaceUrl"),
        organization=texts.get("Organization"),
        custom_string=texts.get("CustomString"),
        max_subscribers=max_subscribers,
    )
    return {}


# -- 4. get_official_account_info --


def get_account_info(backend: Backend, body: Body) -> Body:
    """``get_official_account_info``: one entry per id, each with its own status."""
    items = R.req_list(body, "OfficialAccountIdList")
    R.check_count("OfficialAccountIdList", items, L.MAX_ACCOUNTS_PER_INFO_CALL)
    ids = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("Official_Account"), str):
            raise R.wrong_type(
                "OfficialAccountIdList", 'an array of {"Official_Account": string} objects'
            )
        ids.append(item["Official_Account"])
    fields = R.response_filter(
        body, "OfficialAccountBaseInfoFilter", L.ACCOUNT_FILTER_FIELDS, ALL_ACCOUNT_FIELDS
    )
    result = []
    for account_id in ids:
        entry: Body = {"Official_Account": account_id}
        account = backend.find(account_id)
        if account is None:
            # A malformed id fails its own item with 130007 rather than the whole request
            # (INFERRED), like an unknown one fails with 130004.
            if is_valid_account_id(account_id):
                code, info = C.OA_NOT_FOUND, "Official Account does not exist"
            else:
                code, info = C.OA_ID_INVALID, "not a valid Official Account id"
            entry.update(ActionStatus="FAIL", ErrorCode=int(code), ErrorInfo=info)
        else:
            entry.update(ActionStatus="OK", ErrorCode=0, ErrorInfo="")
            entry.update({name: account.field_value(name) for name in fields})
        result.append(entry)
    return {"OfficialAccountInfoList": result}


# -- 5. get_subscriber_info --


def get_subscribers(backend: Backend, body: Body) -> Body:
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


def add_subscribers(backend: Backend, body: Body) -> Body:
    """``add_subscriber``: a Result per user."""
    account_id = R.account_id(body)
    items = R.req_list(body, "SubscriberList")
    R.check_count("SubscriberList", items, L.MAX_SUBSCRIBERS_PER_ADD)
    users = R.user_items("SubscriberList", items)
    results = backend.add_subscribers(account_id, users)
    return {"SubscriberList": _user_results(users, results)}


def _user_results(users: list[str], results: list[int]) -> list[Body]:
    return [{"Subscriber_Account": u, "Result": r} for u, r in zip(users, results, strict=True)]


# -- 7. delete_subscriber --


def delete_subscribers(backend: Backend, body: Body) -> Body:
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
    return {"SubscriberList": _user_results(users, results)}


# -- 8. modify_subscriber_info --


def modify_subscriber(backend: Backend, body: Body) -> Body:
    """``modify_subscriber_info``."""
    account_id = R.account_id(body)
    user = R.check_user_id("Subscriber_Account", R.req_str(body, "Subscriber_Account"))
    custom = R.check_bytes("CustomString", R.req_str(body, "CustomString"))
    backend.modify_subscriber(account_id, user, custom)
    return {}


# -- 9. get_subscribed_official_account_list --


def get_subscribed(backend: Backend, body: Body) -> Body:
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


# -- 10. send_official_account_msg --


def send_message(backend: Backend, body: Body) -> Body:
    """``send_official_account_msg``."""
    account_id = R.account_id(body)
    msg_random = R.opt_int(body, "Random")
    if msg_random is None:
        raise R.missing("Random") if "Random" not in body else R.wrong_type("Random", "an integer")
    if not 0 <= msg_random <= L.U32_MAX:
        raise R.invalid("Random", "must be an unsigned 32-bit integer")
    msg_body = read_msg_body(body)
    cloud_custom_data = R.opt_str(body, "CloudCustomData")
    offline_push_info = R.opt_object(body, "OfflinePushInfo")
    forbid = R.str_list("ForbidCallbackControl", R.opt_list(body, "ForbidCallbackControl") or [])
    if unknown := set(forbid) - FORBID_CALLBACK_CONTROLS:
        raise R.invalid("ForbidCallbackControl", f"has unknown values {sorted(unknown)}")
    online_only = R.flag(body, "OnlineOnlyFlag")
    controls = R.str_list("SendMsgControl", R.opt_list(body, "SendMsgControl") or [])
    if unknown := set(controls) - SEND_MSG_CONTROLS:
        raise R.invalid("SendMsgControl", f"has unknown values {sorted(unknown)}")
    if online_only and "NoLastMsg" in controls:
        raise R.invalid("SendMsgControl", "NoLastMsg cannot be combined with OnlineOnlyFlag=1")
    msg_time, msg_key = backend.send(
        account_id,
        msg_body,
        msg_random,
        cloud_custom_data=cloud_custom_data,
        offline_push_info=offline_push_info,
        online_only=bool(online_only),
        send_msg_control=controls,
    )
    return {"MsgTime": msg_time, "MsgKey": msg_key}


def read_msg_body(body: Body) -> list[Body]:
    """A non-empty ``MsgBody`` of known element types, within the 12 KB limit."""
    msg_body = R.req_list(body, "MsgBody")
    if not msg_body:
        raise R.invalid("MsgBody", "must hold at least one element")
    for element in msg_body:
        if not isinstance(element, dict) or not isinstance(element.get("MsgType"), str):
            raise R.wrong_type("MsgBody", 'an array of {"MsgType", "MsgContent"} objects')
        if element["MsgType"] not in MESSAGE_TYPES:
            raise R.invalid("MsgBody", f"has an unknown MsgType {element['MsgType']!r}")
        if not isinstance(element.get("MsgContent"), dict):
            raise R.wrong_type("MsgBody.MsgContent", "an object")
    size = R.message_size(msg_body)
    if size > L.MAX_MESSAGE_BYTES:
        raise R.invalid("MsgBody", f"is {size} bytes, over the {L.MAX_MESSAGE_BYTES}-byte limit")
    return msg_body


# -- 11. official_account_msg_get_simple --


def get_history(backend: Backend, body: Body) -> Body:
    """``official_account_msg_get_simple``: newest first, at most a page per call."""
    account_id = R.account_id(body)
    last_key = R.opt_str(body, "LastMsgKey") or ""  # "" reads as the first page (INFERRED)
    wanted = R.opt_int(body, "ReqMsgNumber")
    if wanted is None:
        wanted = L.MAX_HISTORY_PAGE_SIZE
    if wanted <= 0:
        raise R.invalid("ReqMsgNumber", f"must be positive, got {wanted}")
    with_recalled = R.flag(body, "WithRecalledMsg")
    picked = backend.history(
        account_id,
        last_key,
        min(wanted, L.MAX_HISTORY_PAGE_SIZE),
        with_recalled=bool(with_recalled),
    )
    return {
        "Official_Account": account_id,
        # Asking for more than a page is "could not return the whole range".
        "IsFinished": 1 if wanted <= L.MAX_HISTORY_PAGE_SIZE else 0,
        "LastMsgKey": picked[-1].key if picked else "",
        "RspMsgList": [_history_item(message) for message in picked],
    }


def _history_item(message: MessageRecord) -> Body:
    item: Body = {
        "From_Account": message.from_account,
        # Recalled messages come back as placeholders without content (INFERRED).
        "IsPlaceMsg": 2 if message.recalled else 0,
        "MsgBody": [] if message.recalled else message.body,
        "MsgSeq": message.seq,
        "MsgKey": message.key,
        "MsgTimeStamp": message.time,
        "MsgRandom": message.random,
    }
    if message.cloud_custom_data is not None and not message.recalled:
        item["CloudCustomData"] = message.cloud_custom_data
    return item


# -- 12. official_account_msg_recall --


def recall_messages(backend: Backend, body: Body) -> Body:
    """``official_account_msg_recall``: a RetCode per key."""
    account_id = R.account_id(body)
    keys = R.str_list("MsgKeyList", R.req_list(body, "MsgKeyList"))
    R.check_count("MsgKeyList", keys, L.MAX_MSG_KEYS_PER_RECALL)
    reason = R.opt_str(body, "Reason")
    if reason is not None:
        R.check_bytes("Reason", reason)
    recalled = backend.recall(account_id, keys, reason)
    results = []
    for key, message in zip(keys, recalled, strict=True):
        if message is None:
            # 10030 for a key this account never sent (INFERRED).
            results.append({"MsgKey": key, "RetCode": int(C.MESSAGE_NOT_RECALLABLE), "MsgSeq": 0})
        else:
            results.append({"MsgKey": key, "RetCode": 0, "MsgSeq": message.seq})
    return {"RecallRetList": results}


HANDLERS: Final[dict[str, Handler]] = {
    "create_official_account": create_account,
    "destroy_official_account": destroy_account,
    "modify_official_account_base_info": modify_account,
    "get_official_account_info": get_account_info,
    "get_subscriber_info": get_subscribers,
    "add_subscriber": add_subscribers,
    "delete_subscriber": delete_subscribers,
    "modify_subscriber_info": modify_subscriber,
    "get_subscribed_official_account_list": get_subscribed,
    "send_official_account_msg": send_message,
    "official_account_msg_get_simple": get_history,
    "official_account_msg_recall": recall_messages,
}
"""Command name -> handler; exactly the twelve commands."""

assert set(HANDLERS) == set(L.COMMANDS)


def execute(backend: Backend, command: str, body: Body) -> Body:
    """Run one command; return the answer's fields (no envelope) or raise ``Failure``."""
    handler = HANDLERS.get(command)
    if handler is None:
        raise Failure(C.INVALID_COMMAND, f"unknown command {command!r}")
    return handler(backend, body)
