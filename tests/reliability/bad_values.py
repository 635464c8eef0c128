"""Kinds of bad values for the property tests, and the check that a refusal names its argument.

Each generator returns named *kinds* of bad values; every kind becomes its own test item, so each
kind is tried on every run whatever hypothesis draws inside it (a single ``one_of`` let hypothesis
skip a kind in some runs and not others).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

import tim_oa

PROPERTY = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],  # no "explain": it is slow
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

Kinds = dict[str, Any]

surrogates = st.sampled_from(["\ud800", "a\udfffb", "\udc80", "x\ud83d"])
controls = st.sampled_from(["\n", "a\nb", "\r\n", "\x00", "a\x1fb", "\x7f", "\t"])
non_json = st.sampled_from(
    [object(), {1, 2}, b"bytes", bytearray(b"x"), 1 + 2j, Ellipsis, type, frozenset()]
)
nan_inf = st.sampled_from([math.nan, math.inf, -math.inf])
huge_ints = st.integers(min_value=2**64, max_value=2**200) | st.integers(
    min_value=-(2**200), max_value=-(2**64)
)
bools = st.booleans()
non_str = st.one_of(
    st.integers(),
    st.floats(allow_nan=True),
    st.binary(max_size=8),
    st.lists(st.text(max_size=3), max_size=2),
    non_json,
    bools,
)
"""Anything but a str (and not None: whether None is allowed depends on the argument)."""
non_json_values = st.one_of(
    nan_inf,
    non_json,
    surrogates,
    st.lists(nan_inf | non_json | surrogates, min_size=1, max_size=2),
    st.dictionaries(st.sampled_from(["a", "b"]), nan_inf | non_json | surrogates, min_size=1),
)


def over_bytes(limit: int) -> Any:
    """Strings of more than ``limit`` UTF-8 bytes (CJK counts 3)."""
    return st.sampled_from(["x", "é", "中", "😀"]).map(
        lambda c: c * (limit // len(c.encode("utf-8")) + 1)
    )


def account_id_is_valid(value: object) -> bool:
    return (
        isinstance(value, str)
        and value.startswith("@TOA#_")
        and all(0x20 <= ord(c) <= 0x7E for c in value)
        and len(value) <= 48
    )


def bad_identifiers() -> Kinds:
    return {
        "not-str": non_str | st.none(),
        "empty": st.just(""),
        "control": controls | controls.map(lambda c: "admin" + c),
        "surrogate": surrogates,
    }


def bad_account_ids(*, none: bool = True, custom: bool = False) -> Kinds:
    kinds: Kinds = {
        "not-str": non_str | st.none() if none else non_str,
        "empty": st.just(""),
        "no-prefix": st.text(min_size=1, max_size=10).filter(lambda s: not account_id_is_valid(s)),
        "bad-char": (surrogates | controls | st.sampled_from(["é", "中", "\u200b"])).map(
            lambda c: "@TOA#_" + c
        ),
        "too-long": st.just("@TOA#_" + "x" * 43),
    }
    if custom:
        kinds["generated-prefix"] = st.just("@TOA#_@TOA#mine")
    return kinds


def bad_user_ids() -> Kinds:
    return {
        "not-str": non_str | st.none(),
        "empty": st.just(""),
        "too-long": over_bytes(32),
        "surrogate": surrogates.map(lambda c: "u" + c),
    }


def bad_text(limit: int, *, required: bool = False, optional: bool = True) -> Kinds:
    kinds: Kinds = {
        "not-str": non_str,
        "too-long": over_bytes(limit),
        "surrogate": surrogates.map(lambda c: "ok" + c),
    }
    if not optional:
        kinds["none"] = st.none()
    if required:
        kinds["empty"] = st.just("")
    return kinds


def bad_int(
    low: int | None, high: int | None, *, optional: bool = False, huge: bool = True
) -> Kinds:
    kinds: Kinds = {
        "bool": bools,
        "float": st.floats(allow_nan=True),
        "str": st.sampled_from(["5", "1", b"1"]),
    }
    if not optional:
        kinds["none"] = st.none()
    if low is not None:
        kinds["below"] = st.integers(min_value=low - 10**6, max_value=low - 1)
    if high is not None:
        kinds["above"] = st.integers(min_value=high + 1, max_value=high + 10**6)
    if huge:
        kinds["huge"] = huge_ints
    return kinds


def bad_number() -> Kinds:
    """Bad seconds or rates (None is allowed): NaN/inf, zero or less, bools, not numbers."""
    return {
        "nan-inf": nan_inf,
        "bool": bools,
        "not-number": st.sampled_from(["1", "fast", b"1", [1], {"a": 1}]),
        "negative": st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False)
        | st.integers(max_value=-1),
        "zero": st.sampled_from([0, 0.0]),
    }


def bad_id_list(item_kinds: Kinds, good_item: str) -> Kinds:
    """A single string, a non-iterable, or a list with one bad item among good ones."""

    def among_good(bad: Any) -> Any:
        return st.tuples(
            st.integers(min_value=0, max_value=3), st.integers(min_value=0, max_value=3), bad
        ).map(lambda t: [good_item] * t[0] + [t[2]] + [good_item] * t[1])

    kinds: Kinds = {
        "single-str": st.just(good_item),
        "none": st.none(),
        "not-iterable": st.integers() | st.floats(),
        "bytes": st.just(b"abc"),
    }
    kinds.update({f"item-{name}": among_good(bad) for name, bad in item_kinds.items()})
    return kinds


def bad_optional_str(*, empty: bool = False) -> Kinds:
    kinds: Kinds = {"not-str": non_str, "surrogate": surrogates}
    if empty:
        kinds["empty"] = st.just("")
    return kinds


BAD_BOOL: Kinds = {
    "int": st.integers(),
    "other": st.sampled_from(["yes", "", None, 1.0, [True]]),
}
BAD_CALLBACK: Kinds = {"not-callable": st.sampled_from([5, "print", object(), b"x", 1.5, [print]])}
BAD_EXTRA_BODY: Kinds = {
    "not-mapping": st.sampled_from([5, "Extra", [("X", 1)], b"x", object()]),
    "non-json-value": st.dictionaries(
        st.sampled_from(["X", "Y"]), non_json_values, min_size=1, max_size=2
    ),
    "bad-key": st.dictionaries(
        st.sampled_from([5, ("t",), None]), st.integers(), min_size=1, max_size=1
    ),
}
BAD_FILTERS: Kinds = {
    "single-str": st.just("name"),
    "not-iterable": st.integers(),
    "unknown-name": st.lists(st.sampled_from(["Bogus", "", "name "]), min_size=1, max_size=2),
    "not-str-item": st.lists(non_str, min_size=1, max_size=2),
}
BAD_MSG_KEYS = bad_id_list(
    {"not-str": non_str | st.none(), "empty": st.just(""), "surrogate": surrogates},
    "71_1_1698741698",
)
BAD_BODIES: Kinds = {
    "empty-text": st.just(""),
    "not-a-body": st.sampled_from([None, 5, b"hello", object(), 1.5]),
    "no-element": st.just([]),
    "bad-element": st.sampled_from(
        [
            [5],
            {"MsgType": "TIMTextElem"},
            {"MsgType": "TIMTextElem", "MsgContent": {"Text": ""}},
            [{"MsgType": "TIMTextElem", "MsgContent": {"Text": ""}}],
        ]
    ),
    "too-big": st.just("x" * (12 * 1024 + 1)),
    "surrogate": surrogates,
    "non-json-custom": non_json_values.map(
        lambda v: {"MsgType": "TIMCustomElem", "MsgContent": {"Data": v}}
    ),
    "non-json-text": non_json_values.map(
        lambda v: [{"MsgType": "TIMTextElem", "MsgContent": {"Text": v}}]
    ),
}
BAD_OFFLINE_PUSH: Kinds = {
    "not-mapping": st.sampled_from([5, "push", b"x", object(), [1]]),
    "non-json-value": non_json_values.map(lambda v: {"Desc": v}),
    "non-json-nested": non_json_values.map(lambda v: {"ApnsInfo": {"Title": v}}),
    "bad-key": st.just({5: "x"}),
}
BAD_FORBID_CALLBACKS: Kinds = {  # whichever spelling is chosen, these are not one of them
    "not-a-collection": st.sampled_from([5, 1.5, object(), b"before"]),
    "unknown-name": st.sampled_from([["nonsense"], ["ForbidSomething"], [5], [None]]),
}
BAD_COMMANDS: Kinds = {
    "not-str": non_str | st.none(),
    "malformed": st.sampled_from(
        ["", "Add_Subscriber", "add subscriber", "add/subscriber", "../x", "a\n"]
    ),
    "surrogate": surrogates,
}
BAD_CALL_BODIES: Kinds = {
    "not-mapping": st.sampled_from([None, 5, "{}", b"{}", [("a", 1)], [1, 2]]),
    "non-json-value": st.dictionaries(
        st.sampled_from(["A", "B"]), non_json_values, min_size=1, max_size=2
    ),
    "surrogate-key": surrogates.map(lambda s: {s: 1}),
    "tuple-key": st.just({("tuple",): 1}),
}

# --- the check ----------------------------------------------------------------------------------


def check_refusal(exc: BaseException | None, arg: str, value: object) -> None:
    assert exc is not None, f"{arg}={value!r} was accepted"
    if isinstance(exc, tim_oa.ValidationError):
        # ``field`` is set; it (or the message) names the argument (a wire name may be the field)
        assert exc.field, f"{arg}={value!r}: ValidationError without a field: {exc}"
        assert arg in exc.field or arg in str(exc), (
            f"{arg}={value!r}: ValidationError names field={exc.field!r}: {exc}"
        )
        return
    if isinstance(exc, TypeError) and "unexpected keyword argument" not in str(exc):
        assert arg in str(exc), f"{arg}={value!r}: TypeError without the argument's name: {exc}"
        return
    raise AssertionError(f"{arg}={value!r} raised {type(exc).__name__}: {exc}") from exc


def attempt(call: Callable[[], Any]) -> BaseException | None:
    try:
        call()
    except Exception as exc:
        return exc
    return None
