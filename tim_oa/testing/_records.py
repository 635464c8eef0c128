"""The emulator's records: the public immutable snapshots and the backend's mutable account.

``SubscriberRecord``, ``MessageRecord`` and ``AccountRecord`` are public (``tim_oa.testing``) and
frozen: the backend replaces them rather than mutating them, so a snapshot can share them.
``Account`` is the backend's own mutable account; it never leaves the emulator's lock except as an
``AccountRecord`` snapshot.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .. import _limits as L
from ._ratelimit import SendPacer

DEFAULT_MSG_FLAG: Final = L.MSG_FLAGS[0]  # "AcceptAndNotify" (INFERRED default)


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
    """Messages oldest first."""

    @property
    def subscriber_num(self) -> int:
        """The current number of subscribers."""
        return len(self.subscribers)


def is_valid_account_id(value: str) -> bool:
    """Whether ``value`` has the shape of an Official Account id (custom or generated)."""
    return (
        value.startswith(L.ACCOUNT_ID_PREFIX)
        and len(value) > len(L.ACCOUNT_ID_PREFIX)
        and len(value.encode("utf-8")) <= L.ACCOUNT_ID_MAX_BYTES
        and all(0x20 <= ord(ch) <= 0x7E for ch in value)
    )


@dataclass
class Account:
    """The backend's mutable account (never handed out; see ``snapshot``)."""

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
    """MsgKey -> position in ``messages``."""
    next_msg_seq: int = 1
    # (canonical MsgBody, Random) -> (time sent, MsgTime, MsgKey), plus arrival order for pruning.
    dedup: dict[tuple[str, int], tuple[float, int, str]] = field(default_factory=dict)
    dedup_order: collections.deque[tuple[float, tuple[str, int]]] = field(
        default_factory=collections.deque
    )

    @property
    def is_full(self) -> bool:
        """Whether the account holds as many subscribers as it may."""
        return len(self.subscribers) >= self.max_subscribers

    def field_value(self, name: str) -> object:
        """The value of one profile field, by wire name."""
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
        """An immutable copy."""
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
