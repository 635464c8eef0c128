"""What a handler answers: small frozen values, each knowing its JSON.

Every answer is sent with ``"ActionStatus": "OK"``; the decision travels in ``ErrorCode``, as in
all of Tencent's samples (how Tencent reads ``"FAIL"`` with code 0 is not documented).

=========================  ============  =====================================================
answer                     ErrorCode     effect (reference §3)
=========================  ============  =====================================================
``Allow()``                0             the action proceeds; the only answer to "after" events
``Refuse(1)``              1             refused: create → 20006, send → 10016 to the caller
``Refuse(120001..130000)``  the code      refused; the code and ``info`` reach the caller
``RefuseSubscribers(ids)``  0             subscribe everyone except ``ids``
``ReplaceMessage(body)``   0             deliver ``body`` (and/or new ``CloudCustomData``)
``Drop()``                 2             not delivered, but the sender is told it succeeded
=========================  ============  =====================================================

Which event accepts which answer is declared on the event classes (``Event.answers``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any, Final

import attrs

from .._elements import BodyLike, to_msg_body
from .._errors import ValidationError

#: The custom refusal codes whose ``ErrorCode`` and ``ErrorInfo`` Tencent passes to the caller.
CUSTOM_CODES: Final = range(120001, 130001)


#: The most UTF-8 bytes an answer's ``info`` (``ErrorInfo``) may hold. INFERRED: Tencent
#: documents no limit; its own ``ErrorInfo`` texts are a sentence long, a custom refusal's text is
#: shown to the caller, and an answer must reach Tencent within its 2 s timeout.
MAX_INFO_BYTES: Final = 1024


def _check_info(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise ValidationError(
            f"info must be a str, not {type(value).__name__}", field=attribute.name
        )
    if len(value) > MAX_INFO_BYTES // 4 and len(value.encode("utf-8", "surrogatepass")) > (
        MAX_INFO_BYTES
    ):
        raise ValidationError(
            f"info must be at most {MAX_INFO_BYTES} bytes (UTF-8)",
            field=attribute.name,
            limit=MAX_INFO_BYTES,
        )


def _envelope(code: int, info: str) -> dict[str, Any]:
    return {"ActionStatus": "OK", "ErrorCode": code, "ErrorInfo": info}


@attrs.frozen
class Answer:
    """Base class of the answers a handler returns (``None`` from a handler means ``Allow()``)."""

    def to_wire(self) -> dict[str, Any]:
        """The JSON object to send back to Tencent."""
        raise NotImplementedError


@attrs.frozen
class Allow(Answer):
    """Let the action proceed (``ErrorCode`` 0). The answer to every "after" event."""

    info: str = attrs.field(default="", validator=_check_info)

    def to_wire(self) -> dict[str, Any]:
        """``{"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": info}``."""
        return _envelope(0, self.info)


def _check_code(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            f"code must be an int, not {type(value).__name__}",
            field="code",
            limit="1 or 120001-130000",
        )
    if value != 1 and value not in CUSTOM_CODES:
        raise ValidationError(
            f"code must be 1 or a custom code in 120001-130000, not {value}",
            field="code",
            limit="1 or 120001-130000",
        )


@attrs.frozen
class Refuse(Answer):
    """Refuse the action: creating the account, the whole subscribe request, or the message.

    ``code`` 1 is the plain refusal (the caller of ``create_official_account`` gets 20006, of
    ``send_official_account_msg`` 10016). A custom code in 120001-130000 is passed through to the
    caller together with ``info``. For ``BeforeAddSubscriber`` Tencent documents only code 1; a
    custom code is sent as given (its effect there is not documented).
    """

    code: int = attrs.field(default=1, validator=_check_code)
    info: str = attrs.field(default="", validator=_check_info)

    def to_wire(self) -> dict[str, Any]:
        """``{"ActionStatus": "OK", "ErrorCode": code, "ErrorInfo": info}``."""
        return _envelope(self.code, self.info)


def _user_ids(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValidationError(
            f"user_ids must be an iterable of str, not {type(value).__name__}", field="user_ids"
        )
    ids = tuple(value)
    for index, user_id in enumerate(ids):
        if not isinstance(user_id, str) or not user_id:
            raise ValidationError(
                f"user_ids[{index}] must be a non-empty str", field=f"user_ids[{index}]"
            )
    return ids


@attrs.frozen
class RefuseSubscribers(Answer):
    """Subscribe everyone except ``user_ids`` (``ErrorCode`` 0 + ``RefusedSubscribers_Account``).

    An empty list allows everyone. The reference's field table and sample name the key
    ``RefusedSubscribers_Account``; one sentence on the same page says ``RefusedMembers_Account``
    (copied from the group callback). Only the first is sent, unless ``legacy_key=True`` adds the
    second with the same list (UNCERTAIN whether Tencent reads it).
    """

    user_ids: tuple[str, ...] = attrs.field(converter=_user_ids)
    info: str = attrs.field(default="", validator=_check_info, kw_only=True)
    legacy_key: bool = attrs.field(default=False, kw_only=True)

    def to_wire(self) -> dict[str, Any]:
        """The allow envelope plus ``RefusedSubscribers_Account``."""
        answer = _envelope(0, self.info)
        answer["RefusedSubscribers_Account"] = list(self.user_ids)
        if self.legacy_key:
            answer["RefusedMembers_Account"] = list(self.user_ids)
        return answer


def _msg_body(value: BodyLike | None) -> tuple[dict[str, Any], ...] | None:
    if value is None:
        return None
    try:
        body = to_msg_body(value)
        json.dumps(body, allow_nan=False)
    except ValidationError as exc:
        raise ValidationError(str(exc), field="msg_body", limit=exc.limit) from None
    except (TypeError, ValueError):
        raise ValidationError("msg_body must hold only JSON values", field="msg_body") from None
    return tuple(body)


def _check_custom_data(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise ValidationError(
            f"cloud_custom_data must be a str, not {type(value).__name__}",
            field="cloud_custom_data",
        )


@attrs.frozen
class ReplaceMessage(Answer):
    """Deliver a different message body and/or ``CloudCustomData`` (``ErrorCode`` 0).

    ``msg_body`` takes what ``send_message`` takes: a ``str``, a message element
    (``tim_oa.TextElem`` …), a raw element dict, or a list of those; ``None`` keeps the original
    body and replaces only ``cloud_custom_data``. When ``cloud_custom_data`` is ``None`` the key is
    left out, which (UNCERTAIN, the reference infers it) keeps the original custom data.
    """

    msg_body: tuple[dict[str, Any], ...] | None = attrs.field(converter=_msg_body, hash=False)
    cloud_custom_data: str | None = attrs.field(default=None, validator=_check_custom_data)
    info: str = attrs.field(default="", validator=_check_info, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if self.msg_body is None and self.cloud_custom_data is None:
            raise ValidationError(
                "ReplaceMessage needs msg_body, cloud_custom_data or both", field="msg_body"
            )

    def to_wire(self) -> dict[str, Any]:
        """The allow envelope plus ``MsgBody`` and/or ``CloudCustomData``."""
        answer = _envelope(0, self.info)
        if self.msg_body is not None:
            answer["MsgBody"] = copy.deepcopy(list(self.msg_body))
        if self.cloud_custom_data is not None:
            answer["CloudCustomData"] = self.cloud_custom_data
        return answer


@attrs.frozen
class Drop(Answer):
    """Discard the message silently (``ErrorCode`` 2): not delivered, the sender sees success."""

    info: str = attrs.field(default="", validator=_check_info)

    def to_wire(self) -> dict[str, Any]:
        """``{"ActionStatus": "OK", "ErrorCode": 2, "ErrorInfo": info}``."""
        return _envelope(2, self.info)
