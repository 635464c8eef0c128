"""The emulator's in-memory data and the twelve command handlers.

Everything here is synchronous and free of I/O: ``State.execute(command, body)`` takes a parsed
JSON body and returns the response fields (without the envelope) or raises ``Failure``. The caller
holds the emulator's lock.

Validation follows one rule everywhere: a missing required field or a value of the wrong JSON type
is 20001 (invalid request packet); a value of the right type that breaks a limit (byte length, list
size, range, unknown enum name) is 6017 (invalid parameter), with an ``ErrorInfo`` naming the field.
JSON ``null`` counts as a wrong type (INFERRED; it catches clients that send unset fields).
All shape and value checks run before any lookup, so a malformed request never reports 130004.

Choices the reference leaves open (all INFERRED) are noted where they are made.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import collections
import json
import random
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from .. import _limits as L
from .._codes import ErrorCode as C
from ._failure import Failure
from ._ratelimit import SendPacer

Body = dict[str, Any]

ALL_ACCOUNT_FIELDS: Final = (*L.ACCOUNT_FILTER_FIELDS, "MaxSubscriberNum")
"""Account fields returned when no ``OfficialAccountBaseInfoFilter`` is given."""

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
DEFAULT_MSG_FLAG: Final = L.MSG_FLAGS[0]  # "AcceptAndNotify" (INFERRED default)

_ID_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_ID_SUFFIX_LEN: Final = 8
_CURSOR_RE: Final = re.compile(r"sub:(\d{1,19})")


# --- public records (immutable; replaced, never mutated, so snapshots can share them) ---------


@dataclass(frozen=True)
class SubscriberRecord:
    """One user's subscription to one account."""

    user_id: str
    subscribe_time: int
    custom_string: str = ""
    msg_flag: str = DEFAULT_MSG_FLAG
    last_send_msg_time: int = 0
    seq: int = 0
    """Position in the account's subscription order (never reused)."""


@dataclass(frozen=True)
class MessageRecord:
    """One broadcast message. ``body`` is the ``MsgBody`` as sent; treat it as read-only."""

    seq: int
    key: str
    time: int
    random: int
    from_account: str
    body: list[Any]
    cloud_custom_data: str | None = None
    offline_push_info: dict[str, Any] | None = None
    online_only: bool = False
    send_msg_control: tuple[str, ...] = ()
    recalled: bool = False
    recall_reason: str | None = None


@dataclass(frozen=True)
class AccountRecord:
    """A snapshot of one Official Account, its subscribers and its messages."""

    account_id: str
    owner: str
    name: str
    introduction: str
    face_url: str
    organization: str
    custom_string: str
    max_subscribers: int
    create_time: int
    last_msg_time: int
    subscribers: Mapping[str, SubscriberRecord]
    """Subscribers by user id, in subscription order."""
    messages: tuple[MessageRecord, ...]
    """Messages oldest first (index ``seq - 1``)."""

    @property
    def subscriber_num(self) -> int:
        """The current number of subscribers."""
        return len(self.subscribers)


# --- internal mutable account -----------------------------------------------------------------


@dataclass
class _Account:
    account_id: str
    owner: str
    name: str
    create_time: int
    pacer: SendPacer
    introduction: str = ""
    face_url: str = ""
    organization: str = ""
    custom_string: str = ""
    max_subscribers: int = L.DEFAULT_MAX_SUBSCRIBERS
    last_msg_time: int = 0
    subscribers: dict[str, SubscriberRecord] = field(default_factory=dict)
    # Sorted subscription sequence numbers and their users: cursor paging is a bisect plus a
    # slice, and stays correct when subscribers leave between pages.
    sub_seqs: list[int] = field(default_factory=list)
    by_seq: dict[int, str] = field(default_factory=dict)
    next_sub_seq: int = 1
    messages: list[MessageRecord] = field(default_factory=list)
    msg_index: dict[str, int] = field(default_factory=dict)
    # (canonical MsgBody, Random) -> (time sent, message index), plus arrival order for pruning.
    dedup: dict[tuple[str, int], tuple[float, int]] = field(default_factory=dict)
    dedup_order: collections.deque[tuple[float, tuple[str, int]]] = field(
        default_factory=collections.deque
    )

    def field_value(self, name: str) -> object:
        values: dict[str, object] = {
            "CreateTime": self.create_time,
            "Name": self.name,
            "Owner_Account": self.owner,
            "LastMsgTime": self.last_msg_time,
            "SubscriberNum": len(self.subscribers),
            "Introduction": self.introduction,
            "FaceUrl": self.face_url,
            "Organization": self.organization,
            "CustomString": self.custom_string,
            "MaxSubscriberNum": self.max_subscribers,
        }
        return values[name]

    def snapshot(self) -> AccountRecord:
        return AccountRecord(
            account_id=self.account_id,
            owner=self.owner,
            name=self.name,
            introduction=self.introduction,
            face_url=self.face_url,
            organization=self.organization,
            custom_string=self.custom_string,
            max_subscribers=self.max_subscribers,
            create_time=self.create_time,
            last_msg_time=self.last_msg_time,
            subscribers=dict(self.subscribers),
            messages=tuple(self.messages),
        )


# --- body readers -----------------------------------------------------------------------------


def _missing(name: str) -> Failure:
    return Failure(C.INVALID_REQUEST_PACKET, f"{name} is required")


def _wrong_type(name: str, expected: str) -> Failure:
    return Failure(C.INVALID_REQUEST_PACKET, f"{name} must be {expected}")


def _invalid(name: str, why: str) -> Failure:
    return Failure(C.INVALID_PARAMETER, f"{name} {why}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _opt_str(body: Body, name: str) -> str | None:
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, str):
        raise _wrong_type(name, "a string")
    return value


def _req_str(body: Body, name: str) -> str:
    value = _opt_str(body, name)
    if value is None:
        raise _missing(name)
    return value


def _opt_int(body: Body, name: str) -> int | None:
    if name not in body:
        return None
    value = body[name]
    if not _is_int(value):
        raise _wrong_type(name, "an integer")
    return int(value)


def _opt_list(body: Body, name: str) -> list[Any] | None:
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, list):
        raise _wrong_type(name, "an array")
    return value


def _req_list(body: Body, name: str) -> list[Any]:
    value = _opt_list(body, name)
    if value is None:
        raise _missing(name)
    return value


def _opt_object(body: Body, name: str) -> dict[str, Any] | None:
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, dict):
        raise _wrong_type(name, "an object")
    return value


def _str_list(name: str, items: list[Any]) -> list[str]:
    if not all(isinstance(item, str) for item in items):
        raise _wrong_type(name, "an array of strings")
    return items


def _check_count(name: str, items: list[Any], maximum: int) -> None:
    if not 1 <= len(items) <= maximum:
        raise _invalid(name, f"must hold 1..{maximum} items, got {len(items)}")


def _check_bytes(name: str, value: str, *, allow_empty: bool = True) -> str:
    limit = L.FIELD_MAX_BYTES[name]
    size = len(value.encode("utf-8"))
    if size > limit:
        raise _invalid(name, f"is {size} bytes, over the {limit}-byte limit")
    if not allow_empty and not value:
        raise _invalid(name, "must not be empty")
    return value


def _check_user_id(name: str, value: str) -> str:
    size = len(value.encode("utf-8"))
    if not 1 <= size <= L.USER_ID_MAX_BYTES:
        raise _invalid(name, f"must be 1..{L.USER_ID_MAX_BYTES} bytes, got {size}")
    return value


def _user_items(name: str, items: list[Any]) -> list[str]:
    """Read ``[{"Subscriber_Account": uid}, ...]``."""
    users = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("Subscriber_Account"), str):
            raise _wrong_type(name, 'an array of {"Subscriber_Account": string} objects')
        users.append(_check_user_id("Subscriber_Account", item["Subscriber_Account"]))
    return users


def _limit(body: Body, name: str, default: int, maximum: int) -> int:
    value = _opt_int(body, name)
    if value is None:
        return default
    if not 1 <= value <= maximum:
        raise _invalid(name, f"must be in 1..{maximum}, got {value}")
    return value


def _flag(body: Body, name: str) -> int:
    value = _opt_int(body, name)
    if value is None:
        return 0
    if value not in (0, 1):
        raise _invalid(name, f"must be 0 or 1, got {value}")
    return value


def is_valid_account_id(value: str) -> bool:
    """Whether ``value`` has the shape of an Official Account id (custom or generated)."""
    return (
        value.startswith(L.ACCOUNT_ID_PREFIX)
        and len(value) > len(L.ACCOUNT_ID_PREFIX)
        and len(value.encode("utf-8")) <= L.ACCOUNT_ID_MAX_BYTES
        and all(0x20 <= ord(ch) <= 0x7E for ch in value)
    )


def _account_id(body: Body, name: str = "Official_Account") -> str:
    value = _req_str(body, name)
    if not is_valid_account_id(value):
        raise Failure(C.OA_ID_INVALID, f"{name} is not a valid Official Account id")
    return value


def _filter(
    body: Body, group: str, allowed: tuple[str, ...], everything: tuple[str, ...]
) -> tuple[str, ...]:
    """Read one ``ResponseFilter`` group; absent or empty means every field (INFERRED for [])."""
    response_filter = _opt_object(body, "ResponseFilter")
    if response_filter is None or group not in response_filter:
        return everything
    names = response_filter[group]
    if not isinstance(names, list):
        raise _wrong_type(f"ResponseFilter.{group}", "an array")
    for name in _str_list(f"ResponseFilter.{group}", names):
        if name not in allowed:
            raise _invalid(f"ResponseFilter.{group}", f"has an unknown field {name!r}")
    if not names:
        return everything
    return tuple(dict.fromkeys(names))


def encode_cursor(seq: int) -> str:
    """The opaque ``Next`` cursor of ``get_subscriber_info``: the next subscription seq."""
    return base64.b64encode(f"sub:{seq}".encode("ascii")).decode("ascii")


def _decode_cursor(cursor: str) -> int:
    try:
        match = _CURSOR_RE.fullmatch(base64.b64decode(cursor, validate=True).decode("ascii"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        match = None
    if match is None:
        raise _invalid("Next", "is not a cursor returned by get_subscriber_info")
    return int(match.group(1))


def _canonical_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def message_size(msg_body: object) -> int:
    """The size checked against the 12 KB limit: compact UTF-8 JSON of ``MsgBody``."""
    return len(json.dumps(msg_body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


# --- the state --------------------------------------------------------------------------------


class State:
    """All accounts, subscriptions and messages of one emulated app.

    Not thread-safe on its own: the emulator calls it under its lock. Options are plain attributes
    and may be changed between requests.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        seed: int = 0,
        known_users: Collection[str] | None = None,
        max_accounts_per_subscriber: int | None = None,
        send_per_second: float | None = L.SENDS_PER_SECOND_PER_ACCOUNT,
        broadcasts_per_hour: int | None = L.BROADCASTS_PER_HOUR_PER_ACCOUNT,
    ) -> None:
        self.clock = clock
        self.seed = seed
        self.known_users = known_users
        self.max_accounts_per_subscriber = max_accounts_per_subscriber
        self.send_per_second = send_per_second
        self.broadcasts_per_hour = broadcasts_per_hour
        self.accounts: dict[str, _Account] = {}
        self.tombstones: set[str] = set()
        self.user_index: dict[str, set[str]] = {}
        self._id_rng = random.Random(f"tim_oa.testing/ids/{seed}")
        self._handlers: dict[str, Callable[[Body], Body]] = {
            "create_official_account": self._create,
            "destroy_official_account": self._destroy,
            "modify_official_account_base_info": self._modify,
            "get_official_account_info": self._get_info,
            "get_subscriber_info": self._get_subscribers,
            "add_subscriber": self._add_subscribers,
            "delete_subscriber": self._delete_subscribers,
            "modify_subscriber_info": self._modify_subscriber,
            "get_subscribed_official_account_list": self._get_subscribed,
            "send_official_account_msg": self._send,
            "official_account_msg_get_simple": self._history,
            "official_account_msg_recall": self._recall,
        }
        assert set(self._handlers) == set(L.COMMANDS)

    def reset(self) -> None:
        """Drop every account and re-seed id generation."""
        self.accounts.clear()
        self.tombstones.clear()
        self.user_index.clear()
        self._id_rng = random.Random(f"tim_oa.testing/ids/{self.seed}")

    def execute(self, command: str, body: Body) -> Body:
        """Run one command; return the response fields or raise ``Failure``."""
        handler = self._handlers.get(command)
        if handler is None:
            raise Failure(C.INVALID_COMMAND, f"unknown command {command!r}")
        return handler(body)

    def snapshot(self) -> dict[str, AccountRecord]:
        """Immutable copies of every live account."""
        return {aid: account.snapshot() for aid, account in self.accounts.items()}

    # -- helpers --

    def _now(self) -> int:
        return int(self.clock())

    def _lookup(self, account_id: str) -> _Account:
        account = self.accounts.get(account_id)
        if account is None:
            raise Failure(C.OA_NOT_FOUND, f"Official Account {account_id} does not exist")
        return account

    def _is_known(self, user_id: str) -> bool:
        return self.known_users is None or user_id in self.known_users

    def _at_subscription_cap(self, user_id: str) -> bool:
        cap = self.max_accounts_per_subscriber
        return cap is not None and len(self.user_index.get(user_id, ())) >= cap

    def _generate_id(self) -> str:
        while True:
            suffix = "".join(self._id_rng.choices(_ID_ALPHABET, k=_ID_SUFFIX_LEN))
            candidate = L.GENERATED_ID_PREFIX + suffix
            if candidate not in self.accounts and candidate not in self.tombstones:
                return candidate

    def _subscribe(self, account: _Account, user_id: str, now: int) -> None:
        seq = account.next_sub_seq
        account.next_sub_seq += 1
        account.subscribers[user_id] = SubscriberRecord(user_id, now, seq=seq)
        account.sub_seqs.append(seq)  # seqs only grow, so the list stays sorted
        account.by_seq[seq] = user_id
        self.user_index.setdefault(user_id, set()).add(account.account_id)

    def _unsubscribe(self, account: _Account, user_id: str) -> None:
        record = account.subscribers.pop(user_id)
        del account.sub_seqs[bisect.bisect_left(account.sub_seqs, record.seq)]
        del account.by_seq[record.seq]
        subscribed = self.user_index[user_id]
        subscribed.discard(account.account_id)
        if not subscribed:
            del self.user_index[user_id]

    # -- 1. create_official_account --

    def _create(self, body: Body) -> Body:
        owner = _check_user_id("Owner_Account", _req_str(body, "Owner_Account"))
        name = _check_bytes("Name", _req_str(body, "Name"), allow_empty=False)
        texts = {
            key: _check_bytes(key, value)
            for key in ("Introduction", "FaceUrl", "Organization", "CustomString")
            if (value := _opt_str(body, key)) is not None
        }
        max_subscribers = _opt_int(body, "MaxSubscriberNum")
        if max_subscribers is not None and max_subscribers < 1:
            raise _invalid("MaxSubscriberNum", "must be a positive integer")
        custom_id = _opt_str(body, "OfficialAccountUserID")
        if custom_id is not None and (
            not is_valid_account_id(custom_id) or custom_id.startswith(L.GENERATED_ID_PREFIX)
        ):
            raise Failure(
                C.OA_ID_INVALID,
                "OfficialAccountUserID must be printable ASCII, at most "
                f"{L.ACCOUNT_ID_MAX_BYTES} bytes, start with {L.ACCOUNT_ID_PREFIX} and not "
                f"with {L.GENERATED_ID_PREFIX}",
            )
        if not self._is_known(owner):
            raise Failure(C.ACCOUNT_NOT_IMPORTED, "Owner_Account is not an imported account")
        if custom_id is not None and (custom_id in self.accounts or custom_id in self.tombstones):
            # A destroyed id stays taken (INFERRED from 130008's meaning).
            raise Failure(C.OA_ID_IN_USE, "OfficialAccountUserID is already in use")
        account_id = custom_id if custom_id is not None else self._generate_id()
        account = _Account(
            account_id=account_id,
            owner=owner,
            name=name,
            create_time=self._now(),
            pacer=SendPacer(self.send_per_second, self.broadcasts_per_hour),
            introduction=texts.get("Introduction", ""),
            face_url=texts.get("FaceUrl", ""),
            organization=texts.get("Organization", ""),
            custom_string=texts.get("CustomString", ""),
            max_subscribers=max_subscribers or L.DEFAULT_MAX_SUBSCRIBERS,
        )
        self.accounts[account_id] = account
        return {"OfficialAccountUserID": account_id}

    # -- 2. destroy_official_account --

    def _destroy(self, body: Body) -> Body:
        account = self._lookup(_account_id(body))
        for user_id in list(account.subscribers):
            self._unsubscribe(account, user_id)
        del self.accounts[account.account_id]
        self.tombstones.add(account.account_id)
        return {}

    # -- 3. modify_official_account_base_info --

    def _modify(self, body: Body) -> Body:
        account_id = _account_id(body)
        texts = {
            key: _check_bytes(key, value, allow_empty=key != "Name")
            for key in ("Name", "Introduction", "FaceUrl", "Organization", "CustomString")
            if (value := _opt_str(body, key)) is not None
        }
        max_subscribers = _opt_int(body, "MaxSubscriberNum")
        if max_subscribers is not None and max_subscribers < 1:
            raise _invalid("MaxSubscriberNum", "must be a positive integer")
        if not texts and max_subscribers is None:
            raise _invalid("body", "has no field to modify")
        account = self._lookup(account_id)
        account.name = texts.get("Name", account.name)
        account.introduction = texts.get("Introduction", account.introduction)
        account.face_url = texts.get("FaceUrl", account.face_url)
        account.organization = texts.get("Organization", account.organization)
        account.custom_string = texts.get("CustomString", account.custom_string)
        if max_subscribers is not None:
            # Lowering it below SubscriberNum is accepted and evicts nobody (INFERRED); the
            # account then refuses new subscribers until it is under the cap again.
            account.max_subscribers = max_subscribers
        return {}

    # -- 4. get_official_account_info --

    def _get_info(self, body: Body) -> Body:
        items = _req_list(body, "OfficialAccountIdList")
        _check_count("OfficialAccountIdList", items, L.MAX_ACCOUNTS_PER_INFO_CALL)
        ids = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("Official_Account"), str):
                raise _wrong_type(
                    "OfficialAccountIdList", 'an array of {"Official_Account": string} objects'
                )
            ids.append(item["Official_Account"])
        fields = _filter(
            body, "OfficialAccountBaseInfoFilter", L.ACCOUNT_FILTER_FIELDS, ALL_ACCOUNT_FIELDS
        )
        result = []
        for account_id in ids:
            entry: Body = {"Official_Account": account_id}
            account = self.accounts.get(account_id)
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

    def _get_subscribers(self, body: Body) -> Body:
        account_id = _account_id(body)
        limit = _limit(body, "Limit", L.MAX_PAGE_SIZE, L.MAX_PAGE_SIZE)
        cursor = _opt_str(body, "Next") or ""  # absent Next reads as the first page (INFERRED)
        start_seq = _decode_cursor(cursor) if cursor else 0
        account = self._lookup(account_id)
        start = bisect.bisect_left(account.sub_seqs, start_seq)
        seqs = account.sub_seqs[start : start + limit]
        page = []
        for seq in seqs:
            record = account.subscribers[account.by_seq[seq]]
            page.append(
                {
                    "Subscriber_Account": record.user_id,
                    "SubscribeTime": record.subscribe_time,
                    "CustomString": record.custom_string,
                    "MsgFlag": record.msg_flag,
                    "LastSendMsgTime": record.last_send_msg_time,
                }
            )
        after = start + limit
        next_cursor = (
            encode_cursor(account.sub_seqs[after]) if after < len(account.sub_seqs) else ""
        )
        return {
            "Next": next_cursor,
            "SubscriberNum": len(account.subscribers),
            "SubscriberList": page,
        }

    # -- 6. add_subscriber --

    def _add_subscribers(self, body: Body) -> Body:
        account_id = _account_id(body)
        items = _req_list(body, "SubscriberList")
        _check_count("SubscriberList", items, L.MAX_SUBSCRIBERS_PER_ADD)
        users = _user_items("SubscriberList", items)
        account = self._lookup(account_id)
        if len(account.subscribers) >= account.max_subscribers:
            raise Failure(C.OA_SUBSCRIBER_LIMIT, "the Official Account is full")
        # Mirroring 130006: when every user in the request is a new subscriber already at the
        # per-user cap, the whole request fails with 130010; otherwise those users get Result 0
        # (INFERRED).
        if all(
            user not in account.subscribers and self._at_subscription_cap(user) for user in users
        ):
            raise Failure(C.OA_SUBSCRIPTION_LIMIT, "the users subscribe to too many accounts")
        now = self._now()
        results = []
        for user in users:
            if user in account.subscribers:
                result = 2
            elif (
                not self._is_known(user)
                or len(account.subscribers) >= account.max_subscribers
                or self._at_subscription_cap(user)
            ):
                result = 0
            else:
                self._subscribe(account, user, now)
                result = 1
            results.append({"Subscriber_Account": user, "Result": result})
        return {"SubscriberList": results}

    # -- 7. delete_subscriber --

    def _delete_subscribers(self, body: Body) -> Body:
        account_id = _account_id(body)
        if "SubscriberToDel_Account" in body:
            name = "SubscriberToDel_Account"
            users = _str_list(name, _req_list(body, name))
            _check_count(name, users, L.MAX_SUBSCRIBERS_PER_DELETE)
            users = [_check_user_id(name, user) for user in users]
        elif "SubscriberList" in body:
            # The shape one production client sends; accepted too (reference §4.7).
            items = _req_list(body, "SubscriberList")
            _check_count("SubscriberList", items, L.MAX_SUBSCRIBERS_PER_DELETE)
            users = _user_items("SubscriberList", items)
        else:
            raise _missing("SubscriberToDel_Account")
        account = self._lookup(account_id)
        results = []
        for user in users:
            if user in account.subscribers:
                self._unsubscribe(account, user)
                result = 1
            elif not self._is_known(user):
                result = 0  # not an imported account (INFERRED)
            else:
                result = 2
            results.append({"Subscriber_Account": user, "Result": result})
        return {"SubscriberList": results}

    # -- 8. modify_subscriber_info --

    def _modify_subscriber(self, body: Body) -> Body:
        account_id = _account_id(body)
        user = _check_user_id("Subscriber_Account", _req_str(body, "Subscriber_Account"))
        custom = _check_bytes("CustomString", _req_str(body, "CustomString"))
        account = self._lookup(account_id)
        record = account.subscribers.get(user)
        if record is None:
            raise _invalid("Subscriber_Account", "does not subscribe to this Official Account")
        account.subscribers[user] = replace(record, custom_string=custom)
        return {}

    # -- 9. get_subscribed_official_account_list --

    def _get_subscribed(self, body: Body) -> Body:
        user = _check_user_id("Subscriber_Account", _req_str(body, "Subscriber_Account"))
        limit = _limit(body, "Limit", L.MAX_PAGE_SIZE, L.MAX_PAGE_SIZE)
        offset = _opt_int(body, "Offset") or 0
        if offset < 0:
            raise _invalid("Offset", f"must not be negative, got {offset}")
        account_fields = _filter(
            body, "OfficialAccountBaseInfoFilter", L.ACCOUNT_FILTER_FIELDS, ALL_ACCOUNT_FIELDS
        )
        self_fields = _filter(
            body, "SelfInfoFilter", L.SELF_INFO_FILTER_FIELDS, L.SELF_INFO_FILTER_FIELDS
        )
        # Ordered by subscription time, then id (INFERRED); a user who subscribes to nothing (or
        # is unknown) simply has an empty list.
        subscribed = sorted(
            (self.accounts[aid].subscribers[user].subscribe_time, aid)
            for aid in self.user_index.get(user, ())
        )
        page = subscribed[offset : offset + limit]
        items = []
        for _, account_id in page:
            account = self.accounts[account_id]
            record = account.subscribers[user]
            self_values = {
                "SubscribeTime": record.subscribe_time,
                "CustomString": record.custom_string,
            }
            item: Body = {"Official_Account": account_id}
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

    def _send(self, body: Body) -> Body:
        account_id = _account_id(body)
        msg_random = _opt_int(body, "Random")
        if msg_random is None:
            raise (
                _missing("Random") if "Random" not in body else _wrong_type("Random", "an integer")
            )
        if not 0 <= msg_random <= L.U32_MAX:
            raise _invalid("Random", "must be an unsigned 32-bit integer")
        msg_body = _req_list(body, "MsgBody")
        if not msg_body:
            raise _invalid("MsgBody", "must hold at least one element")
        for element in msg_body:
            if not isinstance(element, dict) or not isinstance(element.get("MsgType"), str):
                raise _wrong_type("MsgBody", 'an array of {"MsgType", "MsgContent"} objects')
            if element["MsgType"] not in MESSAGE_TYPES:
                raise _invalid("MsgBody", f"has an unknown MsgType {element['MsgType']!r}")
            if not isinstance(element.get("MsgContent"), dict):
                raise _wrong_type("MsgBody.MsgContent", "an object")
        size = message_size(msg_body)
        if size > L.MAX_MESSAGE_BYTES:
            raise _invalid("MsgBody", f"is {size} bytes, over the {L.MAX_MESSAGE_BYTES}-byte limit")
        cloud_custom_data = _opt_str(body, "CloudCustomData")
        offline_push_info = _opt_object(body, "OfflinePushInfo")
        forbid = _str_list("ForbidCallbackControl", _opt_list(body, "ForbidCallbackControl") or [])
        if unknown := set(forbid) - FORBID_CALLBACK_CONTROLS:
            raise _invalid("ForbidCallbackControl", f"has unknown values {sorted(unknown)}")
        online_only = _flag(body, "OnlineOnlyFlag")
        controls = _str_list("SendMsgControl", _opt_list(body, "SendMsgControl") or [])
        if unknown := set(controls) - SEND_MSG_CONTROLS:
            raise _invalid("SendMsgControl", f"has unknown values {sorted(unknown)}")
        if online_only and "NoLastMsg" in controls:
            raise _invalid("SendMsgControl", "NoLastMsg cannot be combined with OnlineOnlyFlag=1")
        account = self._lookup(account_id)

        now = self.clock()
        # Same MsgBody and Random within the window: answer with the original message and store
        # nothing (INFERRED: Tencent only says the later one is "discarded"). This is what makes a
        # retried send with the same Random safe.
        window = L.SEND_DEDUP_WINDOW_SECONDS
        while account.dedup_order and now - account.dedup_order[0][0] >= window:
            sent_at, old_key = account.dedup_order.popleft()
            if account.dedup.get(old_key, (None,))[0] == sent_at:
                del account.dedup[old_key]
        dedup_key = (_canonical_json(msg_body), msg_random)
        if (hit := account.dedup.get(dedup_key)) is not None:
            original = account.messages[hit[1]]
            return {"MsgTime": original.time, "MsgKey": original.key}

        # Which codes the pacing limits return is not published (INFERRED: 60018, 60019).
        broken = account.pacer.check(now)
        if broken == "per_second":
            raise Failure(C.TOO_MANY_REQUESTS, "this Official Account sends too fast; retry later")
        if broken == "per_hour":
            raise Failure(
                C.TOO_MANY_REQUESTS_2, "this Official Account reached its broadcasts per hour"
            )

        seq = len(account.messages) + 1
        msg_time = int(now)
        message = MessageRecord(
            seq=seq,
            key=f"{seq}_1_{msg_time}",
            time=msg_time,
            random=msg_random,
            from_account=account_id,
            body=msg_body,
            cloud_custom_data=cloud_custom_data,
            offline_push_info=offline_push_info,
            online_only=bool(online_only),
            send_msg_control=tuple(controls),
        )
        account.messages.append(message)
        account.msg_index[message.key] = seq - 1
        account.pacer.record(now)
        account.dedup[dedup_key] = (now, seq - 1)
        account.dedup_order.append((now, dedup_key))
        account.last_msg_time = msg_time
        return {"MsgTime": msg_time, "MsgKey": message.key}

    # -- 11. official_account_msg_get_simple --

    def _history(self, body: Body) -> Body:
        account_id = _account_id(body)
        last_key = _opt_str(body, "LastMsgKey") or ""  # "" reads as the first page (INFERRED)
        wanted = _opt_int(body, "ReqMsgNumber")
        if wanted is None:
            wanted = L.MAX_HISTORY_PAGE_SIZE
        if wanted <= 0:
            raise _invalid("ReqMsgNumber", f"must be positive, got {wanted}")
        with_recalled = _flag(body, "WithRecalledMsg")
        account = self._lookup(account_id)
        if last_key:
            position = account.msg_index.get(last_key)
            if position is None:
                raise _invalid("LastMsgKey", "is not a message of this Official Account")
        else:
            position = len(account.messages)
        count = min(wanted, L.MAX_HISTORY_PAGE_SIZE)
        picked: list[MessageRecord] = []
        index = position - 1
        while index >= 0 and len(picked) < count:
            message = account.messages[index]
            if with_recalled or not message.recalled:
                picked.append(message)
            index -= 1
        items = []
        for message in picked:
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
            items.append(item)
        return {
            "Official_Account": account_id,
            # Asking for more than a page is "could not return the whole range".
            "IsFinished": 1 if wanted <= L.MAX_HISTORY_PAGE_SIZE else 0,
            "LastMsgKey": picked[-1].key if picked else "",
            "RspMsgList": items,
        }

    # -- 12. official_account_msg_recall --

    def _recall(self, body: Body) -> Body:
        account_id = _account_id(body)
        keys = _str_list("MsgKeyList", _req_list(body, "MsgKeyList"))
        _check_count("MsgKeyList", keys, L.MAX_MSG_KEYS_PER_RECALL)
        reason = _opt_str(body, "Reason")
        if reason is not None:
            _check_bytes("Reason", reason)
        account = self._lookup(account_id)
        results = []
        for key in keys:
            position = account.msg_index.get(key)
            if position is None:
                # 10030 for a key this account never sent; MsgSeq 0 (INFERRED).
                results.append(
                    {"MsgKey": key, "RetCode": int(C.MESSAGE_NOT_RECALLABLE), "MsgSeq": 0}
                )
                continue
            message = account.messages[position]
            if not message.recalled:
                account.messages[position] = replace(message, recalled=True, recall_reason=reason)
            # Recalling twice succeeds again: the message is recalled either way (INFERRED).
            results.append({"MsgKey": key, "RetCode": 0, "MsgSeq": message.seq})
        return {"RecallRetList": results}
