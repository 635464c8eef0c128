"""Message commands: broadcast, history, recall.

Pure ``build_*``/``parse_*`` functions plus the :class:`MessagesMixin` session methods. A broadcast
carries one ``Random`` chosen per logical send, so every retry of it is the same message to the
server's 5-minute duplicate filter; the URL ``random`` of each attempt stays fresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import _limits as L
from ._base import BaseSession
from ._errors import ValidationError
from ._validation import (
    check_account_id,
    check_bool,
    check_callback,
    check_id_list,
    check_int,
    check_iterable,
    check_json,
    check_page_size,
    check_str,
    check_text,
    merge_extra,
)
from ._wire import new_random

if TYPE_CHECKING:  # loaded on first use (see tim_oa._accounts); elements on the first build
    from ._batch import BatchResult, ProgressCallback
    from ._elements import BodyLike, OfflinePush
    from ._models import Message, SentMessage
    from ._pagination import AsyncPager, Page

SEND = "send_official_account_msg"
HISTORY = "official_account_msg_get_simple"
RECALL = "official_account_msg_recall"

# IsFinished values of a history page.
HISTORY_PARTIAL = 0  # the range could not be returned whole: carry on from LastMsgKey
HISTORY_COMPLETE = 1  # the requested range came back whole
HISTORY_EXPIRED = 2  # everything older has expired: nothing more to fetch

# Wire keys each command's typed request sets (``extra_body`` may not set them).
SEND_KEYS = frozenset(
    {
        "Official_Account",
        "Random",
        "MsgBody",
        "CloudCustomData",
        "OfflinePushInfo",
        "ForbidCallbackControl",
        "OnlineOnlyFlag",
        "SendMsgControl",
    }
)
HISTORY_KEYS = frozenset({"Official_Account", "ReqMsgNumber", "WithRecalledMsg", "LastMsgKey"})
RECALL_KEYS = frozenset({"Official_Account", "MsgKeyList", "Reason"})

FORBID_CALLBACKS = {
    "before": "ForbidBeforeSendMsgCallback",
    "after": "ForbidAfterSendMsgCallback",
}
"""``forbid_callbacks`` names (short or wire spelling) -> ``ForbidCallbackControl`` values."""


def check_msg_key(value: Any, arg: str = "msg_key") -> str:
    """A message key (``MsgKey``, ``"{seq}_1_{time}"``): a non-empty string."""
    key = check_str(value, arg)
    if not key:
        raise ValidationError(f"{arg} must not be empty", field=arg)
    return key


def check_forbid_callbacks(values: Any) -> list[str]:
    """``forbid_callbacks`` as the ``ForbidCallbackControl`` list (wire names, in a fixed order)."""
    allowed = {**FORBID_CALLBACKS, **{w: w for w in FORBID_CALLBACKS.values()}}
    chosen = set()
    for value in check_iterable(values, "forbid_callbacks"):
        if not isinstance(value, str) or value not in allowed:
            raise ValidationError(
                f"forbid_callbacks holds {value!r}; allowed: 'before', 'after' "
                f"(or {', '.join(FORBID_CALLBACKS.values())})",
                field="forbid_callbacks",
                limit=tuple(FORBID_CALLBACKS),
            )
        chosen.add(allowed[value])
    return [w for w in FORBID_CALLBACKS.values() if w in chosen]


def _offline_push(value: OfflinePush | Mapping[str, Any]) -> dict[str, Any]:
    from ._elements import OfflinePush

    if isinstance(value, OfflinePush):
        push = value.to_wire()
    elif isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        push = dict(value)
    else:
        raise ValidationError(
            "offline_push must be a tim_oa.OfflinePush or a dict of OfflinePushInfo keys",
            field="offline_push",
        )
    check_json(push, "offline_push")
    return push


def build_send(
    account_id: str,
    body: BodyLike,
    *,
    random: int,
    cloud_custom_data: str | None = None,
    offline_push: OfflinePush | Mapping[str, Any] | None = None,
    online_only: bool = False,
    no_last_msg: bool = False,
    forbid_callbacks: Iterable[str] | None = None,
    extra_body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate a broadcast and return the ``send_official_account_msg`` body.

    ``random`` becomes the body's ``Random``: the server drops a message with the same content and
    the same ``Random`` sent within 5 minutes, which is what makes a retry harmless.
    """
    from ._elements import to_msg_body

    request: dict[str, Any] = {
        "Official_Account": check_account_id(account_id),
        "Random": check_int(random, "random", minimum=0, maximum=L.U32_MAX),
    }
    msg_body = to_msg_body(body)
    size = len(check_json(msg_body, "body").encode("utf-8"))
    if size > L.MAX_MESSAGE_BYTES:
        raise ValidationError(
            f"body (MsgBody) is {size} bytes as JSON; the limit is {L.MAX_MESSAGE_BYTES} bytes",
            field="body",
            limit=L.MAX_MESSAGE_BYTES,
        )
    request["MsgBody"] = msg_body
    if cloud_custom_data is not None:
        request["CloudCustomData"] = check_str(
            cloud_custom_data, "cloud_custom_data", wire_key="CloudCustomData"
        )
    if offline_push is not None:
        request["OfflinePushInfo"] = _offline_push(offline_push)
    if forbid_callbacks is not None:
        forbid = check_forbid_callbacks(forbid_callbacks)
        if forbid:
            request["ForbidCallbackControl"] = forbid
    check_bool(online_only, "online_only")
    check_bool(no_last_msg, "no_last_msg")
    if online_only and no_last_msg:
        raise ValidationError(
            "online_only and no_last_msg cannot be combined (the API refuses "
            "OnlineOnlyFlag=1 with SendMsgControl NoLastMsg)",
            field="no_last_msg",
        )
    if online_only:
        request["OnlineOnlyFlag"] = 1
    if no_last_msg:
        request["SendMsgControl"] = ["NoLastMsg"]
    return merge_extra(request, extra_body, SEND_KEYS)


def parse_send(data: Mapping[str, Any]) -> SentMessage:
    """The :class:`SentMessage` of a ``send_official_account_msg`` answer.

    The broadcast was accepted (``ErrorCode`` 0), so an answer without a str ``MsgKey`` (or with
    a ``MsgTime`` that is not an int) raises ``MalformedResponseError`` with
    ``may_have_taken_effect`` True: do not send it again with a new ``Random``.
    """
    from ._converter import answer_field, malformed
    from ._models import SentMessage

    key = answer_field(data, "MsgKey", str, SEND, effect=True)
    time = answer_field(data, "MsgTime", int, SEND, effect=True)
    if not key:
        raise malformed(SEND, "MsgKey is missing", effect=True)
    return SentMessage(key, time)


def build_history_page(
    account_id: str, page_size: int, with_recalled: bool, last_msg_key: str | None
) -> dict[str, Any]:
    """Body of one ``official_account_msg_get_simple`` page (newest first, older from the key)."""
    body: dict[str, Any] = {"Official_Account": account_id, "ReqMsgNumber": page_size}
    if with_recalled:
        body["WithRecalledMsg"] = 1
    if last_msg_key is not None:
        body["LastMsgKey"] = last_msg_key
    return body


def parse_history_page(
    data: Mapping[str, Any], cursor: str | None, page_size: int
) -> Page[Message]:
    """One page of history; ``next_cursor`` is the ``LastMsgKey`` to continue from, or ``None``.

    The walk ends on an empty ``RspMsgList``, an empty ``LastMsgKey``, ``IsFinished`` 2 (older
    messages expired), or ``IsFinished`` 1 with fewer messages than asked for. ``IsFinished`` 0
    (a partial answer) carries on. Null fields of a message (placeholders) take the defaults.
    """
    from ._converter import answer_field, answer_list, structure_list
    from ._models import Message
    from ._pagination import Page

    raw = answer_list(data, "RspMsgList", HISTORY, effect=False)
    items = structure_list(raw, Message, "RspMsgList", HISTORY)
    next_key = answer_field(data, "LastMsgKey", str, HISTORY, effect=False)
    finished = answer_field(data, "IsFinished", int, HISTORY, effect=False)
    done = (
        not items
        or not next_key
        or finished == HISTORY_EXPIRED
        or (finished == HISTORY_COMPLETE and len(items) < page_size)
    )
    return Page(items, cursor, None if done else next_key)


def build_recall(account_id: str, msg_keys: Sequence[str], reason: str | None) -> dict[str, Any]:
    """Body of one ``official_account_msg_recall`` call (at most 10 keys)."""
    body: dict[str, Any] = {"Official_Account": account_id, "MsgKeyList": list(msg_keys)}
    if reason is not None:
        body["Reason"] = reason
    return body


def parse_recall(data: Mapping[str, Any], msg_keys: Sequence[str]) -> dict[str, int]:
    """Each requested key's ``RetCode`` from ``RecallRetList`` (0 recalled, else failed).

    Tencent's own sample answers a key one second off the one it was asked about, so: when the
    answer has one entry per requested key and its keys are not exactly the requested ones, the
    entries are matched by position; otherwise by key. A requested key with no entry is left out
    (a missing result). Items that are not ``{MsgKey: str, RetCode: int}`` objects, no
    ``RecallRetList`` at all, or a key answered twice with different codes (when matching by
    key) raise ``MalformedResponseError``.
    """
    from ._converter import answer_list, malformed, shown

    if "RecallRetList" not in data:
        raise malformed(RECALL, "RecallRetList is missing", effect=True)
    answered: list[tuple[str, int]] = []
    for position, item in enumerate(answer_list(data, "RecallRetList", RECALL, effect=True)):
        if type(item) is not dict:
            raise malformed(RECALL, f"RecallRetList[{position}] is not an object", effect=True)
        key, code = item.get("MsgKey"), item.get("RetCode")
        if type(key) is not str or type(code) is not int:
            raise malformed(
                RECALL,
                f"RecallRetList[{position}] needs a str MsgKey and an int RetCode, got "
                f"{type(key).__name__} and {type(code).__name__}",
                effect=True,
            )
        answered.append((key, code))
    by_key: dict[str, int] = {}
    conflict = None
    wanted = set(msg_keys)
    for key, code in answered:
        if by_key.setdefault(key, code) != code and key in wanted:
            conflict = key
    if len(answered) == len(msg_keys) and (conflict is not None or by_key.keys() != set(msg_keys)):
        return {asked: code for asked, (_, code) in zip(msg_keys, answered, strict=True)}
    if conflict is not None:
        raise malformed(
            RECALL, f"{shown(conflict)} is answered twice with different RetCodes", effect=True
        )
    return {key: by_key[key] for key in msg_keys if key in by_key}


class MessagesMixin(BaseSession):
    """Session methods for an account's messages."""

    async def send_message(
        self,
        account_id: str,
        body: BodyLike,
        *,
        random: int | None = None,
        cloud_custom_data: str | None = None,
        offline_push: OfflinePush | Mapping[str, Any] | None = None,
        online_only: bool = False,
        no_last_msg: bool = False,
        forbid_callbacks: Iterable[str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> SentMessage:
        """Broadcast a message to every subscriber of an account (``send_official_account_msg``).

        ``body`` is a ``str`` (a text message), a message element (:class:`TextElem`,
        :class:`CustomElem`, :class:`ImageElem`, …), a raw element dict
        ``{"MsgType": ..., "MsgContent": {...}}``, or a list of those; at most 12 KB as JSON.

        ``random`` is the message's ``Random`` (u32). When not given, one is drawn for this call.
        Every retry of the call reuses it, and the server drops the same content with the same
        ``Random`` within 5 minutes, so a retry cannot deliver the message twice. Pass your own
        to extend that guarantee across calls (e.g. a job restarted after a crash); pass a new one
        to send the same content again on purpose.

        ``cloud_custom_data`` is ``CloudCustomData``; ``offline_push`` an :class:`OfflinePush` (or
        a raw ``OfflinePushInfo`` dict); ``online_only`` sends only to online subscribers
        (``OnlineOnlyFlag``); ``no_last_msg`` leaves recent-contact lists alone
        (``SendMsgControl: ["NoLastMsg"]``). The API refuses the two together.
        ``forbid_callbacks`` is a collection of ``"before"`` and/or ``"after"`` (or the wire
        names): the app's before-send / after-send webhooks are not called for this message
        (``ForbidCallbackControl``). ``extra_body`` adds wire fields tim_oa does not model.

        Sends of one account are paced to the session's ``send_rate`` (default 1 per second).
        Tencent also caps broadcasts at 2 per hour per account; that cap is not enforced here.
        Returns the :class:`SentMessage` with the ``msg_key`` needed to recall it. An accepted
        send whose answer has no ``MsgKey`` raises :class:`MalformedResponseError`
        (``may_have_taken_effect``): the message may be out, so do not resend with a new random.
        """
        request = build_send(
            account_id,
            body,
            random=new_random() if random is None else random,
            cloud_custom_data=cloud_custom_data,
            offline_push=offline_push,
            online_only=online_only,
            no_last_msg=no_last_msg,
            forbid_callbacks=forbid_callbacks,
            extra_body=extra_body,
        )
        return parse_send(await self._request(SEND, request, pace_account=account_id))

    def messages(
        self,
        account_id: str,
        *,
        page_size: int = L.MAX_HISTORY_PAGE_SIZE,
        with_recalled: bool = False,
        last_msg_key: str | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> AsyncPager[Message]:
        """An account's message history, newest first (``official_account_msg_get_simple``).

        Pages of ``page_size`` (1 to 20, ``ReqMsgNumber``) are walked backwards with the
        ``LastMsgKey`` cursor. ``with_recalled`` includes recalled messages
        (``Message.is_recalled``). Pass a saved ``Page.next_cursor`` as ``last_msg_key`` to resume
        with the messages older than it. Input is checked now, before any request.
        """
        from ._pagination import AsyncPager

        check_account_id(account_id)
        check_page_size(page_size, maximum=L.MAX_HISTORY_PAGE_SIZE)
        check_bool(with_recalled, "with_recalled")
        if last_msg_key is not None:
            check_msg_key(last_msg_key, "last_msg_key")
        merge_extra({}, extra_body, HISTORY_KEYS)

        async def fetch(cursor: str | None) -> Page[Message]:
            body = build_history_page(account_id, page_size, with_recalled, cursor)
            body = merge_extra(body, extra_body, ())
            return parse_history_page(await self._request(HISTORY, body), cursor, page_size)

        return AsyncPager(fetch, last_msg_key, command=HISTORY)

    async def recall_messages(
        self,
        account_id: str,
        msg_keys: Iterable[str],
        *,
        reason: str | None = None,
        concurrency: int | None = None,
        on_progress: ProgressCallback | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> BatchResult:
        """Recall any number of an account's messages (``official_account_msg_recall``).

        ``msg_keys`` are ``MsgKey`` values (from ``send_message`` or ``messages``). They are
        checked, de-duplicated and sent in chunks of 10, ``concurrency`` chunks at a time
        (default: the session's ``max_concurrency``). Each key is ``succeeded`` (``RetCode`` 0) or
        ``failed``, with the ``RetCode`` as ``Outcome.code`` (e.g. 10030) or the error that sank
        its chunk. Answers are matched to keys by position when they have one entry per key
        (Tencent's sample answers a slightly different key), else by key. An error every chunk
        would hit (the account does not exist, the admin is refused) stops the job; keys not yet
        sent then fail with :class:`BatchAbortedError`. ``reason`` (``Reason``) is at most 100
        bytes. ``on_progress`` is called after each chunk (see :meth:`add_subscribers`).
        """
        from ._batch import RECALL_CODES, batch_workers, run_batch, stops_batch

        check_account_id(account_id)
        keys = check_id_list(msg_keys, "msg_keys", check_msg_key)
        if reason is not None:
            check_text(reason, "reason", "Reason")
        workers = batch_workers(self, concurrency)
        check_callback(on_progress, "on_progress")
        merge_extra({}, extra_body, RECALL_KEYS)

        async def send_chunk(chunk: Sequence[str]) -> dict[str, int]:
            body = merge_extra(build_recall(account_id, chunk, reason), extra_body, ())
            return parse_recall(await self._request(RECALL, body), chunk)

        return await run_batch(
            keys,
            chunk_size=L.MAX_MSG_KEYS_PER_RECALL,
            concurrency=workers,
            send_chunk=send_chunk,
            code_status=RECALL_CODES,
            on_progress=on_progress,
            stop_on=stops_batch,
            observe=(self, RECALL),
        )
