"""The eleven Official Account callbacks as typed, frozen events.

Each field names its wire key and its reader in its metadata (``wire("Official_Account", _str)``);
:func:`build_event` reads a body through that table alone. Reading is tolerant, as the reference
advises (§1.8): unknown keys are ignored, a documented key that is absent (or ``null``) leaves the
field at its default (``None`` or an empty tuple), integers may arrive as JSON numbers or numeric
strings. A key that is present with the wrong JSON type is a malformed body
(``WebhookError(reason="body")``). With ``strict=True`` every documented key must be present,
except the ones the reference itself calls optional (the four profile fields of
``AfterAccountInfoChanged`` and ``CloudCustomData`` of ``BeforeSendMessage``).

Events are plain values: build one yourself to unit-test a handler, e.g.
``BeforeAddSubscriber(official_account="@TOA#_news", user_ids=("alice",))``.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final

import attrs

from .._elements import Element, parse_msg_body
from .._errors import WebhookError
from ._answers import Allow, Answer, Drop, Refuse, RefuseSubscribers, ReplaceMessage

_INT_RE: Final = re.compile(r"-?[0-9]{1,19}")
_INT64: Final = range(-(2**63), 2**63)
_EPOCH: Final = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

Reader = Callable[[Any, str], Any]


def _bad(key: str, expected: str, value: Any) -> WebhookError:
    return WebhookError(
        f"malformed callback body: {key} must be {expected}, not {type(value).__name__}",
        reason="body",
    )


def _str(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise _bad(key, "a string", value)
    return value


def _int(value: Any, key: str) -> int:
    if isinstance(value, str) and _INT_RE.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in _INT64:
        raise _bad(key, "a 64-bit integer (or a numeric string)", value)
    return value


def _flag(value: Any, key: str) -> bool:
    return _int(value, key) != 0


def _objects(value: Any, key: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise _bad(key, "an array of objects", value)
    return value


def _item_strings(item_key: str) -> Reader:
    def read(value: Any, key: str) -> tuple[str, ...]:
        out = []
        for index, item in enumerate(_objects(value, key)):
            out.append(_str(item.get(item_key), f"{key}[{index}].{item_key}"))
        return tuple(out)

    return read


def _msg_body(value: Any, key: str) -> tuple[dict[str, Any], ...]:
    return tuple(dict(item) for item in _objects(value, key))


def wire(key: str, read: Reader, default: Any = None, *, optional: bool = False) -> Any:
    """Declare an event field with its wire key and reader (``optional``: absent even if strict)."""
    meta = {"wire": key, "read": read, "optional": optional}
    if isinstance(default, tuple):
        return attrs.field(default=default, metadata=meta, hash=False)
    return attrs.field(default=default, metadata=meta)


@attrs.frozen(kw_only=True)
class CallbackContext:
    """What the callback URL's query string said (reference §1.2), besides the signature.

    Attributes:
        sdkappid: ``SdkAppid``, already checked against yours.
        command: ``CallbackCommand`` of the query (the body's is the event's ``command``).
        client_ip: ``ClientIP``, the address of the client that caused the event.
        opt_platform: ``OptPlatform``, an open string: ``RESTAPI``, ``Web``, ``Android``,
            ``iOS``, ``Windows``, ``Mac`` (``macOS`` on English pages), ``iPad``, ``Unknown``, or
            anything Tencent adds.
        content_type: ``contenttype`` (documented as ``json``).
        request_time: ``RequestTime``, Unix seconds (sent when authentication is on).
        authenticated: True when ``Sign`` was checked against your token.
    """

    sdkappid: int | None = None
    command: str | None = None
    client_ip: str | None = None
    opt_platform: str | None = None
    content_type: str | None = None
    request_time: int | None = None
    authenticated: bool = False


@attrs.frozen(kw_only=True)
class Event:
    """Base class of the eleven callback events.

    Attributes:
        event_time: ``EventTime``, Unix milliseconds (see also :attr:`event_datetime`).
        context: the query parameters (:class:`CallbackContext`).
        raw: the body as received (a dict), unknown keys included.

    Class attributes: ``command`` (the wire ``CallbackCommand``), ``is_before`` (Tencent waits for
    the answer and acts on it) and ``answers`` (the answer classes a handler may return).
    """

    command: ClassVar[str] = ""
    is_before: ClassVar[bool] = False
    answers: ClassVar[tuple[type[Answer], ...]] = (Allow,)

    event_time: int | None = wire("EventTime", _int)
    context: CallbackContext = attrs.field(factory=CallbackContext)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, hash=False)

    @property
    def event_datetime(self) -> datetime.datetime | None:
        """``event_time`` as an aware UTC datetime (None when absent or out of range)."""
        if self.event_time is None:
            return None
        try:
            return _EPOCH + datetime.timedelta(milliseconds=self.event_time)
        except OverflowError:
            return None


_BEFORE_ANSWERS: Final = (Allow, Refuse)


@attrs.frozen(kw_only=True)
class BeforeCreateAccount(Event):
    """``OfficialAccount.CallbackBeforeCreateOfficialAccount``: an account is about to be created.

    Answers: ``Allow``, ``Refuse`` (code 1: the caller gets 20006; or a custom code). No account
    id is sent, even for a custom one.
    """

    command: ClassVar[str] = "OfficialAccount.CallbackBeforeCreateOfficialAccount"
    is_before: ClassVar[bool] = True
    answers: ClassVar[tuple[type[Answer], ...]] = _BEFORE_ANSWERS

    operator: str | None = wire("Operator_Account", _str)
    owner: str | None = wire("Owner_Account", _str)
    name: str | None = wire("Name", _str)


@attrs.frozen(kw_only=True)
class AfterCreateAccount(Event):
    """``OfficialAccount.CallbackAfterCreateOfficialAccount``: an account was created."""

    command: ClassVar[str] = "OfficialAccount.CallbackAfterCreateOfficialAccount"

    official_account: str | None = wire("Official_Account", _str)
    operator: str | None = wire("Operator_Account", _str)
    owner: str | None = wire("Owner_Account", _str)
    name: str | None = wire("Name", _str)


@attrs.frozen(kw_only=True)
class AfterAccountInfoChanged(Event):
    """``OfficialAccount.CallbackAfterOfficialAccountInfoChanged``: a profile was modified.

    The four profile fields hold the values after the change; whether unchanged ones are left
    out is UNCERTAIN, so each may be ``None`` even with ``strict=True``.
    """

    command: ClassVar[str] = "OfficialAccount.CallbackAfterOfficialAccountInfoChanged"

    official_account: str | None = wire("Official_Account", _str)
    operator: str | None = wire("Operator_Account", _str)
    name: str | None = wire("Name", _str, optional=True)
    introduction: str | None = wire("Introduction", _str, optional=True)
    face_url: str | None = wire("FaceUrl", _str, optional=True)
    organization: str | None = wire("Organization", _str, optional=True)


@attrs.frozen(kw_only=True)
class AfterAccountDestroyed(Event):
    """``OfficialAccount.CallbackAfterOfficialAccountDestroyed``: an account was destroyed."""

    command: ClassVar[str] = "OfficialAccount.CallbackAfterOfficialAccountDestroyed"

    official_account: str | None = wire("Official_Account", _str)
    owner: str | None = wire("Owner_Account", _str)
    name: str | None = wire("Name", _str)


_subscribers = _item_strings("Subscriber_Account")


@attrs.frozen(kw_only=True)
class BeforeAddSubscriber(Event):
    """``OfficialAccount.CallbackBeforeAddSubscriber``: users are about to subscribe.

    ``user_ids`` lists them (``SubscribeAccountList``). Answers: ``Allow``, ``Refuse`` (the whole
    request), ``RefuseSubscribers`` (some of them).
    """

    command: ClassVar[str] = "OfficialAccount.CallbackBeforeAddSubscriber"
    is_before: ClassVar[bool] = True
    answers: ClassVar[tuple[type[Answer], ...]] = (*_BEFORE_ANSWERS, RefuseSubscribers)

    official_account: str | None = wire("Official_Account", _str)
    operator: str | None = wire("Operator_Account", _str)
    user_ids: tuple[str, ...] = wire("SubscribeAccountList", _subscribers, ())


@attrs.frozen(kw_only=True)
class AfterAddSubscriber(Event):
    """``OfficialAccount.CallbackAfterAddSubscriber``: users subscribed (``user_ids``)."""

    command: ClassVar[str] = "OfficialAccount.CallbackAfterAddSubscriber"

    official_account: str | None = wire("Official_Account", _str)
    operator: str | None = wire("Operator_Account", _str)
    user_ids: tuple[str, ...] = wire("SubscribeAccountList", _subscribers, ())


@attrs.frozen(kw_only=True)
class AfterAccountFull(Event):
    """``OfficialAccount.CallbackAfterOfficialAccountFull``: the account reached its limit."""

    command: ClassVar[str] = "OfficialAccount.CallbackAfterOfficialAccountFull"

    official_account: str | None = wire("Official_Account", _str)


@attrs.frozen(kw_only=True)
class AfterDeleteSubscriber(Event):
    """``OfficialAccount.CallbackAfterDeleteSubscriber``: users unsubscribed (``user_ids``)."""

    command: ClassVar[str] = "OfficialAccount.CallbackAfterDeleteSubscriber"

    official_account: str | None = wire("Official_Account", _str)
    operator: str | None = wire("Operator_Account", _str)
    user_ids: tuple[str, ...] = wire("SubscribeAccountList", _subscribers, ())


class _MessageMixin:
    __slots__ = ()
    msg_body: tuple[dict[str, Any], ...]

    @property
    def elements(self) -> tuple[Element | dict[str, Any], ...]:
        """``msg_body`` as typed elements (``tim_oa.TextElem`` …); unknown ones stay dicts."""
        return parse_msg_body(self.msg_body)


@attrs.frozen(kw_only=True)
class BeforeSendMessage(_MessageMixin, Event):
    """``OfficialAccount.CallbackBeforeSendMsg``: a broadcast is about to be delivered.

    Answers: ``Allow``, ``Refuse`` (code 1: the sender gets 10016; or a custom code), ``Drop``
    (not delivered, the sender sees success), ``ReplaceMessage``. ``cloud_custom_data`` may be
    absent (UNCERTAIN), even with ``strict=True``.
    """

    command: ClassVar[str] = "OfficialAccount.CallbackBeforeSendMsg"
    is_before: ClassVar[bool] = True
    answers: ClassVar[tuple[type[Answer], ...]] = (*_BEFORE_ANSWERS, Drop, ReplaceMessage)

    official_account: str | None = wire("Official_Account", _str)
    online_only: bool | None = wire("OnlineOnlyFlag", _flag)
    msg_body: tuple[dict[str, Any], ...] = wire("MsgBody", _msg_body, ())
    cloud_custom_data: str | None = wire("CloudCustomData", _str, optional=True)


@attrs.frozen(kw_only=True)
class AfterSendMessage(_MessageMixin, Event):
    """``OfficialAccount.CallbackAfterSendMsg``: a broadcast was delivered.

    ``msg_time`` is ``MsgTime`` in Unix seconds; ``msg_key`` is what a recall needs.
    """

    command: ClassVar[str] = "OfficialAccount.CallbackAfterSendMsg"

    official_account: str | None = wire("Official_Account", _str)
    msg_key: str | None = wire("MsgKey", _str)
    msg_time: int | None = wire("MsgTime", _int)
    online_only: bool | None = wire("OnlineOnlyFlag", _flag)
    msg_body: tuple[dict[str, Any], ...] = wire("MsgBody", _msg_body, ())
    cloud_custom_data: str | None = wire("CloudCustomData", _str)


@attrs.frozen(kw_only=True)
class AfterRecallMessages(Event):
    """``OfficialAccount.CallbackAfterMsgWithDraw``: messages were recalled (``msg_keys``)."""

    command: ClassVar[str] = "OfficialAccount.CallbackAfterMsgWithDraw"

    official_account: str | None = wire("Official_Account", _str)
    msg_keys: tuple[str, ...] = wire("WithdrawMsgList", _item_strings("MsgKey"), ())


#: Every event class by its wire ``CallbackCommand``.
EVENT_TYPES: Final[Mapping[str, type[Event]]] = {
    cls.command: cls
    for cls in (
        BeforeCreateAccount,
        AfterCreateAccount,
        AfterAccountInfoChanged,
        AfterAccountDestroyed,
        BeforeAddSubscriber,
        AfterAddSubscriber,
        AfterAccountFull,
        AfterDeleteSubscriber,
        BeforeSendMessage,
        AfterSendMessage,
        AfterRecallMessages,
    )
}


def build_event(
    cls: type[Event], body: Mapping[str, Any], context: CallbackContext, *, strict: bool
) -> Event:
    """Read ``body`` into ``cls`` through the fields' wire table (see the module docstring)."""
    values: dict[str, Any] = {}
    for field in attrs.fields(cls):
        meta = field.metadata
        if "wire" not in meta:
            continue
        value = body.get(meta["wire"])
        if value is None:
            if strict and not meta["optional"]:
                raise WebhookError(
                    f"malformed callback body: {meta['wire']} is missing", reason="body"
                )
            continue
        values[field.name] = meta["read"](value, meta["wire"])
    return cls(**values, context=context, raw=body)
