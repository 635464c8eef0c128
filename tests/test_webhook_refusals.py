"""A refusal by the app's own "before" webhook raises ``RefusedByWebhookError``, never retried."""

from __future__ import annotations

import pytest
import respx

import tim_oa
from tim_oa import ErrorCode

from .conftest import fail

SEND = "/v4/official_account_open_http_svc/send_official_account_msg"
CREATE = "/v4/official_account_open_http_svc/create_official_account"


@pytest.mark.parametrize("code", [120001, 125000, 130000])
async def test_a_custom_refusal_of_a_send_raises_refused_by_webhook(
    api: respx.MockRouter, oa: tim_oa.Session, code: int
) -> None:
    route = api.post(SEND).mock(return_value=fail(code, "no spoilers"))
    with pytest.raises(tim_oa.RefusedByWebhookError) as info:
        await oa.send_message("@TOA#_news", "spoiler")
    assert isinstance(info.value, tim_oa.ApiError)
    assert (info.value.code, info.value.info) == (code, "no spoilers")
    assert route.call_count == 1  # the same request would be refused again


@pytest.mark.parametrize(
    ("path", "code"),
    [(SEND, ErrorCode.MESSAGE_REFUSED_BY_WEBHOOK), (CREATE, ErrorCode.CREATE_REFUSED_BY_WEBHOOK)],
)
async def test_tencents_plain_refusals_raise_refused_by_webhook(
    api: respx.MockRouter, oa: tim_oa.Session, path: str, code: int
) -> None:
    route = api.post(path).mock(return_value=fail(code))
    with pytest.raises(tim_oa.RefusedByWebhookError):
        if path == SEND:
            await oa.send_message("@TOA#_news", "hello")
        else:
            await oa.create_account("owner", "News")
    assert route.call_count == 1


@pytest.mark.parametrize("code", [119999, 130001])
async def test_codes_next_to_the_range_stay_plain_api_errors(
    api: respx.MockRouter, oa: tim_oa.Session, code: int
) -> None:
    api.post(SEND).mock(return_value=fail(code))
    with pytest.raises(tim_oa.ApiError) as info:
        await oa.send_message("@TOA#_news", "hello")
    assert type(info.value) is tim_oa.ApiError
