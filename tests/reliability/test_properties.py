"""Property tests: invalid input to any public method or constructor is refused before any I/O
(issue 8, items 8 and 13; issue 9, signer arguments).

For every argument of every public ``Session`` method, of ``Session``, ``with_options``,
``UserSigSigner`` and ``decode_usersig``, hypothesis draws invalid values (NaN/inf, huge,
negative, bools, None, lone surrogates, control characters, empty strings, bytes, nested
non-JSON objects). Each must raise ``ValidationError`` whose ``field`` names the argument (or a
``TypeError`` naming it), and nothing may reach the transport, which counts requests. A
baseline test per method proves the valid arguments do go on the wire, so the harness is not
vacuous. Runs are deterministic (``derandomize=True``, no example database).
"""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import tim_oa

from .support import ADMIN, SDKAPPID, SECRET_KEY, count, mock_session

PROPERTY = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],  # no "explain": it is slow
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

ACCOUNT = "@TOA#_prop"

# --- kinds of bad values ------------------------------------------------------------------------
# Each generator returns named *kinds* of bad values; every kind becomes its own test item, so
# each kind is tried on every run whatever hypothesis draws inside it.

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

# --- the cases ----------------------------------------------------------------------------------


class Case:
    """One kind of bad value for one argument of one method."""

    def __init__(self, method: str, arg: str, kind: str, bad: Any) -> None:
        self.method = method
        self.arg = arg
        self.kind = kind
        self.bad = bad

    @property
    def id(self) -> str:
        return f"{self.method}-{self.arg}-{self.kind}"

    def __repr__(self) -> str:
        return f"Case({self.id})"


def cases(method: str, arg: str, kinds: Kinds) -> list[Case]:
    return [Case(method, arg, kind, bad) for kind, bad in kinds.items()]


BASE: dict[str, dict[str, Any]] = {
    "create_account": {"owner": "107867", "name": "News"},
    "destroy_account": {"account_id": ACCOUNT},
    "modify_account": {"account_id": ACCOUNT, "name": "News"},
    "get_accounts": {"account_ids": [ACCOUNT]},
    "subscribed_accounts": {"user_id": "107867"},
    "subscribers": {"account_id": ACCOUNT},
    "add_subscribers": {"account_id": ACCOUNT, "user_ids": ["u1", "u2"]},
    "remove_subscribers": {"account_id": ACCOUNT, "user_ids": ["u1", "u2"]},
    "modify_subscriber": {"account_id": ACCOUNT, "user_id": "u1", "custom_string": "c"},
    "send_message": {"account_id": ACCOUNT, "body": "hello"},
    "messages": {"account_id": ACCOUNT},
    "recall_messages": {"account_id": ACCOUNT, "msg_keys": ["71_1_1698741698"]},
    "call": {"command": "destroy_official_account", "body": {"Official_Account": ACCOUNT}},
}

ARGUMENTS: list[tuple[str, str, Kinds]] = [
    ("create_account", "owner", bad_user_ids()),
    ("create_account", "name", bad_text(150, required=True, optional=False)),
    ("create_account", "account_id", bad_account_ids(none=False, custom=True)),
    ("create_account", "introduction", bad_text(400)),
    ("create_account", "face_url", bad_text(500)),
    ("create_account", "organization", bad_text(500)),
    ("create_account", "custom_string", bad_text(3000)),
    ("create_account", "max_subscribers", bad_int(1, None, optional=True)),
    ("create_account", "extra_body", BAD_EXTRA_BODY),
    ("destroy_account", "account_id", bad_account_ids()),
    ("destroy_account", "extra_body", BAD_EXTRA_BODY),
    ("modify_account", "account_id", bad_account_ids()),
    ("modify_account", "name", bad_text(150)),
    ("modify_account", "introduction", bad_text(400)),
    ("modify_account", "custom_string", bad_text(3000)),
    ("modify_account", "max_subscribers", bad_int(1, None, optional=True)),
    ("modify_account", "extra_body", BAD_EXTRA_BODY),
    ("get_accounts", "account_ids", bad_id_list(bad_account_ids(), ACCOUNT)),
    ("get_accounts", "fields", BAD_FILTERS),
    ("subscribed_accounts", "user_id", bad_user_ids()),
    ("subscribed_accounts", "page_size", bad_int(1, 200)),
    ("subscribed_accounts", "account_fields", BAD_FILTERS),
    ("subscribed_accounts", "self_fields", BAD_FILTERS),
    ("subscribed_accounts", "offset", bad_int(0, None)),
    ("subscribers", "account_id", bad_account_ids()),
    ("subscribers", "page_size", bad_int(1, 200)),
    ("subscribers", "cursor", bad_optional_str()),
    ("add_subscribers", "account_id", bad_account_ids()),
    ("add_subscribers", "user_ids", bad_id_list(bad_user_ids(), "u1")),
    ("add_subscribers", "concurrency", bad_int(1, None, optional=True, huge=False)),
    ("add_subscribers", "on_progress", BAD_CALLBACK),
    ("remove_subscribers", "account_id", bad_account_ids()),
    ("remove_subscribers", "user_ids", bad_id_list(bad_user_ids(), "u1")),
    ("remove_subscribers", "concurrency", bad_int(1, None, optional=True, huge=False)),
    ("remove_subscribers", "on_progress", BAD_CALLBACK),
    ("modify_subscriber", "account_id", bad_account_ids()),
    ("modify_subscriber", "user_id", bad_user_ids()),
    ("modify_subscriber", "custom_string", bad_text(3000, optional=False)),
    ("modify_subscriber", "extra_body", BAD_EXTRA_BODY),
    ("send_message", "account_id", bad_account_ids()),
    ("send_message", "body", BAD_BODIES),
    ("send_message", "random", bad_int(0, 2**32 - 1, optional=True)),
    ("send_message", "cloud_custom_data", bad_optional_str()),
    ("send_message", "offline_push", BAD_OFFLINE_PUSH),
    ("send_message", "online_only", BAD_BOOL),
    ("send_message", "no_last_msg", BAD_BOOL),
    ("send_message", "extra_body", BAD_EXTRA_BODY),
    ("send_message", "forbid_callbacks", BAD_FORBID_CALLBACKS),
    ("messages", "account_id", bad_account_ids()),
    ("messages", "page_size", bad_int(1, 20)),
    ("messages", "with_recalled", BAD_BOOL),
    ("messages", "last_msg_key", bad_optional_str(empty=True)),
    ("recall_messages", "account_id", bad_account_ids()),
    ("recall_messages", "msg_keys", BAD_MSG_KEYS),
    ("recall_messages", "reason", bad_text(100)),
    ("recall_messages", "concurrency", bad_int(1, None, optional=True, huge=False)),
    ("recall_messages", "on_progress", BAD_CALLBACK),
    ("call", "command", BAD_COMMANDS),
    ("call", "body", BAD_CALL_BODIES),
]
CASES = [case for method, arg, kinds in ARGUMENTS for case in cases(method, arg, kinds)]

# --- the harness --------------------------------------------------------------------------------


async def _invoke(method: str, kwargs: dict[str, Any], sent: list[httpx.Request]) -> Any:
    async with mock_session(sent) as oa:
        outcome = getattr(oa, method)(**kwargs)
        if inspect.isawaitable(outcome):
            return await outcome
        return await outcome.collect()  # a pager: input must already have been refused


async def _construct_and_call(sent: list[httpx.Request], options: dict[str, Any]) -> None:
    """Build a session with ``options`` and make one call: refusing at either point is fine."""
    async with mock_session(sent, **options) as oa:
        await oa.destroy_account(ACCOUNT)


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


@pytest.mark.parametrize("method", list(BASE))
def test_the_baseline_arguments_are_valid_and_go_on_the_wire(method: str) -> None:
    sent: list[httpx.Request] = []
    asyncio.run(_invoke(method, dict(BASE[method]), sent))
    assert sent, f"{method} with its baseline arguments sent nothing: the harness is vacuous"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@PROPERTY
@given(data=st.data())
def test_invalid_arguments_are_refused_before_any_request(case: Case, data: st.DataObject) -> None:
    value = data.draw(case.bad, label=case.arg)
    count("property cases")
    kwargs = {**BASE[case.method], case.arg: value}
    sent: list[httpx.Request] = []
    exc = attempt(lambda: asyncio.run(_invoke(case.method, kwargs, sent)))
    check_refusal(exc, case.arg, value)
    assert sent == [], f"{case.arg}={value!r}: {len(sent)} request(s) sent before refusing"


# --- constructors ------------------------------------------------------------------------------


def without_none(kinds: Kinds) -> Kinds:
    return {name: bad for name, bad in kinds.items() if name != "none"}


SESSION_ARGUMENTS: list[tuple[str, Kinds]] = [
    ("sdkappid", bad_int(1, None, huge=False)),
    ("identifier", bad_identifiers()),
    (
        "usersig",
        {
            "not-a-provider": st.sampled_from([None, 5, b"sig", 1.5, ["sig"]]),
            "empty": st.just(""),
            "surrogate": surrogates,
        },
    ),
    (
        "base_url",
        {
            "not-str": st.sampled_from([b"https://api.test", 5, ["https://api.test"]]),
            "not-a-url": st.sampled_from(["", "api.test", "ftp://api.test", "https://", "//x"]),
            "surrogate": surrogates.map(lambda c: "https://api" + c),
        },
    ),
    ("timeout", bad_number()),
    ("max_retries", without_none(bad_int(0, None, huge=False))),
    ("retry_deadline", bad_number()),
    ("rate_limit", bad_number()),
    ("send_rate", bad_number()),
    ("max_concurrency", bad_int(1, None, optional=True, huge=False)),
    ("max_response_bytes", bad_int(1, None, optional=True, huge=False)),
    (
        "user_agent",
        {
            "not-str": st.sampled_from([5, b"ua", ["ua"]]),
            "control": st.sampled_from(["ua\r\nX-Injected: 1", "ua\n", "ua\x00"]),
            "surrogate": surrogates,
        },
    ),
    ("backend", {"unknown": st.sampled_from(["requests", "", "HTTPX ", 5])}),
    ("region", {"not-a-region": st.sampled_from([5, object(), 1.5, b"sg"]) | non_json}),
]
SESSION_CASES = [
    (arg, kind, bad) for arg, kinds in SESSION_ARGUMENTS for kind, bad in kinds.items()
]


@pytest.mark.parametrize(
    ("arg", "kind", "bad"), SESSION_CASES, ids=[f"{a}-{k}" for a, k, _ in SESSION_CASES]
)
@PROPERTY
@given(data=st.data())
def test_invalid_session_options_are_refused(
    arg: str, kind: str, bad: Any, data: st.DataObject
) -> None:
    value = data.draw(bad, label=arg)
    count("property cases")
    sent: list[httpx.Request] = []
    options = {arg: value, "base_url": None} if arg == "region" else {arg: value}
    exc = attempt(lambda: asyncio.run(_construct_and_call(sent, options)))
    check_refusal(exc, arg, value)
    assert sent == []


WITH_OPTIONS_ARGUMENTS: list[tuple[str, Kinds]] = [
    ("identifier", bad_identifiers()),
    ("usersig", {"not-a-provider": st.sampled_from([None, 5, b"sig", "", 1.5])}),
    ("timeout", bad_number()),
    ("max_retries", {"bad": st.sampled_from([-1, True, 1.5, math.nan, "3"])}),
    ("retry_deadline", bad_number()),
    ("rate_limit", bad_number()),
    ("send_rate", bad_number()),
    ("max_concurrency", {"bad": st.sampled_from([0, -1, True, 1.5, "10", math.nan])}),
]
WITH_OPTIONS_CASES = [
    (arg, kind, bad) for arg, kinds in WITH_OPTIONS_ARGUMENTS for kind, bad in kinds.items()
]


@pytest.mark.parametrize(
    ("arg", "kind", "bad"), WITH_OPTIONS_CASES, ids=[f"{a}-{k}" for a, k, _ in WITH_OPTIONS_CASES]
)
@PROPERTY
@given(data=st.data())
def test_invalid_with_options_are_refused_before_any_request(
    arg: str, kind: str, bad: Any, data: st.DataObject
) -> None:
    value = data.draw(bad, label=arg)
    count("property cases")
    sent: list[httpx.Request] = []

    async def run() -> None:
        async with mock_session(sent) as oa:
            derived = oa.with_options(**{arg: value})
            await derived.destroy_account(ACCOUNT)

    check_refusal(attempt(lambda: asyncio.run(run())), arg, value)
    assert sent == []


SIGNER_ARGUMENTS: list[tuple[str, Kinds]] = [
    ("sdkappid", bad_int(1, None, huge=False)),
    ("secret_key", {"not-str": non_str | st.none(), "empty": st.just(""), "surrogate": surrogates}),
    (
        "expire",
        {
            "not-positive": st.sampled_from([0, -1, 0.0, -86400]),
            "fractional": st.floats(min_value=0.01, max_value=1e6).filter(
                lambda f: not f.is_integer()
            ),
            "not-number": st.sampled_from(["86400", True, [86400], math.nan, math.inf]),
        },
    ),
    (
        "renew_before",
        {
            "out-of-range": st.sampled_from([-1, 86400, 10**9]),
            "not-int": st.sampled_from([1.5, "300", True, math.nan, math.inf]),
        },
    ),
]
SIGNER_CASES = [(a, k, b) for a, kinds in SIGNER_ARGUMENTS for k, b in kinds.items()]


@pytest.mark.parametrize(
    ("arg", "kind", "bad"), SIGNER_CASES, ids=[f"{a}-{k}" for a, k, _ in SIGNER_CASES]
)
@PROPERTY
@given(data=st.data())
def test_invalid_signer_arguments_are_refused(
    arg: str, kind: str, bad: Any, data: st.DataObject
) -> None:
    value = data.draw(bad, label=arg)
    count("property cases")
    kwargs: dict[str, Any] = {"sdkappid": SDKAPPID, "secret_key": SECRET_KEY, arg: value}
    check_refusal(attempt(lambda: tim_oa.UserSigSigner(**kwargs)), arg, value)


GENERATE_ARGUMENTS: list[tuple[str, Kinds]] = [
    ("identifier", bad_identifiers()),
    ("expire", {"bad": st.sampled_from([0, -5, 1.5, "600", True, math.nan, math.inf])}),
    ("now", {"bad": st.sampled_from(["now", 1.5, True, math.nan, math.inf, [1]])}),
]
GENERATE_CASES = [(a, k, b) for a, kinds in GENERATE_ARGUMENTS for k, b in kinds.items()]


@pytest.mark.parametrize(
    ("arg", "kind", "bad"), GENERATE_CASES, ids=[f"{a}-{k}" for a, k, _ in GENERATE_CASES]
)
@PROPERTY
@given(data=st.data())
def test_invalid_generate_arguments_are_refused(
    arg: str, kind: str, bad: Any, data: st.DataObject
) -> None:
    value = data.draw(bad, label=arg)
    count("property cases")
    signer = tim_oa.UserSigSigner(SDKAPPID, SECRET_KEY)
    kwargs: dict[str, Any] = {"identifier": ADMIN, arg: value}
    check_refusal(attempt(lambda: signer.generate(**kwargs)), arg, value)


@PROPERTY
@given(value=st.one_of(st.none(), st.integers(), st.binary(max_size=8), non_json, bools))
def test_decode_usersig_refuses_what_is_not_text(value: object) -> None:
    count("property cases")
    check_refusal(attempt(lambda: tim_oa.decode_usersig(value)), "usersig", value)  # type: ignore[arg-type]


# --- explicit cases ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "http://console.tim.qq.com",
        "http://adminapisgp.im.qcloud.com",
        "http://adminapi.my-imcloud.com",
        "http://adminapiusa.im.qcloud.com:80",
        "http://CONSOLE.TIM.QQ.COM",
        "http://somewhere.qq.com/prefix",
    ],
)
def test_plain_http_to_a_tencent_host_is_refused_unless_allowed(base_url: str) -> None:
    sent: list[httpx.Request] = []
    exc = attempt(lambda: mock_session(sent, base_url=base_url))
    check_refusal(exc, "base_url", base_url)
    mock_session(sent, base_url=base_url, allow_insecure_http=True)  # an explicit opt-in works
    mock_session(sent, base_url=base_url.replace("http://", "https://", 1).lower())


@pytest.mark.parametrize(
    "base_url", ["http://127.0.0.1:8080", "http://localhost:9000", "http://emulator.internal"]
)
def test_plain_http_elsewhere_is_fine(base_url: str) -> None:
    mock_session([], base_url=base_url)


@pytest.mark.parametrize("expire", [86400, 86400.0, 3600.0])
def test_the_signer_takes_whole_float_seconds_exactly(expire: float) -> None:
    signer = tim_oa.UserSigSigner(SDKAPPID, SECRET_KEY, expire=expire)  # type: ignore[arg-type]
    claims = tim_oa.decode_usersig(signer.generate(ADMIN))
    assert claims["TLS.expire"] == int(expire) and type(claims["TLS.expire"]) is int


def test_modify_account_without_fields_sends_nothing() -> None:
    sent: list[httpx.Request] = []
    exc = attempt(lambda: asyncio.run(_invoke("modify_account", {"account_id": ACCOUNT}, sent)))
    assert isinstance(exc, tim_oa.ValidationError)
    assert sent == []
