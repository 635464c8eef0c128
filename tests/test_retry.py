"""Retries: which failures are retried, how often, with fresh signing on every attempt."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

import tim_oa
from tim_oa._retry import RetryPolicy, retry_wait

from .conftest import body_of, fail, ok

FAILURES: dict[str, Callable[[], Any]] = {
    "transient code": lambda: fail(20005),
    "rate limited": lambda: fail(60007),
    "http 502": lambda: httpx.Response(502, text="bad gateway"),
    "http 429": lambda: httpx.Response(429, text="slow down"),
    "non-json 200": lambda: httpx.Response(200, text="<html>oops</html>"),
    "connect error": lambda: httpx.ConnectError("connection refused"),
    "read timeout": lambda: httpx.ReadTimeout("timed out"),
    "dropped connection": lambda: httpx.RemoteProtocolError("server disconnected"),
}

MODIFY = "/v4/official_account_open_http_svc/modify_official_account_base_info"
CREATE = "/v4/official_account_open_http_svc/create_official_account"


def script(route: respx.Route, failures: list[Any], success: httpx.Response) -> None:
    outcomes = [*failures, success]
    route.mock(side_effect=outcomes)


@pytest.mark.parametrize("kind", list(FAILURES))
@pytest.mark.parametrize("failures_before_success", [0, 1, 2, 3])
async def test_retry_matrix(
    api: respx.MockRouter,
    make_session: Callable[..., tim_oa.Session],
    kind: str,
    failures_before_success: int,
) -> None:
    route = api.post(MODIFY)
    script(route, [FAILURES[kind]() for _ in range(failures_before_success)], ok())
    async with make_session(max_retries=3) as oa:
        await oa.modify_account("@TOA#_news", name="News")
    assert route.call_count == failures_before_success + 1
    randoms = [c.request.url.params["random"] for c in route.calls]
    assert len(set(randoms)) == len(randoms), "every attempt carries a fresh random"
    bodies = [body_of(c) for c in route.calls]
    assert all(b == {"Official_Account": "@TOA#_news", "Name": "News"} for b in bodies)


@pytest.mark.parametrize("kind", list(FAILURES))
async def test_gives_up_after_max_retries(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session], kind: str
) -> None:
    route = api.post(MODIFY)
    script(route, [FAILURES[kind]() for _ in range(5)], ok())
    async with make_session(max_retries=2) as oa:
        with pytest.raises((tim_oa.ApiError, tim_oa.TransportError)) as info:
            await oa.modify_account("@TOA#_news", name="News")
    assert route.call_count == 3
    assert info.value.attempts == 3


async def test_max_retries_zero_disables(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session]
) -> None:
    route = api.post(MODIFY).mock(side_effect=[fail(20005), ok()])
    async with make_session(max_retries=0) as oa:
        with pytest.raises(tim_oa.ServerError):
            await oa.modify_account("@TOA#_news", name="News")
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (6017, tim_oa.InvalidRequestError),
        (130004, tim_oa.AccountNotFoundError),
        (130002, tim_oa.PermissionDeniedError),
        (70009, tim_oa.AuthError),
    ],
)
async def test_never_retries_final_errors(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session], code: int, cls: type
) -> None:
    route = api.post(MODIFY).mock(side_effect=[fail(code), ok()])
    async with make_session(max_retries=3) as oa:
        with pytest.raises(cls):
            await oa.modify_account("@TOA#_news", name="News")
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("kind", "retried"),
    [
        ("connect error", True),  # never reached the server
        ("rate limited", True),  # rejected before processing
        ("http 429", True),
        ("http 502", False),  # may have created an account
        ("read timeout", False),
        ("transient code", False),
        ("dropped connection", False),
    ],
)
async def test_create_without_custom_id_is_not_repeated_blindly(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session], kind: str, retried: bool
) -> None:
    route = api.post(CREATE)
    script(route, [FAILURES[kind]()], ok(OfficialAccountUserID="@TOA#_@TOA#abc"))
    async with make_session(max_retries=3) as oa:
        if retried:
            assert await oa.create_account("107867", "News") == "@TOA#_@TOA#abc"
        else:
            with pytest.raises((tim_oa.ApiError, tim_oa.TransportError)):
                await oa.create_account("107867", "News")
    assert route.call_count == (2 if retried else 1)


async def test_create_with_custom_id_is_retried(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session]
) -> None:
    route = api.post(CREATE)
    script(route, [httpx.Response(502)], ok(OfficialAccountUserID="@TOA#_news"))
    async with make_session() as oa:
        assert await oa.create_account("107867", "News", account_id="@TOA#_news") == "@TOA#_news"
    assert route.call_count == 2


async def test_raw_call_of_unknown_command_only_retries_unsent(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session]
) -> None:
    route = api.post("/v4/official_account_open_http_svc/some_new_command")
    route.mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(502), ok(X=1)])
    async with make_session() as oa:
        with pytest.raises(tim_oa.TransportError) as info:
            await oa.call("some_new_command", {"A": 1})
    assert info.value.status_code == 502
    assert route.call_count == 2


async def test_expired_usersig_renews_once_and_resends(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session]
) -> None:
    clock_now = [1_700_000_000.0]
    signer = tim_oa.UserSigSigner(1400000000, "k", clock=lambda: clock_now[0])
    route = api.post(MODIFY)
    answers = [fail(70001), ok()]

    def respond(request: httpx.Request) -> httpx.Response:
        clock_now[0] += 1  # time passes, so a renewed signature differs
        return answers.pop(0)

    route.mock(side_effect=respond)
    async with make_session(usersig=signer, max_retries=0) as oa:
        await oa.modify_account("@TOA#_news", name="News")
    sigs = [c.request.url.params["usersig"] for c in route.calls]
    assert route.call_count == 2
    assert sigs[0] != sigs[1]
    assert tim_oa.decode_usersig(sigs[1])["TLS.time"] > tim_oa.decode_usersig(sigs[0])["TLS.time"]


async def test_expired_usersig_twice_raises(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session]
) -> None:
    route = api.post(MODIFY).mock(side_effect=[fail(70001), fail(70001), ok()])
    async with make_session() as oa:
        with pytest.raises(tim_oa.UserSigExpiredError):
            await oa.modify_account("@TOA#_news", name="News")
    assert route.call_count == 2


async def test_fixed_usersig_cannot_renew(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session]
) -> None:
    route = api.post(MODIFY).mock(side_effect=[fail(70001), ok()])
    async with make_session(usersig="fixed") as oa:
        with pytest.raises(tim_oa.UserSigExpiredError):
            await oa.modify_account("@TOA#_news", name="News")
    assert route.call_count == 1


async def test_deadline_stops_retrying(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session]
) -> None:
    route = api.post(MODIFY).mock(side_effect=[fail(20005), ok()])
    ten_seconds = RetryPolicy(base_delay=10.0, max_delay=10.0, jitter=0.0, deadline=5.0)
    async with make_session(retry=ten_seconds) as oa:
        with pytest.raises(tim_oa.ServerError):
            await oa.modify_account("@TOA#_news", name="News")
    assert route.call_count == 1


def test_backoff_is_exponential_jittered_and_capped() -> None:
    import random

    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    rng = random.Random(1)
    for n, ceiling in enumerate([0.5, 1.0, 2.0, 4.0, 4.0, 4.0]):
        delays = [policy.delay(n, rng) for _ in range(200)]
        assert min(delays) >= ceiling / 2
        assert max(delays) <= ceiling
        assert max(delays) - min(delays) > ceiling / 4  # jittered, not fixed


def test_which_failures_may_ever_be_retried() -> None:
    unsent = tim_oa.TransportError("x", request_sent=False)
    unknown = tim_oa.TransportError("x", status_code=503)
    client_error = tim_oa.TransportError("x", status_code=404)
    assert retry_wait(unsent, safe_to_repeat=False) is not None
    assert retry_wait(unknown, safe_to_repeat=True) is not None
    assert retry_wait(unknown, safe_to_repeat=False) is None
    assert retry_wait(client_error, safe_to_repeat=True) is None
    assert retry_wait(ValueError("x"), safe_to_repeat=True) is None
