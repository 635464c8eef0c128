"""Message commands: broadcast, history, recall.

Pure ``build_*``/``parse_*`` functions plus the :class:`MessagesMixin` session methods. A broadcast
carries one ``Random`` chosen per logical send, so every retry of it is the same message to the
server's 5-minute duplicate filter; the URL ``random`` of each attempt stays fresh.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import _limits as L
from ._base import BaseSession
from ._batch import BatchResult, Outcome, ProgressCallback, Status, run_batch, stops_batch
from ._converter import structure
from ._elements import BodyLike, OfflinePush, to_msg_body
from ._errors import PaginationError, ValidationError
from ._models import Message, SentMessage
from ._pagination import AsyncPager, Page
from ._validation import (
    check_account_id,
    check_bool,
    check_concurrency,
    check_id_list,
    check_int,
    check_page_size,
    check_str,
    check_text,
)
from ._wire import new_random

SEND = "send_official_account_msg"
HISTORY = "official_account_msg_get_simple"
RECALL = "official_account_msg_recall"

# IsFinished values of a history page.
HISTORY_PARTIAL = 0  # the range could not be returned whole: carry on from LastMsgKey
HISTORY_COMPLETE = 1  # the requested range came back whole
HISTORY_EXPIRED = 2  # everything older has expired: nothing more to fetch


def check_msg_key(value: Any, arg: str = "msg_key") -> str:
    """A message key (``MsgKey``, ``"{seq}_1_{time}"``): a non-empty string."""
    key = check_str(value, arg)
    if not key:
        raise ValidationError(f"{arg} must not be empty", field=arg)
    return key


def _offline_push(value: OfflinePush | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(value, OfflinePush):
        return value.to_wire()
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return dict(value)
    raise ValidationError(
        "offline_push must be a tim_oa.OfflinePush or a dict of OfflinePushInfo keys",
        field="offline_push",
    )


def build_send(
    account_id: str,
    body: BodyLike,
    *,
    random: int,
    cloud_custom_data: str | None = None,
    offline_push: OfflinePush | Mapping[str, Any] | None = None,
    online_only: bool = False,
    no_last_msg: bool = False,
) -> dict[str, Any]:
    """Validate a broadcast and return the ``send_official_account_msg`` body.

    ``random`` becomes the body's ``Random``: the server drops a message with the same content and
    the same ``Random`` sent within 5 minutes, which is what makes a retry harmless.
    """
    request: dict[str, Any] = {
        "Official_Account": check_account_id(account_id),
        "Random": check_int(random, "random", minimum=0, maximum=L.U32_MAX),
    }
    msg_body = to_msg_body(body)
    try:
        encoded = json.dumps(msg_body, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"body is not JSON-serialisable: {exc}", field="body") from None
    size = len(encoded.encode("utf-8"))
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
    return request


def parse_send(data: dict[str, Any]) -> SentMessage:
    """The :class:`SentMessage` of a ``send_official_account_msg`` answer."""
    return structure(data, SentMessage)


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


def parse_history_page(data: dict[str, Any], cursor: str | None, page_size: int) -> Page[Message]:
    """One page of history; ``next_cursor`` is the ``LastMsgKey`` to continue from, or ``None``.

    The walk ends on an empty ``RspMsgList``, an empty ``LastMsgKey``, ``IsFinished`` 2 (older
    messages expired), or ``IsFinished`` 1 with fewer messages than asked for. ``IsFinished`` 0
    (a partial answer) carries on.
    """
    # Placeholder messages may come with null fields; a missing field takes the model default.
    items = tuple(
        structure({k: v for k, v in raw.items() if v is not None}, Message)
        for raw in data.get("RspMsgList") or []
        if isinstance(raw, dict)
    )
    next_key = data.get("LastMsgKey")
    finished = data.get("IsFinished")
    if next_key is not None and not isinstance(next_key, str):
        raise PaginationError(f"{HISTORY}: LastMsgKey is not a string: {next_key!r}")
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


def parse_recall(data: dict[str, Any]) -> dict[str, Outcome]:
    """Per-key outcomes from ``RecallRetList``: ``RetCode`` 0 succeeded, anything else failed."""
    outcomes: dict[str, Outcome] = {}
    for item in data.get("RecallRetList") or []:
        key = item.get("MsgKey")
        if isinstance(key, str):
            code = item.get("RetCode")
            status = Status.SUCCEEDED if code == 0 else Status.FAILED
            outcomes[key] = Outcome(key, status, code if isinstance(code, int) else None)
    return outcomes


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

        Sends of one account are paced to the session's ``send_rate`` (default 1 per second).
        Tencent also caps broadcasts at 2 per hour per account; that cap is not enforced here.
        Returns the :class:`SentMessage` with the ``msg_key`` needed to recall it.
        """
        request = build_send(
            account_id,
            body,
            random=new_random() if random is None else random,
            cloud_custom_data=cloud_custom_data,
            offline_push=offline_push,
            online_only=online_only,
            no_last_msg=no_last_msg,
        )
        await self._wait_send_slot(account_id)
        return parse_send(await self._request(SEND, request))

    def messages(
        self,
        account_id: str,
        *,
        page_size: int = L.MAX_HISTORY_PAGE_SIZE,
        with_recalled: bool = False,
        last_msg_key: str | None = None,
    ) -> AsyncPager[Message]:
        """An account's message history, newest first (``official_account_msg_get_simple``).

        Pages of ``page_size`` (1 to 20, ``ReqMsgNumber``) are walked backwards with the
        ``LastMsgKey`` cursor. ``with_recalled`` includes recalled messages
        (``Message.is_recalled``). Pass a saved ``Page.next_cursor`` as ``last_msg_key`` to resume
        with the messages older than it. Input is checked now, before any request.
        """
        check_account_id(account_id)
        check_page_size(page_size, maximum=L.MAX_HISTORY_PAGE_SIZE)
        check_bool(with_recalled, "with_recalled")
        if last_msg_key is not None:
            check_msg_key(last_msg_key, "last_msg_key")

        async def fetch(cursor: str | None) -> Page[Message]:
            body = build_history_page(account_id, page_size, with_recalled, cursor)
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
    ) -> BatchResult:
        """Recall any number of an account's messages (``official_account_msg_recall``).

        ``msg_keys`` are ``MsgKey`` values (from ``send_message`` or ``messages``). They are
        checked, de-duplicated and sent in chunks of 10, ``concurrency`` chunks at a time
        (default: the session's ``max_concurrency``). Each key is ``succeeded`` (``RetCode`` 0) or
        ``failed``, with the ``RetCode`` as ``Outcome.code`` (e.g. 10030) or the error that sank
        its chunk. An error every chunk would hit (the account does not exist, permission) stops
        the job; keys not yet sent then fail with :class:`BatchAbortedError`. ``reason``
        (``Reason``) is at most 100 bytes. ``on_progress`` is called after each chunk.
        """
        check_account_id(account_id)
        keys = check_id_list(msg_keys, "msg_keys", check_msg_key)
        if reason is not None:
            check_text(reason, "reason", "Reason")
        workers = self.max_concurrency if concurrency is None else check_concurrency(concurrency)

        async def send_chunk(chunk: Sequence[str]) -> dict[str, Outcome]:
            data = await self._request(RECALL, build_recall(account_id, chunk, reason))
            return parse_recall(data)

        return await run_batch(
            keys,
            chunk_size=L.MAX_MSG_KEYS_PER_RECALL,
            concurrency=workers,
            send_chunk=send_chunk,
            on_progress=on_progress,
            stop_on=stops_batch,
        )
