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
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],  # no "explain": it is slow
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

ACCOUNT = "@TOA#_prop"

# --- strategies of bad values -------------------------------------------------------------------

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
    st.none(),
    st.integers(),
    st.floats(allow_nan=True),
    st.binary(max_size=8),
    st.lists(st.text(max_size=3), max_size=2),
    non_json,
    bools,
)
non_json_values = st.one_of(
    nan_inf,
    non_json,
    surrogates,
    st.lists(nan_inf | non_json | surrogates, min_size=1, max_size=2),
    st.dictionaries(st.sampled_from(["a", "b"]), nan_inf | non_json | surrogates, min_size=1),
)


def over_bytes(limit: int) -> st.SearchStrategy[str]:
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


bad_identifiers = st.one_of(
    non_str, st.just(""), controls, controls.map(lambda c: "admin" + c), surrogates
)
bad_account_ids = st.one_of(
    non_str,
    st.just(""),
    st.text(max_size=10).filter(lambda s: not account_id_is_valid(s)),
    (surrogates | controls | st.sampled_from(["é", "中", "\u200b"])).map(lambda c: "@TOA#_" + c),
    st.just("@TOA#_" + "x" * 43),
)
bad_user_ids = st.one_of(non_str, st.just(""), over_bytes(32), surrogates.map(lambda c: "u" + c))


def bad_text(limit: int, *, required: bool = False, optional: bool = True) -> Any:
    strategy = st.one_of(
        non_str.filter(lambda v: not (optional and v is None)),
        over_bytes(limit),
        surrogates.map(lambda c: "ok" + c),
    )
    return strategy | st.just("") if required else strategy


def bad_int(low: int | None, high: int | None, *, optional: bool = False, huge: bool = True) -> Any:
    options: list[Any] = [
        bools,
        st.floats(allow_nan=True),
        st.sampled_from(["5", "1", b"1"]),
        nan_inf,
    ]
    if not optional:
        options.append(st.none())
    if low is not None:
        options.append(st.integers(min_value=low - 10**6, max_value=low - 1))
    if high is not None:
        options.append(st.integers(min_value=high + 1, max_value=high + 10**6))
    if huge:
        options.append(huge_ints)
    return st.one_of(*options)


def bad_number(*, optional: bool = True) -> Any:
    """A bad positive number of seconds or a rate: NaN/inf, <= 0, bools, strings."""
    options: list[Any] = [
        nan_inf,
        bools,
        st.sampled_from(["1", "fast", b"1", [1], {"a": 1}]),
        st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False),
        st.integers(max_value=-1),
        st.sampled_from([0, 0.0]),
    ]
    if not optional:
        options.append(st.none())
    return st.one_of(*options)


def bad_id_list(bad_item: Any, good_item: str) -> Any:
    """A single string, a non-iterable, or a list with one bad item among good ones."""
    with_bad = st.tuples(
        st.integers(min_value=0, max_value=3), st.integers(min_value=0, max_value=3), bad_item
    ).map(lambda t: [good_item] * t[0] + [t[2]] + [good_item] * t[1])
    return st.one_of(st.just(good_item), st.none(), st.integers(), st.just(b"abc"), with_bad)


bad_bool = st.one_of(st.sampled_from([0, 1, "yes", "", None, 1.0]), st.integers())
bad_callback = st.sampled_from([5, "print", object(), b"x", 1.5, [print]])
bad_extra_body = st.one_of(
    st.sampled_from([5, "Extra", [("X", 1)], b"x", object()]),
    st.dictionaries(st.sampled_from(["X", "Y"]), non_json_values, min_size=1, max_size=2),
    st.dictionaries(st.sampled_from([5, ("t",), None]), st.integers(), min_size=1, max_size=1),
)
bad_filters = st.one_of(
    st.just("name"),
    st.integers(),
    st.lists(st.sampled_from(["Bogus", "", "name "]), min_size=1, max_size=2),
    st.lists(non_str.filter(lambda v: v is not None), min_size=1, max_size=2),
)
bad_msg_keys = bad_id_list(st.one_of(non_str, st.just(""), surrogates), "71_1_1698741698")
bad_bodies = st.one_of(
    st.sampled_from(
        [
            "",
            None,
            5,
            b"hello",
            [],
            [5],
            object(),
            {"MsgType": "TIMTextElem"},
            {"MsgType": "TIMTextElem", "MsgContent": {"Text": ""}},
            "x" * (12 * 1024 + 1),
        ]
    ),
    surrogates,
    non_json_values.map(lambda v: {"MsgType": "TIMCustomElem", "MsgContent": {"Data": v}}),
    non_json_values.map(lambda v: [{"MsgType": "TIMTextElem", "MsgContent": {"Text": v}}]),
)
bad_offline_push = st.one_of(
    st.sampled_from([5, "push", b"x", object(), [1]]),
    non_json_values.map(lambda v: {"Desc": v}),
    non_json_values.map(lambda v: {"ApnsInfo": {"Title": v}}),
    st.just({5: "x"}),
)
bad_commands = st.one_of(
    non_str,
    st.sampled_from(["", "Add_Subscriber", "add subscriber", "add/subscriber", "../x", "a\n"]),
    surrogates,
)
bad_call_bodies = st.one_of(
    st.sampled_from([None, 5, "{}", b"{}", [("a", 1)], [1, 2]]),
    st.dictionaries(st.sampled_from(["A", "B"]), non_json_values, min_size=1, max_size=2),
    surrogates.map(lambda s: {s: 1}),
    st.just({("tuple",): 1}),
)

# --- the cases ----------------------------------------------------------------------------------


class Case:
    """One argument of one method, and a strategy of bad values for it."""

    def __init__(self, method: str, arg: str, bad: Any) -> None:
        self.method = method
        self.arg = arg
        self.bad = bad

    @property
    def id(self) -> str:
        return f"{self.method}-{self.arg}"

    def __repr__(self) -> str:
        return f"Case({self.id})"


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

CASES = [
    Case("create_account", "owner", bad_user_ids),
    Case("create_account", "name", bad_text(150, required=True, optional=False)),
    Case(
        "create_account",
        "account_id",
        bad_account_ids.filter(lambda v: v is not None) | st.just("@TOA#_@TOA#mine"),
    ),
    Case("create_account", "introduction", bad_text(400)),
    Case("create_account", "face_url", bad_text(500)),
    Case("create_account", "organization", bad_text(500)),
    Case("create_account", "custom_string", bad_text(3000)),
    Case("create_account", "max_subscribers", bad_int(1, None, optional=True)),
    Case("create_account", "extra_body", bad_extra_body),
    Case("destroy_account", "account_id", bad_account_ids),
    Case("destroy_account", "extra_body", bad_extra_body),
    Case("modify_account", "account_id", bad_account_ids),
    Case("modify_account", "name", bad_text(150)),
    Case("modify_account", "introduction", bad_text(400)),
    Case("modify_account", "custom_string", bad_text(3000)),
    Case("modify_account", "max_subscribers", bad_int(1, None, optional=True)),
    Case("modify_account", "extra_body", bad_extra_body),
    Case("get_accounts", "account_ids", bad_id_list(bad_account_ids, ACCOUNT)),
    Case("get_accounts", "fields", bad_filters),
    Case("subscribed_accounts", "user_id", bad_user_ids),
    Case("subscribed_accounts", "page_size", bad_int(1, 200)),
    Case("subscribed_accounts", "account_fields", bad_filters),
    Case("subscribed_accounts", "self_fields", bad_filters),
    Case("subscribed_accounts", "offset", bad_int(0, None)),
    Case("subscribers", "account_id", bad_account_ids),
    Case("subscribers", "page_size", bad_int(1, 200)),
    Case("subscribers", "cursor", non_str.filter(lambda v: v is not None) | surrogates),
    Case("add_subscribers", "account_id", bad_account_ids),
    Case("add_subscribers", "user_ids", bad_id_list(bad_user_ids, "u1")),
    Case("add_subscribers", "concurrency", bad_int(1, None, optional=True, huge=False)),
    Case("add_subscribers", "on_progress", bad_callback),
    Case("remove_subscribers", "account_id", bad_account_ids),
    Case("remove_subscribers", "user_ids", bad_id_list(bad_user_ids, "u1")),
    Case("remove_subscribers", "concurrency", bad_int(1, None, optional=True, huge=False)),
    Case("remove_subscribers", "on_progress", bad_callback),
    Case("modify_subscriber", "account_id", bad_account_ids),
    Case("modify_subscriber", "user_id", bad_user_ids),
    Case("modify_subscriber", "custom_string", bad_text(3000, optional=False)),
    Case("modify_subscriber", "extra_body", bad_extra_body),
    Case("send_message", "account_id", bad_account_ids),
    Case("send_message", "body", bad_bodies),
    Case("send_message", "random", bad_int(0, 2**32 - 1, optional=True)),
    Case("send_message", "cloud_custom_data", non_str.filter(lambda v: v is not None) | surrogates),
    Case("send_message", "offline_push", bad_offline_push),
    Case("send_message", "online_only", bad_bool),
    Case("send_message", "no_last_msg", bad_bool),
    Case("send_message", "extra_body", bad_extra_body),
    Case("messages", "account_id", bad_account_ids),
    Case("messages", "page_size", bad_int(1, 20)),
    Case("messages", "with_recalled", bad_bool),
    Case(
        "messages",
        "last_msg_key",
        st.one_of(non_str.filter(lambda v: v is not None), st.just(""), surrogates),
    ),
    Case("recall_messages", "account_id", bad_account_ids),
    Case("recall_messages", "msg_keys", bad_msg_keys),
    Case("recall_messages", "reason", bad_text(100)),
    Case("recall_messages", "concurrency", bad_int(1, None, optional=True, huge=False)),
    Case("recall_messages", "on_progress", bad_callback),
    Case("call", "command", bad_commands),
    Case("call", "body", bad_call_bodies),
]

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

SESSION_CASES: list[tuple[str, Any]] = [
    ("sdkappid", bad_int(1, None, huge=False)),
    ("identifier", bad_identifiers),
    ("usersig", st.one_of(st.sampled_from([None, 5, b"sig", "", 1.5, ["sig"]]), surrogates)),
    (
        "base_url",
        st.one_of(
            st.sampled_from(
                [b"https://api.test", 5, "", "api.test", "ftp://api.test", "https://", "//x"]
            ),
            surrogates.map(lambda c: "https://api" + c),
        ),
    ),
    ("timeout", bad_number(optional=True)),
    ("max_retries", bad_int(0, None, optional=False, huge=False).filter(lambda v: v is not None)),
    ("retry_deadline", bad_number(optional=True)),
    ("rate_limit", bad_number(optional=True)),
    ("send_rate", bad_number(optional=True)),
    ("max_concurrency", bad_int(1, None, optional=True, huge=False)),
    ("max_response_bytes", bad_int(1, None, optional=True, huge=False)),
    ("user_agent", st.sampled_from([5, b"ua", "ua\r\nX-Injected: 1", "ua\n", "\ud800"])),
    ("backend", st.sampled_from(["requests", "", "HTTPX ", 5])),
]


@pytest.mark.parametrize(("arg", "bad"), SESSION_CASES, ids=[a for a, _ in SESSION_CASES])
@PROPERTY
@given(data=st.data())
def test_invalid_session_options_are_refused(arg: str, bad: Any, data: st.DataObject) -> None:
    value = data.draw(bad, label=arg)
    count("property cases")
    sent: list[httpx.Request] = []
    exc = attempt(lambda: asyncio.run(_construct_and_call(sent, {arg: value})))
    check_refusal(exc, arg, value)
    assert sent == []


@PROPERTY
@given(value=st.one_of(st.sampled_from([5, object(), 1.5, b"sg"]), non_json))
def test_an_invalid_region_is_refused(value: object) -> None:
    count("property cases")
    sent: list[httpx.Request] = []
    options = {"region": value, "base_url": None}
    check_refusal(attempt(lambda: asyncio.run(_construct_and_call(sent, options))), "region", value)
    assert sent == []


WITH_OPTIONS_CASES: list[tuple[str, Any]] = [
    ("identifier", bad_identifiers),
    ("usersig", st.sampled_from([None, 5, b"sig", "", 1.5])),
    ("timeout", bad_number(optional=True)),
    ("max_retries", st.sampled_from([-1, True, 1.5, math.nan, "3"])),
    ("retry_deadline", bad_number(optional=True)),
    ("rate_limit", bad_number(optional=True)),
    ("send_rate", bad_number(optional=True)),
    ("max_concurrency", st.sampled_from([0, -1, True, 1.5, "10", math.nan])),
]


@pytest.mark.parametrize(("arg", "bad"), WITH_OPTIONS_CASES, ids=[a for a, _ in WITH_OPTIONS_CASES])
@PROPERTY
@given(data=st.data())
def test_invalid_with_options_are_refused_before_any_request(
    arg: str, bad: Any, data: st.DataObject
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


SIGNER_CASES: list[tuple[str, Any]] = [
    ("sdkappid", bad_int(1, None, huge=False)),
    ("secret_key", st.one_of(non_str, st.just(""), surrogates)),
    (
        "expire",
        st.one_of(
            st.sampled_from([0, -1, 0.0, 86400.5, "86400", True, [86400]]),
            nan_inf,
            st.floats(min_value=0.01, max_value=1e6).filter(lambda f: not f.is_integer()),
        ),
    ),
    (
        "renew_before",
        st.sampled_from([-1, 86400, 10**9, 1.5, "300", True, math.nan, math.inf]),
    ),
]


@pytest.mark.parametrize(("arg", "bad"), SIGNER_CASES, ids=[a for a, _ in SIGNER_CASES])
@PROPERTY
@given(data=st.data())
def test_invalid_signer_arguments_are_refused(arg: str, bad: Any, data: st.DataObject) -> None:
    value = data.draw(bad, label=arg)
    count("property cases")
    kwargs: dict[str, Any] = {"sdkappid": SDKAPPID, "secret_key": SECRET_KEY, arg: value}
    check_refusal(attempt(lambda: tim_oa.UserSigSigner(**kwargs)), arg, value)


GENERATE_CASES: list[tuple[str, Any]] = [
    ("identifier", bad_identifiers),
    ("expire", st.sampled_from([0, -5, 1.5, "600", True, math.nan, math.inf])),
    ("now", st.sampled_from(["now", 1.5, True, math.nan, math.inf, [1]])),
]


@pytest.mark.parametrize(("arg", "bad"), GENERATE_CASES, ids=[a for a, _ in GENERATE_CASES])
@PROPERTY
@given(data=st.data())
def test_invalid_generate_arguments_are_refused(arg: str, bad: Any, data: st.DataObject) -> None:
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
