"""Sign / RequestTime: the reference's known answers, case, freshness and what is required."""

from __future__ import annotations

from typing import Any

import pytest

from tim_oa import webhooks
from tim_oa.webhooks import WebhookError

from .samples import NOW, SDKAPPID, TOKEN, body_of, query_for

BODY = body_of(webhooks.AfterAccountFull)


@pytest.mark.parametrize(
    ("token", "request_time", "expected"),
    [
        ("xxxxyyyy", "1669872112",
         "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061"),
        ("my-token", "1700000000",
         "5109fa80ed3a01aec6ca7dc83511bfe43bda2bd77f203c50430ce7ba0c5a4905"),
    ],
)  # fmt: skip
def test_known_answer_vectors(token: str, request_time: str, expected: str) -> None:
    assert webhooks.sign(token, request_time) == expected
    assert webhooks.sign(token, int(request_time)) == expected
    query = {"SdkAppid": str(SDKAPPID), "Sign": expected, "RequestTime": request_time}
    event = webhooks.parse_event(query, BODY, sdkappid=SDKAPPID, token=token, now=int(request_time))
    assert event.context.authenticated and event.context.request_time == int(request_time)


def test_the_older_token_spelling_does_not_match_the_official_hash() -> None:
    assert webhooks.sign("xxxyyy", "1669872112") != webhooks.sign("xxxxyyyy", "1669872112")


def parse(query: dict[str, Any], *, token: str | None = TOKEN, now: float = NOW, **kw: Any) -> Any:
    return webhooks.parse_event(query, BODY, sdkappid=SDKAPPID, token=token, now=now, **kw)


def test_sign_is_compared_case_insensitively() -> None:
    query = query_for(webhooks.AfterAccountFull)
    query["Sign"] = query["Sign"].upper()
    assert parse(query).official_account == "@TOA#_daily_news"


@pytest.mark.parametrize(
    "sign",
    [
        webhooks.sign("other-token", str(NOW)),
        webhooks.sign(TOKEN, str(NOW + 1)),
        webhooks.sign(TOKEN, str(NOW))[:-1],
        webhooks.sign(TOKEN, str(NOW)) + "0",
        "z" * 64,
        "",
        "\u0130" * 64,  # lowercases to more characters; must not reach compare_digest unchecked
    ],
)
def test_a_wrong_sign_is_refused(sign: str) -> None:
    query = query_for(webhooks.AfterAccountFull)
    query["Sign"] = sign
    with pytest.raises(WebhookError) as info:
        parse(query)
    assert info.value.reason == "signature"


@pytest.mark.parametrize("missing", ["Sign", "RequestTime"])
def test_a_token_requires_sign_and_request_time(missing: str) -> None:
    query = query_for(webhooks.AfterAccountFull)
    del query[missing]
    with pytest.raises(WebhookError) as info:
        parse(query)
    assert info.value.reason == "signature"


@pytest.mark.parametrize(
    "stamp", ["1700000000.0", "-1700000000", " 1700000000", "\uff11\uff17\uff10\uff10"]
)
def test_request_time_must_be_decimal_digits(stamp: str) -> None:
    query = query_for(webhooks.AfterAccountFull)
    query["RequestTime"] = stamp
    query["Sign"] = webhooks.sign(TOKEN, stamp)  # signed, but not a time
    with pytest.raises(WebhookError) as info:
        parse(query)
    assert info.value.reason == "signature"


@pytest.mark.parametrize("offset", [-60, -1, 0, 1, 60])
def test_within_sixty_seconds_either_way_is_fresh(offset: int) -> None:
    assert parse(query_for(webhooks.AfterAccountFull, at=NOW + offset)).context.authenticated


@pytest.mark.parametrize("offset", [-61, 61, -3600, 86400])
def test_beyond_sixty_seconds_either_way_is_stale(offset: int) -> None:
    with pytest.raises(WebhookError) as info:
        parse(query_for(webhooks.AfterAccountFull, at=NOW + offset))
    assert info.value.reason == "stale"
    assert ("old" if offset < 0 else "ahead") in str(info.value)


def test_max_skew_is_configurable_and_can_be_turned_off() -> None:
    query = query_for(webhooks.AfterAccountFull, at=NOW - 100)
    with pytest.raises(WebhookError):
        parse(query, max_skew=99)
    assert parse(query, max_skew=100).context.authenticated
    assert parse(query_for(webhooks.AfterAccountFull, at=1), max_skew=None).context.authenticated


def test_the_signature_is_checked_before_freshness() -> None:
    query = query_for(webhooks.AfterAccountFull, at=NOW - 3600)
    query["Sign"] = "0" * 64
    with pytest.raises(WebhookError) as info:
        parse(query)
    assert info.value.reason == "signature"


def test_without_a_token_sign_and_time_are_not_required() -> None:
    event = parse(query_for(webhooks.AfterAccountFull, token=None), token=None)
    assert not event.context.authenticated and event.context.request_time is None
    stale_and_wrong = query_for(webhooks.AfterAccountFull, at=1)
    stale_and_wrong["Sign"] = "bad"
    assert parse(stale_and_wrong, token=None).context.request_time == 1


def test_now_defaults_to_the_wall_clock() -> None:
    query = webhooks.callback_query(SDKAPPID, webhooks.AfterAccountFull, token=TOKEN)
    event = webhooks.parse_event(query, BODY, sdkappid=SDKAPPID, token=TOKEN)
    assert event.context.authenticated
    with pytest.raises(WebhookError):
        webhooks.parse_event(
            query_for(webhooks.AfterAccountFull), BODY, sdkappid=SDKAPPID, token=TOKEN
        )


def test_callback_query_has_the_reference_parameters() -> None:
    query = webhooks.callback_query(
        SDKAPPID, "OfficialAccount.CallbackAfterAddSubscriber", token=TOKEN, request_time=NOW,
        client_ip="203.0.113.7",
    )  # fmt: skip
    assert query == {
        "SdkAppid": "1400000000",
        "CallbackCommand": "OfficialAccount.CallbackAfterAddSubscriber",
        "contenttype": "json",
        "ClientIP": "203.0.113.7",
        "OptPlatform": "RESTAPI",
        "Sign": "5109fa80ed3a01aec6ca7dc83511bfe43bda2bd77f203c50430ce7ba0c5a4905",
        "RequestTime": "1700000000",
    }
    assert "Sign" not in webhooks.callback_query(SDKAPPID, webhooks.AfterAccountFull)
