"""The one retry decision, ``RetryPolicy.next_delay``, and the code table it reads: pure functions,
tested without a session or a clock."""

from __future__ import annotations

import random
from typing import Any

import pytest

import tim_oa
from tim_oa._codes import NEVER, api_error, error_class_for, rule_for
from tim_oa._retry import may_have_taken_effect, retry_wait

SEND = "send_official_account_msg"


RECALL = "official_account_msg_recall"


def transport(status: int | None = None, *, sent: bool = True, after: float | None = None) -> Any:
    return tim_oa.TransportError("x", status_code=status, request_sent=sent, retry_after=after)


def code(number: int, command: str | None = "modify_official_account_base_info") -> Any:
    return api_error(number, "x", command=command)


# A fixed backoff (no jitter, no doubling) so each row's expected delay is exact.
POLICY = tim_oa.RetryPolicy(max_retries=3, base_delay=1.0, max_delay=1.0, jitter=0.0, deadline=60)

# (error, safe_to_repeat, retries, elapsed, expected delay or None)
CASES: list[tuple[str, Any, bool, int, float, float | None]] = [
    ("connect refused, unsafe command", transport(sent=False), False, 0, 0.0, 1.0),
    ("HTTP 429, unsafe command", transport(429), False, 0, 0.0, 1.0),
    ("HTTP 429 with Retry-After 5", transport(429, after=5.0), False, 0, 0.0, 5.0),
    ("Retry-After shorter than backoff", transport(429, after=0.2), False, 0, 0.0, 1.0),
    ("HTTP 503 Retry-After 7, safe", transport(503, after=7.0), True, 0, 0.0, 7.0),
    ("HTTP 503, unsafe command", transport(503, after=7.0), False, 0, 0.0, None),
    ("Retry-After past the deadline", transport(429, after=30.0), True, 0, 40.0, None),
    ("Retry-After beyond max_retry_after", transport(429, after=301.0), True, 0, 0.0, None),
    ("Retry-After that is not finite", transport(429, after=float("nan")), True, 0, 0.0, 1.0),
    ("HTTP 502, safe", transport(502), True, 0, 0.0, 1.0),
    ("HTTP 404", transport(404), True, 0, 0.0, None),
    ("HTTP 302 (redirects are not followed)", transport(302), True, 0, 0.0, None),
    ("timeout after sending, safe", transport(None), True, 0, 0.0, 1.0),
    ("timeout after sending, unsafe", transport(None), False, 0, 0.0, None),
    ("garbled 200, safe", tim_oa.MalformedResponseError("x"), True, 0, 0.0, 1.0),
    ("transient code, safe", code(20005), True, 0, 0.0, 1.0),
    ("transient code, unsafe", code(20005), False, 0, 0.0, None),
    ("rate limited, unsafe command", code(60007), False, 0, 0.0, 1.0),
    ("invalid request", code(6017), True, 0, 0.0, None),
    ("not found", code(130004), True, 0, 0.0, None),
    ("unknown code", code(123456), True, 0, 0.0, None),
    ("70001 is renewed, never retried", code(70001), True, 0, 0.0, None),
    ("70050: a minute, which the 60 s deadline forbids", code(70050), True, 0, 0.5, None),
    ("retries used up", transport(sent=False), True, 3, 0.0, None),
    ("deadline reached", transport(sent=False), True, 0, 59.0, None),
    ("deadline still ahead", transport(sent=False), True, 2, 58.9, 1.0),
    ("hourly send cap is final", code(60019, SEND), True, 0, 0.0, None),
    ("60019 elsewhere is a rate limit", code(60019), True, 0, 0.0, 1.0),
    ("10004 on recall is invalid", code(10004, RECALL), True, 0, 0.0, None),
    ("10004 elsewhere is transient", code(10004, "destroy_official_account"), True, 0, 0.0, 1.0),
    ("not ours", ValueError("x"), True, 0, 0.0, None),
]


@pytest.mark.parametrize(
    ("exc", "safe", "retries", "elapsed", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_next_delay_table(
    exc: BaseException, safe: bool, retries: int, elapsed: float, expected: float | None
) -> None:
    got = POLICY.next_delay(exc, retries=retries, elapsed=elapsed, safe_to_repeat=safe)
    assert got == expected


def test_70050_waits_a_minute_when_the_deadline_allows() -> None:
    policy = tim_oa.RetryPolicy(deadline=None)
    assert policy.next_delay(code(70050), retries=0, elapsed=0.0, safe_to_repeat=False) == 60.0
    assert tim_oa.RetryPolicy(deadline=61).next_delay(
        code(70050), retries=0, elapsed=0.5, safe_to_repeat=True
    ) == pytest.approx(60.0)


def test_backoff_doubles_with_jitter_within_bounds() -> None:
    policy = tim_oa.RetryPolicy(base_delay=0.5, max_delay=4.0, jitter=0.5, deadline=None)
    rng = random.Random(3)
    for n, ceiling in enumerate([0.5, 1.0, 2.0, 4.0, 4.0]):
        delays = [policy.delay(n, rng) for _ in range(100)]
        assert ceiling / 2 <= min(delays) and max(delays) <= ceiling
    assert tim_oa.RetryPolicy(jitter=0.0).delay(2) == 1.0


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"base_delay": float("nan")}, "base_delay"),
        ({"max_delay": "1"}, "max_delay"),
        ({"jitter": 1.5}, "jitter"),
        ({"deadline": 0}, "deadline"),
        ({"deadline": float("inf")}, "deadline"),
        ({"max_retry_after": -1}, "max_retry_after"),
    ],
)
def test_policy_arguments_are_checked(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        tim_oa.RetryPolicy(**kw)
    assert info.value.field == field


def test_code_table_overrides_per_command() -> None:
    assert error_class_for(10004) is tim_oa.ServerError
    assert error_class_for(10004, RECALL) is tim_oa.InvalidRequestError
    assert isinstance(api_error(10004, command=RECALL), tim_oa.InvalidRequestError)
    assert rule_for(10004, RECALL).retry is NEVER and rule_for(10004).retry is not NEVER
    assert error_class_for(60019, SEND) is tim_oa.RateLimitedError
    assert rule_for(60019, SEND).retry is NEVER and rule_for(60019).retry is not NEVER
    assert error_class_for(70050) is tim_oa.AuthError
    assert rule_for(70050).wait == 60.0


def test_which_failures_may_have_taken_effect() -> None:
    assert may_have_taken_effect(transport(None))  # timeout or drop after sending
    assert may_have_taken_effect(transport(502))
    assert may_have_taken_effect(tim_oa.MalformedResponseError("x"))
    assert not may_have_taken_effect(
        tim_oa.MalformedResponseError("x", may_have_taken_effect=False)
    )
    assert may_have_taken_effect(code(20005))
    assert not may_have_taken_effect(transport(sent=False))
    assert not may_have_taken_effect(transport(429))
    assert not may_have_taken_effect(code(60007))
    assert not may_have_taken_effect(code(130004))
    assert retry_wait(code(60007), safe_to_repeat=False) == 0.0
