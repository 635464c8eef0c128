"""Checks run on user input before any request is sent: each rule once.

Each check raises :class:`ValidationError` naming the argument, its wire key where it has one, and
the limit. Limits come from :mod:`tim_oa._limits`. The session's options (``_options``), the retry
policy, the limiters, the UserSig signer and the request methods all call these functions, so one
value is accepted or refused the same way everywhere (an identifier with U+2028 is refused by
``Session`` and ``UserSigSigner`` alike). The transport and webhook modules may call them too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from . import _limits as L
from ._clock import Clock
from ._errors import ValidationError
from ._regions import Region

if TYPE_CHECKING:  # annotations only: attrs is not loaded with a Session
    import attrs


def _label(arg: str, wire_key: str | None) -> str:
    return f"{arg} ({wire_key})" if wire_key and wire_key != arg else arg


def utf8_size(text: str, arg: str) -> int:
    """The UTF-8 length of ``text``; a lone surrogate (not encodable) is a ValidationError."""
    if text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValidationError(
            f"{arg} holds a lone surrogate, which UTF-8 cannot encode", field=arg
        ) from None


def check_str(value: Any, arg: str, *, wire_key: str | None = None) -> str:
    """A string, as such, that UTF-8 can encode (no lone surrogates)."""
    if not isinstance(value, str):
        raise ValidationError(
            f"{_label(arg, wire_key)} must be a str, not {type(value).__name__}", field=arg
        )
    text: str = value
    utf8_size(text, arg)
    return text


def check_json(value: Any, arg: str) -> str:
    """``value`` as compact JSON text; anything JSON cannot carry is a ValidationError naming arg.

    Refused: NaN and infinities, values of other types (bytes, sets, objects), keys that are not
    strings, lone surrogates, and nesting too deep to encode.
    """
    try:
        if isinstance(value, Mapping) and not all(isinstance(k, str) for k in value):
            raise TypeError("keys must be strings")
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        text.encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        reason = "a lone surrogate" if isinstance(exc, UnicodeEncodeError) else str(exc)
        if isinstance(exc, RecursionError):
            reason = "nested too deeply"
        raise ValidationError(f"{arg} is not JSON: {reason}", field=arg) from None
    return text


def check_text(value: Any, arg: str, wire_key: str, *, required: bool = False) -> str:
    """A text field within its UTF-8 byte limit (``FIELD_MAX_BYTES[wire_key]``)."""
    if not isinstance(value, str):
        check_str(value, arg, wire_key=wire_key)
    text: str = value
    limit = L.FIELD_MAX_BYTES[wire_key]
    size = utf8_size(text, arg)
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


def check_count(value: object, name: str, *, minimum: int) -> int:
    """An int (not a bool) of at least ``minimum`` (counts, sizes, ``sdkappid``)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(
            f"{name} must be an int of at least {minimum}, got {value!r}", field=name
        )
    return value


def check_sdkappid(value: object, name: str = "sdkappid") -> int:
    """An SDKAppID: a positive int."""
    return check_count(value, name, minimum=1)


def check_number(
    value: object, name: str, *, minimum: float, maximum: float | None = None
) -> float:
    """A finite real number (not a bool) within ``minimum..maximum``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{name} must be a number, not {type(value).__name__}", field=name)
    if not math.isfinite(value) or value < minimum or (maximum is not None and value > maximum):
        bounds = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"
        raise ValidationError(f"{name} must be {bounds}, got {value!r}", field=name)
    return value


def check_seconds(value: object, name: str, *, optional: bool = True) -> float | None:
    """A positive, finite number of seconds (or ``None`` when optional)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(
            f"{name} must be a number of seconds, not {type(value).__name__}", field=name
        )
    if not (value > 0 and math.isfinite(value)):
        raise ValidationError(f"{name} must be positive and finite, got {value!r}", field=name)
    return float(value)


def check_rate(value: object, name: str) -> float | None:
    """A rate per second: ``None`` (off) or a positive, finite number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(
            f"{name} must be a number or None, not {type(value).__name__}", field=name
        )
    if not (value > 0 and math.isfinite(value)):
        raise ValidationError(f"{name} must be positive and finite, got {value!r}", field=name)
    return float(value)


def check_share(value: object, name: str) -> float:
    """A share in (0, 1] (a limiter's ``margin``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ValidationError(f"{name} must be a number in (0, 1]", field=name)
    return float(value)


MAX_WHOLE_SECONDS: Final = 2**31 - 1
"""68 years: the largest claim Tencent's verifiers read as an integer."""


def check_whole_seconds(
    value: object, name: str, *, minimum: int, maximum: int = MAX_WHOLE_SECONDS
) -> int:
    """An int (or a float with no fraction, converted exactly) within ``minimum..maximum``.

    ``timedelta(days=1).total_seconds()`` is ``86400.0``: accepted as 86400. Bools, strings,
    fractions, NaN and infinities are refused.
    """
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            f"{name} must be a whole number of seconds (an int), not {value!r}",
            field=name,
            limit=f"{minimum}..{maximum}",
        )
    if not minimum <= value <= maximum:
        raise ValidationError(
            f"{name} must be {minimum}..{maximum}, got {value}",
            field=name,
            limit=f"{minimum}..{maximum}",
        )
    return value


def _is_control(ch: str) -> bool:
    # C0, DEL and C1 controls, lone surrogates and the Unicode line/paragraph separators: they
    # would break the query string, the signed ``TLS.identifier:`` line, or UTF-8 encoding.
    return ch < " " or "\x7f" <= ch <= "\x9f" or "\ud800" <= ch <= "\udfff" or ch in "\u2028\u2029"


def check_identifier(value: object, name: str = "identifier") -> str:
    """An identifier a UserSig is made for: non-empty, no control characters or line breaks.

    Line breaks include U+2028 and U+2029; lone surrogates are refused too. ``Session`` and
    ``UserSigSigner`` both use this rule.
    """
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a str, not {type(value).__name__}", field=name)
    if not value:
        raise ValidationError(f"{name} must not be empty", field=name)
    bad = next((ch for ch in value if _is_control(ch)), None)
    if bad is not None:
        what = (
            "a lone surrogate (not valid Unicode)"
            if "\ud800" <= bad <= "\udfff"
            else f"the control character {bad!r}"
        )
        raise ValidationError(
            f"{name} must not contain control characters: it has {what}", field=name
        )
    return value


def check_clock(value: object, name: str = "clock") -> Clock | None:
    """``None`` or an object with ``monotonic()`` and an async ``sleep(seconds)``."""
    if value is not None and not isinstance(value, Clock):
        raise ValidationError(
            f"{name} must have monotonic() and an async sleep(seconds)", field=name
        )
    return value


def check_region(value: object, name: str = "region") -> Region:
    """A :class:`Region`, or a name ``Region(...)`` takes (case-insensitive, ``-`` for ``_``).

    An unknown name is refused with the list of valid ones.
    """
    if isinstance(value, Region):
        return value
    if isinstance(value, str):
        try:
            return Region.from_name(value)
        except ValueError as exc:
            raise ValidationError(
                str(exc), field=name, limit=[r.name.lower() for r in Region]
            ) from None
    raise ValidationError(
        f'{name} must be a tim_oa.Region or its name (such as "singapore"), '
        f"not {type(value).__name__}",
        field=name,
    )


def check_secret_key(value: object, name: str = "secret_key") -> str:
    """An app's secret key: a non-empty str UTF-8 can encode (its value is never shown)."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{name} must be a non-empty string", field=name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(
            f"{name} must be encodable as UTF-8 (no lone surrogates)", field=name
        ) from None
    return value


def check_usersig_text(value: object, name: str = "usersig") -> str:
    """A UserSig as given: non-empty printable ASCII without spaces (it goes into the query)."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{name} must not be empty", field=name)
    if not all("!" <= c <= "~" for c in value):
        raise ValidationError(
            f"{name} must be printable ASCII without spaces (a UserSig)", field=name
        )
    return value


def check_token(value: object, name: str = "token") -> str | None:
    """An optional shared secret (a webhook token): ``None`` or a non-empty, non-blank str.

    Its value is never part of the message.
    """
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{name} must be a non-empty str or None", field=name)
    return value


def check_printable_ascii(value: object, name: str) -> str:
    """A non-empty str of printable ASCII, spaces allowed (a header value, a key prefix)."""
    if not isinstance(value, str) or not value or not all(" " <= c <= "~" for c in value):
        raise ValidationError(f"{name} must be a non-empty string of printable ASCII", field=name)
    return value


def check_page_size(value: Any, arg: str = "page_size", maximum: int = L.MAX_PAGE_SIZE) -> int:
    """A page size of 1 to ``maximum``."""
    return check_int(value, arg, minimum=1, maximum=maximum)


def check_account_id(raw: Any, arg: str = "account_id") -> str:
    """An existing Official Account id: ``@TOA#_…``, printable ASCII, at most 48 bytes."""
    if not isinstance(raw, str):
        check_str(raw, arg)
    value: str = raw
    if not value.startswith(L.ACCOUNT_ID_PREFIX):
        raise ValidationError(
            f"{arg} must start with {L.ACCOUNT_ID_PREFIX!r}, got {value!r}",
            field=arg,
            limit=L.ACCOUNT_ID_PREFIX,
        )
    if not (value.isascii() and value.isprintable()):
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
    if not isinstance(raw, str):
        check_str(raw, arg)
    value: str = raw
    size = utf8_size(value, arg)
    if not value or size > L.USER_ID_MAX_BYTES:
        raise ValidationError(
            f"{arg} must be 1 to {L.USER_ID_MAX_BYTES} bytes in UTF-8, got {size} ({value!r})",
            field=arg,
            limit=L.USER_ID_MAX_BYTES,
        )
    return value


def check_iterable(values: Any, arg: str) -> Iterable[Any]:
    """An iterable of items, not a lone str/bytes (iterating one would send its characters)."""
    if isinstance(values, (str, bytes, bytearray, Mapping)) or not isinstance(values, Iterable):
        raise ValidationError(
            f"{arg} must be an iterable of str (a list, not a single str), "
            f"not {type(values).__name__}",
            field=arg,
        )
    return values  # type: ignore[no-any-return,unused-ignore]


def check_id_list(values: Any, arg: str, check: Any = check_user_id) -> list[str]:
    """Validate every id of an iterable and return the distinct ones in first-seen order.

    A lone string is refused: iterating it would send one request per character.
    """
    distinct: dict[str, None] = {}
    for index, value in enumerate(check_iterable(values, arg)):
        # The common case (a valid id) costs one call; the index is formatted only on failure.
        try:
            check(value, arg)
        except ValidationError:
            check(value, f"{arg}[{index}]")
            raise
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


def check_callback(value: Any, arg: str) -> Any:
    """``None`` or a callable (checked before any request, not when it is first called)."""
    if value is not None and not callable(value):
        raise ValidationError(
            f"{arg} must be callable (or None), not {type(value).__name__}", field=arg
        )
    return value


def merge_extra(
    body: dict[str, Any], extra_body: Any, modelled: Collection[str], arg: str = "extra_body"
) -> dict[str, Any]:
    """Merge ``extra_body`` (fields tim_oa does not model) into a typed request ``body``.

    A key of ``modelled`` (a field the library sets itself, whether or not this call set it) is
    refused: its argument is the way to set it, and keeping it ours keeps its validation.
    """
    if extra_body is None:
        return body
    if not isinstance(extra_body, Mapping):
        raise ValidationError(
            f"{arg} must be a mapping of wire keys to JSON values, not {type(extra_body).__name__}",
            field=arg,
        )
    for key in extra_body:
        if not isinstance(key, str) or not key:
            raise ValidationError(f"{arg} keys must be non-empty str, got {key!r}", field=arg)
        check_str(key, arg)
        if key in modelled or key in body:
            raise ValidationError(
                f"{arg} sets {key!r}, which tim_oa sets itself; use the method's own argument",
                field=arg,
                limit=key,
            )
    check_json(dict(extra_body), arg)
    return {**body, **extra_body}


# --- attrs field validators of the models users build (elements, OfflinePush) ------------------

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]
"""An attrs field validator; these raise :class:`ValidationError` naming the field."""


def of_type(types: tuple[type, ...], what: str) -> Validator:
    """An attrs validator raising :class:`ValidationError`; ``None`` passes for optional fields."""

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None and attribute.default is None:
            return
        if isinstance(value, bool) or not isinstance(value, types):
            raise ValidationError(
                f"{type(instance).__name__}.{attribute.name} must be {what}, "
                f"not {type(value).__name__}",
                field=attribute.name,
            )
        if isinstance(value, str):
            utf8_size(value, attribute.name)

    return validate


STR = of_type((str,), "a str")
INT = of_type((int,), "an int")
NUMBER = of_type((int, float), "a number")


def in_range(low: float, high: float) -> Validator:
    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not (math.isfinite(value) and low <= value <= high):
            raise ValidationError(
                f"{type(instance).__name__}.{attribute.name} must be {low}..{high}, got {value}",
                field=attribute.name,
                limit=(low, high),
            )

    return validate


def non_empty(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value == "":
        raise ValidationError(
            f"{type(instance).__name__}.{attribute.name} must not be empty", field=attribute.name
        )
