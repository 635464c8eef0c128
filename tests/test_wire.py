"""The pure wire layer and the error-code table: no network involved."""

from __future__ import annotations

import json

import pytest

import tim_oa
from tim_oa import _wire
from tim_oa._codes import api_error, error_class_for, is_retryable_code


def test_path_and_query() -> None:
    assert _wire.command_path("add_subscriber") == (
        "/v4/official_account_open_http_svc/add_subscriber"
    )
    query = _wire.build_query(1400000000, "administrator", "SIG", 7)
    assert query == {
        "sdkappid": "1400000000",
        "identifier": "administrator",
        "usersig": "SIG",
        "random": "7",
        "contenttype": "json",
    }


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
    assert _wire.decode_response("c", 200, content)["New"] == 1
    # Envelope keys may even be missing on success.
    assert _wire.decode_response("c", 200, b'{"OfficialAccountUserID": "@TOA#_a"}') == {
        "OfficialAccountUserID": "@TOA#_a"
    }


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
        _wire.decode_response("add_subscriber", 200, content)
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


def test_retryable_codes_are_the_transient_ones() -> None:
    assert {c for c in (10002, 10004, 20005, 60007, 60011, 60018, 60019, 70050)} == {
        c for c in (10002, 10004, 20005, 60007, 60011, 60018, 60019, 70050) if is_retryable_code(c)
    }
    for code in (6017, 20001, 130002, 130004, 130008, 70009, 123456):
        assert not is_retryable_code(code)
    assert error_class_for(123456) is tim_oa.ApiError


@pytest.mark.parametrize(
    ("status", "content", "message"),
    [
        (502, b"<html>bad gateway</html>", "HTTP 502"),
        (200, b"<html>", "not JSON"),
        (200, b"[1, 2]", "not a JSON object"),
        (200, b'{"ErrorCode": "x"}', "non-integer"),
    ],
)
def test_transport_errors(status: int, content: bytes, message: str) -> None:
    with pytest.raises(tim_oa.TransportError, match=message) as info:
        _wire.decode_response("c", status, content)
    assert info.value.command == "c"
    assert info.value.status_code == status


def test_fail_status_with_zero_code_is_still_an_error() -> None:
    with pytest.raises(tim_oa.ApiError):
        _wire.decode_response("c", 200, b'{"ActionStatus": "FAIL", "ErrorCode": 0}')


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
