"""Typed, frozen value classes for what the API returns.

Each field names its wire key in its metadata (``wire("Owner_Account")``); only the converter in
:mod:`tim_oa._converter` reads those names. Every field the API may leave out has a default, so
answers with missing or extra keys still convert.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from ._errors import MissingResultError, TimOAError

if TYPE_CHECKING:
    from ._elements import Element


def wire(
    key: str, default: Any = None, *, required: bool = False, lenient: bool = False, **kwargs: Any
) -> Any:
    """Declare a model field together with its wire key.

    ``required``: an answer without it is malformed. ``lenient``: a value of an unexpected type
    is dropped (the default) instead of failing, for fields whose type Tencent does not publish.
    """
    metadata = {"wire": key, "required": required, "lenient": lenient}
    return attrs.field(default=default, metadata=metadata, **kwargs)


class MsgPriority(enum.IntEnum):
    """``MsgPriority`` of a history message (INFERRED from Tencent's Java SDK; 1 is highest)."""

    HIGH = 1
    NORMAL = 2
    LOW = 3
    LOWEST = 4


# An entry of get_accounts that the server's answer did not carry.
MISSING_ENTRY_CODE = -1


@attrs.frozen
class AccountProfile:
    """The profile fields of an Official Account; fields the API did not return are ``None``.

    Attributes:
        official_account: The account id (``Official_Account``), ``@TOA#_…``.
        name: ``Name``.
        owner: ``Owner_Account``, the owner's UserID.
        introduction: ``Introduction``.
        face_url: ``FaceUrl``.
        organization: ``Organization``.
        custom_string: ``CustomString``.
        create_time: ``CreateTime``, Unix seconds.
        last_msg_time: ``LastMsgTime``, Unix seconds.
        subscriber_num: ``SubscriberNum``, current subscriber count.
        max_subscriber_num: ``MaxSubscriberNum``, when the API returns it.
    """

    official_account: str = wire("Official_Account", "")
    name: str | None = wire("Name")
    owner: str | None = wire("Owner_Account")
    introduction: str | None = wire("Introduction")
    face_url: str | None = wire("FaceUrl")
    organization: str | None = wire("Organization")
    custom_string: str | None = wire("CustomString")
    create_time: int | None = wire("CreateTime")
    last_msg_time: int | None = wire("LastMsgTime")
    subscriber_num: int | None = wire("SubscriberNum")
    max_subscriber_num: int | None = wire("MaxSubscriberNum")


@attrs.frozen
class OfficialAccount(AccountProfile):
    """One entry of ``get_accounts``: the profile, or the per-account error.

    Attributes:
        error_code: The entry's own ``ErrorCode`` (0 when found).
        error_info: The entry's own ``ErrorInfo``.
    """

    error_code: int = wire("ErrorCode", 0)
    error_info: str = wire("ErrorInfo", "")

    @property
    def ok(self) -> bool:
        """True when the account was found."""
        return self.error_code == 0

    @property
    def error(self) -> TimOAError | None:
        """The entry's error as an exception, or ``None`` when the account was found.

        An :class:`ApiError` subclass for the entry's own ``ErrorCode`` (e.g.
        :class:`AccountNotFoundError` for 130004), or :class:`MissingResultError` when the
        server's answer had no entry of its own for this id (``error_code`` -1).
        """
        if self.error_code == 0:
            return None
        if self.error_code == MISSING_ENTRY_CODE:
            return MissingResultError(1)
        from ._codes import api_error  # the code table is only needed for a failed entry
        from ._registry import GET_ACCOUNTS

        return api_error(self.error_code, self.error_info, command=GET_ACCOUNTS.name)


@attrs.frozen
class SelfInfo:
    """The subscriber's own side of a subscription (``SelfInfo``).

    Attributes:
        subscribe_time: ``SubscribeTime``, Unix seconds.
        custom_string: ``CustomString`` of this subscription.
    """

    subscribe_time: int | None = wire("SubscribeTime")
    custom_string: str | None = wire("CustomString")


@attrs.frozen
class SubscribedAccount(AccountProfile):
    """One account a user subscribes to, from ``subscribed_accounts``.

    Attributes:
        self_info: The user's own subscription data (``SelfInfo``).

    Unlike a ``get_accounts`` entry, an item without ``Official_Account`` is malformed: nothing
    else in the answer says which account it is.
    """

    #: Inherited fields an answer must carry for this class (read by the converter).
    wire_required: ClassVar[frozenset[str]] = frozenset({"official_account"})
    self_info: SelfInfo = wire("SelfInfo", attrs.Factory(SelfInfo))  # noqa: RUF009


@attrs.frozen
class Subscriber:
    """One subscriber of an account, from ``subscribers``.

    Attributes:
        user_id: ``Subscriber_Account``, the subscriber's UserID.
        subscribe_time: ``SubscribeTime``, Unix seconds.
        custom_string: ``CustomString`` set with ``modify_subscriber``.
        msg_flag: ``MsgFlag``: ``AcceptAndNotify``, ``AcceptNotNotify`` or ``Discard``.
        last_send_msg_time: ``LastSendMsgTime``, Unix seconds.
    """

    user_id: str = wire("Subscriber_Account", "", required=True)
    subscribe_time: int | None = wire("SubscribeTime")
    custom_string: str | None = wire("CustomString")
    msg_flag: str | None = wire("MsgFlag")
    last_send_msg_time: int | None = wire("LastSendMsgTime")


@attrs.frozen
class SentMessage:
    """What ``send_message`` returns.

    Attributes:
        msg_key: ``MsgKey`` (``"{seq}_1_{time}"``); keep it to recall the message.
        msg_time: ``MsgTime``, the server's send time in Unix seconds.
    """

    msg_key: str = wire("MsgKey", "")
    msg_time: int | None = wire("MsgTime")


@attrs.frozen
class Message:
    """One message of an account's history, from ``messages``.

    Attributes:
        msg_key: ``MsgKey``.
        msg_seq: ``MsgSeq``.
        msg_time: ``MsgTimeStamp``, Unix seconds.
        from_account: ``From_Account``.
        body: ``MsgBody``, the message elements as sent on the wire.
        random: ``MsgRandom``.
        place_flag: ``IsPlaceMsg``: 0 normal, 1 placeholder (expired/deleted), 2 recalled.
        is_system_msg: ``IsSystemMsg``, when the server sends it (INFERRED field).
        priority: ``MsgPriority``, a :class:`MsgPriority` (or the raw int for an unknown value),
            when the server sends it (INFERRED field).
        cloud_custom_data: ``CloudCustomData`` the message was sent with.
    """

    msg_key: str = wire("MsgKey", "")
    msg_seq: int | None = wire("MsgSeq")
    msg_time: int | None = wire("MsgTimeStamp")
    from_account: str | None = wire("From_Account")
    body: tuple[dict[str, Any], ...] = wire("MsgBody", ())
    random: int | None = wire("MsgRandom")
    place_flag: int = wire("IsPlaceMsg", 0)
    is_system_msg: int | None = wire("IsSystemMsg", lenient=True)
    priority: MsgPriority | int | None = wire("MsgPriority", lenient=True)  # noqa: RUF009
    cloud_custom_data: str | None = wire("CloudCustomData")

    @property
    def is_recalled(self) -> bool:
        """True for a recalled message (``IsPlaceMsg`` 2)."""
        return self.place_flag == 2

    @property
    def elements(self) -> tuple[Element | dict[str, Any], ...]:
        """``body`` as typed elements (:class:`TextElem`, …); unknown types stay dicts."""
        from ._elements import parse_msg_body  # _elements builds on this module's converter

        return parse_msg_body(self.body)
