"""Handlers of the message commands: send, history, recall.

Answers and webhooks the reference leaves open (INFERRED; a client must not depend on them): a
recall result carries ``MsgSeq`` besides ``MsgKey`` and ``RetCode`` (the reference cites only the
doocs SDK's model for it, §4.12; 0 for a key never sent); recalled messages come back in history
as placeholders without content. After-send reports the message as stored (rewritten, if the
before-send webhook rewrote it) and does not fire for a refused, dropped or duplicate send; the
recall callback lists the keys this request recalled. ``ForbidCallbackControl`` suppresses the
before- and after-send callbacks it names.
"""

from __future__ import annotations

from typing import Any, Final

from .. import _limits as L
from .._codes import ErrorCode as C
from . import _readers as R
from ._backend import Backend
from ._call import Call, Result, before
from ._failure import Failure
from ._readers import Body
from ._records import MessageRecord
from ._webhooks import (
    AFTER_RECALL,
    AFTER_SEND,
    ALLOW,
    BEFORE_SEND,
    Decision,
)

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
# -- 10. send_official_account_msg --


def send_message(backend: Backend, body: Body, call: Call) -> Result:
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

    def finish(decision: Decision) -> Body:
        if decision.error is not None:
            raise Failure(*decision.error)
        stored_body = decision.msg_body if decision.msg_body is not None else msg_body
        custom = (
            decision.cloud_custom_data
            if decision.cloud_custom_data is not None
            else cloud_custom_data
        )
        is_new = backend.check_send(account_id, msg_body, msg_random) is None
        msg_time, msg_key = backend.send(
            account_id,
            msg_body,
            msg_random,
            stored_body=stored_body,
            cloud_custom_data=custom,
            offline_push_info=offline_push_info,
            online_only=bool(online_only),
            send_msg_control=controls,
            discard=decision.drop,
        )
        if is_new and not decision.drop and "ForbidAfterSendMsgCallback" not in forbid:
            fields: Body = {
                "Official_Account": account_id,
                "MsgKey": msg_key,
                "MsgTime": msg_time,
                "OnlineOnlyFlag": online_only,
                "MsgBody": stored_body,
            }
            if custom is not None:
                fields["CloudCustomData"] = custom
            call.notify(AFTER_SEND, **fields)
        return {"MsgTime": msg_time, "MsgKey": msg_key}

    original = backend.check_send(account_id, msg_body, msg_random)
    if original is not None or "ForbidBeforeSendMsgCallback" in forbid:
        return finish(ALLOW)  # a duplicate is answered with the original, no callback
    fields = {"Official_Account": account_id, "OnlineOnlyFlag": online_only, "MsgBody": msg_body}
    if cloud_custom_data is not None:
        fields["CloudCustomData"] = cloud_custom_data
    return before(call, BEFORE_SEND, fields, finish)


def is_valid_msg_body(value: Any) -> bool:
    """Whether ``value`` would be accepted as a ``MsgBody`` (a before-send rewrite's check)."""
    try:
        read_msg_body({"MsgBody": value})
    except Failure:
        return False
    return True


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


def get_history(backend: Backend, body: Body, call: Call) -> Result:
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


def recall_messages(backend: Backend, body: Body, call: Call) -> Result:
    """``official_account_msg_recall``: a RetCode per key."""
    account_id = R.account_id(body)
    keys = R.str_list("MsgKeyList", R.req_list(body, "MsgKeyList"))
    R.check_count("MsgKeyList", keys, L.MAX_MSG_KEYS_PER_RECALL)
    reason = R.opt_str(body, "Reason")
    if reason is not None:
        R.check_bytes("Reason", reason)
    recalled = backend.recall(account_id, keys, reason)
    newly = [m.key for m in recalled if m is not None and not m.recalled]
    if newly:
        call.notify(
            AFTER_RECALL,
            Official_Account=account_id,
            WithdrawMsgList=[{"MsgKey": key} for key in dict.fromkeys(newly)],
        )
    results = []
    for key, message in zip(keys, recalled, strict=True):
        if message is None:
            # 10030 for a key this account never sent (INFERRED).
            results.append({"MsgKey": key, "RetCode": int(C.MESSAGE_NOT_RECALLABLE), "MsgSeq": 0})
        else:
            results.append({"MsgKey": key, "RetCode": 0, "MsgSeq": message.seq})
    return {"RecallRetList": results}
