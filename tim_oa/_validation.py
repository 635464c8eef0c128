"""Checks run on user input before any request is sent.

Each check raises :class:`ValidationError` naming the argument, its wire key where it has one, and
the limit. Limits come from :mod:`tim_oa._limits`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from . import _limits as L
from ._errors import ValidationError


def _label(arg: str, wire_key: str | None) -> str:
    return f"{arg} ({wire_key})" if wire_key and wire_key != arg else arg


def check_str(value: Any, arg: str, *, wire_key: str | None = None) -> str:
    """A string, as such."""
    if not isinstance(value, str):
        raise ValidationError(
            f"{_label(arg, wire_key)} must be a str, not {type(value).__name__}", field=arg
        )
    text: str = value
    return text


def check_text(value: Any, arg: str, wire_key: str, *, required: bool = False) -> str:
    """A text field within its UTF-8 byte limit (``FIELD_MAX_BYTES[wire_key]``)."""
    text = check_str(value, arg, wire_key=wire_key)
    limit = L.FIELD_MAX_BYTES[wire_key]
    size = len(text.encode("utf-8"))
    if size > limit:
        raise ValidationError(
            f"{_label(arg, wire_key)} is {size} bytes in UTF-8; the limit is {limit} bytes",
            field=arg,
            limit=limit,
        )
    if required and not text:
        raise ValidationError(f"{_label(arg, wire_key)} must not be empty", field=arg)
    return text


def check_int(
    value: Any, arg: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """An int (not a bool) within bounds."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{arg} must be an int, not {type(value).__name__}", field=arg)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        if maximum is None:
            bounds = f"at least {minimum}"
        elif minimum is None:
            bounds = f"at most {maximum}"
        else:
            bounds = f"{minimum}..{maximum}"
        raise ValidationError(f"{arg} must be {bounds}, got {value}", field=arg, limit=bounds)
    return value


def check_bool(value: Any, arg: str) -> bool:
    """A real bool (not 0/1 or a string, which would hide a mistake)."""
    if not isinstance(value, bool):
        raise ValidationError(f"{arg} must be a bool, not {type(value).__name__}", field=arg)
    return value


def check_page_size(value: Any, arg: str = "page_size", maximum: int = L.MAX_PAGE_SIZE) -> int:
    """A page size of 1 to ``maximum``."""
    return check_int(value, arg, minimum=1, maximum=maximum)


def check_account_id(raw: Any, arg: str = "account_id") -> str:
    """An existing Official Account id: ``@TOA#_…``, printable ASCII, at most 48 bytes."""
    value = check_str(raw, arg)
    if not value.startswith(L.ACCOUNT_ID_PREFIX):
        raise ValidationError(
            f"{arg} must start with {L.ACCOUNT_ID_PREFIX!r}, got {value!r}",
            field=arg,
            limit=L.ACCOUNT_ID_PREFIX,
        )
    if not all(0x20 <= ord(c) <= 0x7E for c in value):
        raise ValidationError(f"{arg} must be printable ASCII", field=arg)
    if len(value) > L.ACCOUNT_ID_MAX_BYTES:
        raise ValidationError(
            f"{arg} is {len(value)} bytes; the limit is {L.ACCOUNT_ID_MAX_BYTES}",
            field=arg,
            limit=L.ACCOUNT_ID_MAX_BYTES,
        )
    return value


def check_custom_account_id(raw: Any, arg: str = "account_id") -> str:
    """A custom id for a new account: as :func:`check_account_id`, outside the generated range."""
    value = check_account_id(raw, arg)
    if value.startswith(L.GENERATED_ID_PREFIX):
        raise ValidationError(
            f"{arg} must not start with {L.GENERATED_ID_PREFIX!r} (reserved for generated ids)",
            field=arg,
            limit=L.GENERATED_ID_PREFIX,
        )
    return value


def check_user_id(raw: Any, arg: str = "user_id") -> str:
    """An IM UserID: a non-empty string of at most 32 UTF-8 bytes."""
    value = check_str(raw, arg)
    size = len(value.encode("utf-8"))
    if not value or size > L.USER_ID_MAX_BYTES:
        raise ValidationError(
            f"{arg} must be 1 to {L.USER_ID_MAX_BYTES} bytes in UTF-8, got {size} ({value!r})",
            field=arg,
            limit=L.USER_ID_MAX_BYTES,
        )
    return value


def check_id_list(values: Any, arg: str, check: Any = check_user_id) -> list[str]:
    """Validate every id of an iterable and return the distinct ones in first-seen order.

    A lone string is refused: iterating it would send one request per character.
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValidationError(
            f"{arg} must be an iterable of str (a list, not a single str)", field=arg
        )
    distinct: dict[str, None] = {}
    for index, value in enumerate(values):
        check(value, f"{arg}[{index}]")
        distinct[value] = None
    return list(distinct)


def check_filter(values: Any, arg: str, allowed: Collection[str]) -> list[str]:
    """A ``ResponseFilter`` list: wire field names out of ``allowed``."""
    names = check_id_list(values, arg, check_str)
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise ValidationError(
            f"{arg} has unknown field(s) {unknown}; allowed: {', '.join(allowed)}",
            field=arg,
            limit=tuple(allowed),
        )
    return names


def check_concurrency(value: Any, arg: str = "concurrency") -> int:
    """A positive number of tasks."""
    return check_int(value, arg, minimum=1)
