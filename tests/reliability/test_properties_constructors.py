"""Property tests of the constructors and session options: ``Session``, ``with_options``,
``UserSigSigner``, ``generate`` and ``decode_usersig`` refuse bad values before any request
(issue 8, items 8 and 13; issue 9, signer arguments). See ``test_properties`` for the method
arguments and ``bad_values`` for the kinds of values tried.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tim_oa

from .bad_values import (
    PROPERTY,
    Kinds,
    attempt,
    bad_identifiers,
    bad_int,
    bad_number,
    bools,
    check_refusal,
    non_json,
    non_str,
    surrogates,
)
from .support import ADMIN, SDKAPPID, SECRET_KEY, count, mock_session

ACCOUNT = "@TOA#_prop"


async def _construct_and_call(sent: list[httpx.Request], options: dict[str, Any]) -> None:
    """Build a session with ``options`` and make one call: refusing at either point is fine."""
    async with mock_session(sent, **options) as oa:
        await oa.destroy_account(ACCOUNT)


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
