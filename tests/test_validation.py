"""One rule per argument: the session, the signer and the limiters refuse the same values alike;
region names; a signer for another app is refused when the session is built."""

from __future__ import annotations

import pytest

import tim_oa
from tim_oa import _validation as V
from tim_oa.limiters import LocalLimiter

from .conftest import BASE_URL, SDKAPPID

KEY = "test-secret-key-never-shown"

BAD_IDENTIFIERS = [
    "",
    "admin\n",
    "ad\x00min",
    "admin\x7f",
    "admin\x85",
    "admin\u2028x",
    "admin\u2029",
    "admin\ud800",
    5,
    None,
]


@pytest.mark.parametrize("identifier", BAD_IDENTIFIERS)
def test_session_and_signer_refuse_the_same_identifiers(identifier: object) -> None:
    signer = tim_oa.UserSigSigner(SDKAPPID, KEY)
    with pytest.raises(tim_oa.ValidationError) as by_session:
        tim_oa.Session(SDKAPPID, identifier, signer, base_url=BASE_URL)  # type: ignore[arg-type]
    with pytest.raises(tim_oa.ValidationError) as by_signer:
        signer.generate(identifier)  # type: ignore[arg-type]
    with pytest.raises(tim_oa.ValidationError) as by_rule:
        V.check_identifier(identifier)
    assert by_session.value.field == by_signer.value.field == by_rule.value.field == "identifier"
    assert str(by_session.value) == str(by_signer.value) == str(by_rule.value)


@pytest.mark.parametrize("identifier", ["administrator", "管理员", "a b", "x" * 200])
def test_session_and_signer_accept_the_same_identifiers(identifier: str) -> None:
    signer = tim_oa.UserSigSigner(SDKAPPID, KEY)
    assert tim_oa.Session(SDKAPPID, identifier, signer, base_url=BASE_URL).identifier == identifier
    assert signer.generate(identifier)


@pytest.mark.parametrize("sdkappid", [0, -1, True, "1400000000", 1.5])
def test_session_and_signer_refuse_the_same_sdkappids(sdkappid: object) -> None:
    with pytest.raises(tim_oa.ValidationError) as by_session:
        tim_oa.Session(sdkappid, "admin", "sig", base_url=BASE_URL)  # type: ignore[arg-type]
    with pytest.raises(tim_oa.ValidationError) as by_signer:
        tim_oa.UserSigSigner(sdkappid, KEY)  # type: ignore[arg-type]
    assert str(by_session.value) == str(by_signer.value)


@pytest.mark.parametrize("rate", [0, -1.0, float("inf"), float("nan"), True, "200"])
def test_session_and_limiter_refuse_the_same_rates(rate: object) -> None:
    with pytest.raises(tim_oa.ValidationError) as by_session:
        tim_oa.Session(SDKAPPID, "admin", "sig", base_url=BASE_URL, rate_limit=rate)  # type: ignore[arg-type]
    with pytest.raises(tim_oa.ValidationError) as by_limiter:
        LocalLimiter(rate=rate)  # type: ignore[arg-type]
    assert str(by_session.value) == str(by_limiter.value).replace("rate", "rate_limit", 1)


def test_retry_policy_and_session_share_the_count_rule() -> None:
    with pytest.raises(tim_oa.ValidationError) as by_policy:
        tim_oa.RetryPolicy(max_retries=-1)
    with pytest.raises(tim_oa.ValidationError) as by_session:
        tim_oa.Session(SDKAPPID, "admin", "sig", base_url=BASE_URL, max_retries=-1)
    assert str(by_policy.value) == str(by_session.value)


# -- region names --


@pytest.mark.parametrize(
    ("name", "region"),
    [
        ("singapore", tim_oa.Region.SINGAPORE),
        ("SINGAPORE", tim_oa.Region.SINGAPORE),
        ("Silicon-Valley", tim_oa.Region.SILICON_VALLEY),
        ("silicon valley", tim_oa.Region.SILICON_VALLEY),
        (" tokyo ", tim_oa.Region.TOKYO),
    ],
)
def test_session_takes_the_names_region_takes(name: str, region: tim_oa.Region) -> None:
    session = tim_oa.Session(SDKAPPID, "admin", "sig", region=name)
    assert session.region is region is tim_oa.Region(name)
    assert session.base_url == region.base_url()


def test_a_bad_region_name_lists_the_valid_ones() -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        tim_oa.Session(SDKAPPID, "admin", "sig", region="atlantis")
    assert info.value.field == "region"
    for valid in ("china", "singapore", "silicon_valley", "frankfurt"):
        assert valid in str(info.value)


# -- a signer for another app --


def test_a_signer_for_another_sdkappid_is_refused_when_the_session_is_built() -> None:
    other = tim_oa.UserSigSigner(SDKAPPID + 1, KEY)
    with pytest.raises(tim_oa.ValidationError) as info:
        tim_oa.Session(SDKAPPID, "admin", other, base_url=BASE_URL)
    assert info.value.field == "usersig"
    assert str(SDKAPPID + 1) in str(info.value) and str(SDKAPPID) in str(info.value)
    assert KEY not in str(info.value)


def test_with_options_refuses_a_signer_for_another_sdkappid() -> None:
    session = tim_oa.Session(
        SDKAPPID, "admin", tim_oa.UserSigSigner(SDKAPPID, KEY), base_url=BASE_URL
    )
    with pytest.raises(tim_oa.ValidationError):
        session.with_options(usersig=tim_oa.UserSigSigner(SDKAPPID + 1, KEY))


def test_a_fixed_usersig_made_for_another_sdkappid_is_refused() -> None:
    usersig = tim_oa.UserSigSigner(SDKAPPID + 1, KEY).generate("admin")
    with pytest.raises(tim_oa.ValidationError) as info:
        tim_oa.Session(SDKAPPID, "admin", usersig, base_url=BASE_URL)
    assert usersig not in str(info.value)
    own = tim_oa.UserSigSigner(SDKAPPID, KEY).generate("admin")
    assert tim_oa.Session(SDKAPPID, "admin", own, base_url=BASE_URL)
    # Something that is not a v2 UserSig is the server's to judge.
    assert tim_oa.Session(SDKAPPID, "admin", "opaque-token", base_url=BASE_URL)


# -- the rules other modules (transport, webhooks, the Redis limiter) can call --


def test_rules_for_the_other_modules() -> None:
    assert V.check_token(None) is None and V.check_token("t0k") == "t0k"
    for bad in ("", "  ", 5):
        with pytest.raises(tim_oa.ValidationError) as info:
            V.check_token(bad)
        assert info.value.field == "token"
    assert V.check_printable_ascii("tim-oa/1.0 (x)", "user_agent")
    for bad_agent in ("", "caf\u00e9", "a\nb", None):
        with pytest.raises(tim_oa.ValidationError):
            V.check_printable_ascii(bad_agent, "user_agent")
    assert V.check_share(1, "margin") == 1.0
    with pytest.raises(tim_oa.ValidationError):
        V.check_share(0, "margin")
    assert V.check_number(0.0, "max_skew", minimum=0.0) == 0.0
    with pytest.raises(tim_oa.ValidationError):
        V.check_number(float("nan"), "max_skew", minimum=0.0)
    assert V.check_whole_seconds(86400.0, "expire", minimum=1) == 86400
    with pytest.raises(tim_oa.ValidationError):
        V.check_whole_seconds(1.5, "expire", minimum=1)
