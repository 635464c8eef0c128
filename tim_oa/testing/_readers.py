"""Body readers: pull typed, validated values out of a request's JSON body.

One rule everywhere: a missing required field or a value of the wrong JSON type is 20001 (invalid
request packet); a value of the right type that breaks a limit (byte length, list size, range,
unknown enum name) is 6017 (invalid parameter), with an ``ErrorInfo`` naming the field. JSON
``null`` counts as a wrong type (INFERRED; it catches clients that send unset fields). A malformed
Official Account id is 130007. Nothing here looks at the backend's state.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Final

from .. import _limits as L
from .._codes import ErrorCode as C
from ._failure import Failure
from ._records import is_valid_account_id

Body = dict[str, Any]

_CURSOR_RE: Final = re.compile(r"sub:(\d{1,19})")


def missing(name: str) -> Failure:
    """20001: a required field is absent."""
    return Failure(C.INVALID_REQUEST_PACKET, f"{name} is required")


def wrong_type(name: str, expected: str) -> Failure:
    """20001: a field has the wrong JSON type."""
    return Failure(C.INVALID_REQUEST_PACKET, f"{name} must be {expected}")


def invalid(name: str, why: str) -> Failure:
    """6017: a field has the right type but a value outside its limits."""
    return Failure(C.INVALID_PARAMETER, f"{name} {why}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def opt_str(body: Body, name: str) -> str | None:
    """An optional string field."""
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, str):
        raise wrong_type(name, "a string")
    return value


def req_str(body: Body, name: str) -> str:
    """A required string field."""
    value = opt_str(body, name)
    if value is None:
        raise missing(name)
    return value


def opt_int(body: Body, name: str) -> int | None:
    """An optional integer field (booleans are not integers)."""
    if name not in body:
        return None
    value = body[name]
    if not _is_int(value):
        raise wrong_type(name, "an integer")
    return int(value)


def opt_list(body: Body, name: str) -> list[Any] | None:
    """An optional array field."""
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, list):
        raise wrong_type(name, "an array")
    return value


def req_list(body: Body, name: str) -> list[Any]:
    """A required array field."""
    value = opt_list(body, name)
    if value is None:
        raise missing(name)
    return value


def opt_object(body: Body, name: str) -> dict[str, Any] | None:
    """An optional object field."""
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, dict):
        raise wrong_type(name, "an object")
    return value


def str_list(name: str, items: list[Any]) -> list[str]:
    """Check that every item of an array is a string."""
    if not all(isinstance(item, str) for item in items):
        raise wrong_type(name, "an array of strings")
    return items


def check_count(name: str, items: list[Any], maximum: int) -> None:
    """An array must hold 1..maximum items."""
    if not 1 <= len(items) <= maximum:
        raise invalid(name, f"must hold 1..{maximum} items, got {len(items)}")


def check_bytes(name: str, value: str, *, allow_empty: bool = True) -> str:
    """A text field within its UTF-8 byte limit (``_limits.FIELD_MAX_BYTES``)."""
    limit = L.FIELD_MAX_BYTES[name]
    size = len(value.encode("utf-8"))
    if size > limit:
        raise invalid(name, f"is {size} bytes, over the {limit}-byte limit")
    if not allow_empty and not value:
        raise invalid(name, "must not be empty")
    return value


def check_user_id(name: str, value: str) -> str:
    """A user id of 1..32 UTF-8 bytes."""
    size = len(value.encode("utf-8"))
    if not 1 <= size <= L.USER_ID_MAX_BYTES:
        raise invalid(name, f"must be 1..{L.USER_ID_MAX_BYTES} bytes, got {size}")
    return value


def user_items(name: str, items: list[Any]) -> list[str]:
    """Read ``[{"Subscriber_Account": uid}, ...]``."""
    users = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("Subscriber_Account"), str):
            raise wrong_type(name, 'an array of {"Subscriber_Account": string} objects')
        users.append(check_user_id("Subscriber_Account", item["Subscriber_Account"]))
    return users


def limit(body: Body, name: str, default: int, maximum: int) -> int:
    """An optional page size in 1..maximum."""
    value = opt_int(body, name)
    if value is None:
        return default
    if not 1 <= value <= maximum:
        raise invalid(name, f"must be in 1..{maximum}, got {value}")
    return value


def flag(body: Body, name: str) -> int:
    """An optional 0/1 flag (absent reads as 0)."""
    value = opt_int(body, name)
    if value is None:
        return 0
    if value not in (0, 1):
        raise invalid(name, f"must be 0 or 1, got {value}")
    return value


def account_id(body: Body, name: str = "Official_Account") -> str:
    """A required Official Account id of the right shape (else 130007)."""
    value = req_str(body, name)
    if not is_valid_account_id(value):
        raise Failure(C.OA_ID_INVALID, f"{name} is not a valid Official Account id")
    return value


def response_filter(
    body: Body, group: str, allowed: tuple[str, ...], everything: tuple[str, ...]
) -> tuple[str, ...]:
    """Read one ``ResponseFilter`` group; absent or empty means every field (INFERRED for [])."""
    filters = opt_object(body, "ResponseFilter")
    if filters is None or group not in filters:
        return everything
    names = filters[group]
    if not isinstance(names, list):
        raise wrong_type(f"ResponseFilter.{group}", "an array")
    for name in str_list(f"ResponseFilter.{group}", names):
        if name not in allowed:
            raise invalid(f"ResponseFilter.{group}", f"has an unknown field {name!r}")
    if not names:
        return everything
    return tuple(dict.fromkeys(names))


def encode_cursor(seq: int) -> str:
    """The opaque ``Next`` cursor of ``get_subscriber_info``: the next subscription seq."""
    return base64.b64encode(f"sub:{seq}".encode("ascii")).decode("ascii")


def decode_cursor(cursor: str) -> int:
    """The subscription seq a ``Next`` cursor points at (6017 for anything else)."""
    try:
        match = _CURSOR_RE.fullmatch(base64.b64decode(cursor, validate=True).decode("ascii"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        match = None
    if match is None:
        raise invalid("Next", "is not a cursor returned by get_subscriber_info")
    return int(match.group(1))


def message_size(msg_body: object) -> int:
    """The size checked against the 12 KB limit: compact UTF-8 JSON of ``MsgBody``."""
    return len(json.dumps(msg_body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
