"""examples/oa_env.py: a session from the environment, with the command line's variables."""

from __future__ import annotations

import pytest

import tim_oa

import oa_env


def test_a_base_url_and_a_secret_key_make_a_signing_session() -> None:
    oa = oa_env.session_from_env(
        {"TIM_OA_SDKAPPID": "1400000001", "TIM_OA_SECRET_KEY": "k", "TIM_OA_BASE_URL": "http://h"}
    )
    assert (oa.sdkappid, oa.identifier, oa.base_url) == (1400000001, "administrator", "http://h")
    assert oa.region is None


def test_a_region_name_identifier_and_usersig() -> None:
    oa = oa_env.session_from_env(
        {
            "TIM_OA_SDKAPPID": "1400000001",
            "TIM_OA_USERSIG": "sig",
            "TIM_OA_REGION": "silicon-valley",
            "TIM_OA_IDENTIFIER": "admin2",
        }
    )
    assert (oa.identifier, oa.region) == ("admin2", tim_oa.Region.SILICON_VALLEY)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({}, "TIM_OA_SDKAPPID"),
        ({"TIM_OA_SDKAPPID": "x"}, "TIM_OA_SDKAPPID"),
        ({"TIM_OA_SDKAPPID": "1"}, "TIM_OA_SECRET_KEY"),
        ({"TIM_OA_SDKAPPID": "1", "TIM_OA_SECRET_KEY": "k"}, "TIM_OA_REGION"),
        ({"TIM_OA_SDKAPPID": "1", "TIM_OA_SECRET_KEY": "k", "TIM_OA_REGION": "mars"}, "REGION"),
        (
            {
                "TIM_OA_SDKAPPID": "1",
                "TIM_OA_USERSIG": "s",
                "TIM_OA_REGION": "china",
                "TIM_OA_BASE_URL": "http://h",
            },
            "keep one",
        ),
    ],
)
def test_a_missing_or_bad_setting_is_named(environ: dict[str, str], named: str) -> None:
    with pytest.raises(oa_env.ConfigError, match=named):
        oa_env.session_from_env(environ)


def test_error_answers_tell_the_callers_mistakes_from_ours() -> None:
    import oa_http

    def answer(exc: tim_oa.TimOAError) -> tuple[int, dict[str, object]]:
        return oa_http.error_answer(exc)

    status, body = answer(tim_oa.ValidationError("name is too long", field="name"))
    assert (status, body["field"], body["detail"]) == (422, "name", "name is too long")
    assert answer(tim_oa.AccountNotFoundError(130004, "gone"))[0] == 404
    assert answer(tim_oa.AccountIdInUseError(130008, "used"))[0] == 409
    assert answer(tim_oa.RateLimitedError(60007, "slow down"))[0] == 503
    # Our credentials: a 500 without the details, which are logged instead.
    status, body = answer(tim_oa.AuthError(70009, "bad signature"))
    assert status == 500 and "detail" not in body and body["code"] == 70009
    timeout = tim_oa.TransportError("timed out", command="c", is_timeout=True)
    assert answer(timeout)[0] == 504
    assert answer(tim_oa.MalformedResponseError("not JSON", command="c"))[0] == 502
