"""The pure wire layer and the error-code table: no network involved."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tim_oa
from tim_oa import _wire
from tim_oa._codes import NEVER, api_error, error_class_for, rule_for
from tim_oa._wire import RawResponse


def raw(content: bytes, status: int = 200, retry_after: float | None = None) -> RawResponse:
    return RawResponse(status, content, retry_after)


def test_path_and_query() -> None:
    assert _wire.command_path("add_subscriber") == (
        "/v4/official_account_open_http_svc/add_subscriber"
    )
    query = _wire.signed_query(1400000000, "administrator", "SIG", 7)
    assert (
        query
        == "sdkappid=1400000000&identifier=administrator&usersig=SIG&random=7&contenttype=json"
    )


def test_random_covers_unsigned_32_bits() -> None:
    values = {_wire.new_random() for _ in range(2000)}
    assert all(0 <= v <= 2**32 - 1 for v in values)
    assert len(values) > 1990  # fresh every time
    assert max(values) > 2**31  # uses the upper half of the range


def test_encode_body_is_compact_utf8_json() -> None:
    raw = _wire.encode_body({"Name": "新闻"})
    assert raw == '{"Name":"新闻"}'.encode()
    assert _wire.encode_body({}) == b"{}"


def test_decode_ok_tolerates_request_id_and_unknown_fields() -> None:
    content = json.dumps(
        {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "RequestId": "x", "New": 1}
    ).encode()
    assert _wire.decode_response("c", raw(content))["New"] == 1
    # A success may leave out ErrorCode as long as ActionStatus says OK ...
    ok_only = b'{"ActionStatus": "OK", "OfficialAccountUserID": "@TOA#_a"}'
    assert _wire.decode_response("c", raw(ok_only))["OfficialAccountUserID"] == "@TOA#_a"
    # ... but an answer that says nothing of its status is not a success.
    for bare in (b"{}", b'{"OfficialAccountUserID": "@TOA#_a"}', b'{"ActionStatus": "?"}'):
        with pytest.raises(tim_oa.MalformedResponseError):
            _wire.decode_response("c", raw(bare))


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (6017, tim_oa.InvalidRequestError),
        (20001, tim_oa.InvalidRequestError),
        (70001, tim_oa.UserSigExpiredError),
        (70009, tim_oa.AuthError),
        (130002, tim_oa.PermissionDeniedError),
        (130004, tim_oa.AccountNotFoundError),
        (130006, tim_oa.SubscriberLimitError),
        (130008, tim_oa.AccountIdInUseError),
        (130010, tim_oa.SubscriptionLimitError),
        (131000, tim_oa.ServiceNotEnabledError),
        (60007, tim_oa.RateLimitedError),
        (60011, tim_oa.RateLimitedError),
        (60018, tim_oa.RateLimitedError),
        (60019, tim_oa.RateLimitedError),
        (70050, tim_oa.AuthError),  # a UserSig error (pipeline: issue 9)
        (10002, tim_oa.ServerError),
        (10004, tim_oa.ServerError),
        (20005, tim_oa.ServerError),
        (999999, tim_oa.ApiError),
    ],
)
def test_error_envelope_raises_the_contract_class(code: int, cls: type[Exception]) -> None:
    content = json.dumps(
        {"ActionStatus": "FAIL", "ErrorCode": code, "ErrorInfo": "why", "RequestId": "Id-9"}
    ).encode()
    with pytest.raises(cls) as info:
        _wire.decode_response("add_subscriber", raw(content))
    err = info.value
    assert type(err) is cls
    assert isinstance(err, tim_oa.ApiError) and isinstance(err, tim_oa.TimOAError)
    assert (err.code, err.info, err.command, err.request_id) == (
        code,
        "why",
        "add_subscriber",
        "Id-9",
    )
    assert str(code) in str(err) and "add_subscriber" in str(err)


def test_user_sig_expired_is_an_auth_error() -> None:
    assert issubclass(tim_oa.UserSigExpiredError, tim_oa.AuthError)
    assert issubclass(tim_oa.ValidationError, ValueError)


def is_retryable_code(code: int, command: str | None = None) -> bool:
    return rule_for(code, command).retry is not NEVER


def test_retryable_codes_are_the_transient_ones() -> None:
    assert {c for c in (10002, 10004, 20005, 60007, 60011, 60018, 60019, 70050)} == {
        c for c in (10002, 10004, 20005, 60007, 60011, 60018, 60019, 70050) if is_retryable_code(c)
    }
    for code in (6017, 20001, 130002, 130004, 130008, 70009, 123456):
        assert not is_retryable_code(code)
    assert error_class_for(999999) is tim_oa.ApiError


def test_http_status_is_a_transport_error() -> None:
    with pytest.raises(tim_oa.TransportError, match="HTTP 502") as info:
        _wire.decode_response("c", raw(b"<html>bad gateway</html>", 502))
    assert type(info.value) is tim_oa.TransportError
    assert (info.value.command, info.value.status_code, info.value.retry_after) == ("c", 502, None)
    assert info.value.request_sent


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<html>", "not JSON"),
        (b"", "not JSON"),
        (b'{"ErrorCode": 0', "not JSON"),  # truncated
        (b'{"ErrorInfo": "\xc3\x28"}', "not JSON"),  # not UTF-8
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),  # nested past the parser's depth
        (b"[1, 2]", "not an object"),
        (b'"OK"', "not an object"),
        (b"null", "not an object"),
        (b'{"ErrorCode": "x"}', "ErrorCode is not an integer"),
        (b'{"ErrorCode": 1.0}', "ErrorCode is not an integer"),
        (b'{"ErrorCode": true}', "ErrorCode is not an integer"),
        (b'{"ErrorCode": null}', "ErrorCode is not an integer"),
    ],
)
def test_malformed_answers(content: bytes, message: str) -> None:
    with pytest.raises(tim_oa.MalformedResponseError, match=message) as info:
        _wire.decode_response("c", raw(content))
    err = info.value
    assert isinstance(err, tim_oa.TransportError)
    assert (err.command, err.status_code, err.may_have_taken_effect) == ("c", 200, True)
    # Nothing chained: json's exception holds the body.
    assert err.__context__ is None and err.__cause__ is None


def test_retry_after_and_redirects_on_status_errors() -> None:
    with pytest.raises(tim_oa.TransportError) as info:
        _wire.decode_response("c", raw(b"", 429, 3.0))
    assert (info.value.status_code, info.value.retry_after) == (429, 3.0)
    with pytest.raises(tim_oa.TransportError, match="redirects are not followed") as info:
        _wire.decode_response("c", raw(b"", 301))
    assert info.value.status_code == 301


def test_fail_status_with_zero_code_is_still_an_error() -> None:
    with pytest.raises(tim_oa.ApiError):
        _wire.decode_response("c", raw(b'{"ActionStatus": "FAIL", "ErrorCode": 0}'))


def test_api_errors_pickle_with_their_fields() -> None:
    import pickle

    err = api_error(130004, "gone", command="destroy_official_account", request_id="r")
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is tim_oa.AccountNotFoundError
    assert (again.code, again.info, again.command, again.request_id) == (
        130004,
        "gone",
        "destroy_official_account",
        "r",
    )


def test_redact() -> None:
    text = "POST https://h/v4/x?sdkappid=1&identifier=a&usersig=eJyr*-_abc&random=5"
    assert _wire.redact(text) == (
        "POST https://h/v4/x?sdkappid=1&identifier=a&usersig=<redacted>&random=5"
    )


# --- the signed query --------------------------------------------------------------------------


def test_signed_query_encodes_and_caches_its_prefix() -> None:
    from urllib.parse import parse_qsl

    signer = tim_oa.UserSigSigner(1400000000, "k")
    usersig = signer.generate("ad min&x=1", now=1700000000)
    assert "*" in usersig or "-" in usersig or "_" in usersig  # the URL-safe alphabet is used
    _wire._query_prefix.cache_clear()
    first = _wire.signed_query(1400000000, "ad min&x=1", usersig, 0)
    second = _wire.signed_query(1400000000, "ad min&x=1", usersig, 4294967295)
    assert _wire._query_prefix.cache_info().hits == 1  # the prefix was formatted once
    assert parse_qsl(first, strict_parsing=True) == [
        ("sdkappid", "1400000000"),
        ("identifier", "ad min&x=1"),
        ("usersig", usersig),
        ("random", "0"),
        ("contenttype", "json"),
    ]
    assert dict(parse_qsl(second))["random"] == "4294967295"
    assert _wire._query_prefix.cache_info().maxsize == 64  # bounded


# --- request bodies ------------------------------------------------------------------------------


class _Thing:
    pass


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"a": float("nan")}, "NaN"),
        ({"a": [float("inf")]}, "NaN and infinite"),
        ({"a": -float("inf")}, "infinite"),
        ({"a": "x\ud800y"}, "lone surrogate"),
        ({"\udfff": 1}, "lone surrogate"),
        ({"a": {1, 2}}, "set"),
        ({"a": b"bytes"}, "bytes"),
        ({"a": _Thing()}, "_Thing"),
        ({("tuple", "key"): 1}, "keys must be"),
    ],
)
def test_encode_body_refuses_what_json_cannot_carry(body: dict[str, object], reason: str) -> None:
    with pytest.raises(tim_oa.ValidationError, match=reason) as info:
        _wire.encode_body(body)
    assert info.value.field == "body"
    assert info.value.__context__ is None


def test_encode_body_refuses_runaway_nesting() -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(tim_oa.ValidationError, match="nested") as info:
        _wire.encode_body({"a": deep})
    assert info.value.field == "body"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), json_values | st.binary() | st.sets(st.integers()), max_size=4))
def test_encode_body_returns_json_or_a_validation_error(body: dict[str, object]) -> None:
    try:
        encoded = _wire.encode_body(body)
    except tim_oa.ValidationError as exc:
        assert exc.field == "body"
    else:
        assert isinstance(json.loads(encoded), dict)


# --- Retry-After -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("0", 0.0),
        (" 12 ", 12.0),
        ("1.5", 1.5),
        ("-3", None),
        ("1e3", None),
        ("nan", None),
        ("inf", None),
        ("٣", None),  # a digit, but not an ASCII one
        ("10" * 200, _wire.MAX_RETRY_AFTER),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # in the past
        ("Wed, 21 Oct 2015 09:28:00 GMT", _wire.MAX_RETRY_AFTER),
        ("Wed, 21 Oct 2015 07:28:30 -0000", None),  # no zone: not an HTTP date
        ("Wed, 99 Oct 2015", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert _wire.parse_retry_after(value, now=now) == expected


# --- redaction -----------------------------------------------------------------------------------


SIGNER = tim_oa.UserSigSigner(1400000000, "secret")


def test_error_info_is_redacted() -> None:
    mine = SIGNER.generate("administrator", now=1700000000)
    other = tim_oa.UserSigSigner(1400000001, "other").generate("bob", now=1700000000)
    from urllib.parse import quote

    info = (
        f"bad sig {mine}; url /v4/x?usersig={quote(mine, safe='')}&random=1; "
        f"someone else's: ({other}) and {quote(other, safe='')}, and a fixed one: FIXEDSIG"
    )
    content = json.dumps({"ActionStatus": "FAIL", "ErrorCode": 70009, "ErrorInfo": info})
    with pytest.raises(tim_oa.AuthError) as caught:
        _wire.decode_response("c", raw(content.encode()), usersig="FIXEDSIG")
    shown = str(caught.value) + repr(caught.value) + caught.value.info
    for secret in (mine, other, quote(mine, safe=""), quote(other, safe=""), "FIXEDSIG"):
        assert secret not in shown
        assert len(secret) < 20 or secret[20:60] not in shown
    assert caught.value.info.count("<redacted>") == 5
    assert "/v4/x?usersig=<redacted>&random=1" in caught.value.info


def test_redaction_keeps_ordinary_text() -> None:
    text = (
        "account @TOA#_news-2024 not found; RequestId=Id-abcdefghijklmnopqrstuvwxyz0123456789"
        "ABCDEFGHIJ and a long base64ish run eJzzSM3JyVcozy_KSQEAGgQEXQ____________________"
    )
    assert _wire.redact(text) == text


def test_a_signature_glued_to_other_text_is_still_found() -> None:
    sig = SIGNER.generate("administrator", now=1700000000)
    assert sig not in _wire.redact(f"x-{sig}")
    assert sig not in _wire.redact(f"{sig}abc")
    assert _wire.is_usersig(sig)
    assert not _wire.is_usersig("eJ" + "A" * 100)


def test_redacting_a_huge_run_is_fast() -> None:
    import time

    text = "eJ" * 500_000
    started = time.perf_counter()
    assert _wire.redact(text) == "<redacted>"
    assert _wire.redact("eJ" * 30_000) == "eJ" * 30_000
    assert time.perf_counter() - started < 2.0
