"""The client against a hostile server: bad bodies, huge and compressed bodies, slow and broken
connections, redirects, Retry-After, a session closed under a request (issue 8, items 2, 3, 9,
11-13, 15).

Every test checks the same contract: the public call raises one ``TimOAError`` subclass with the
right attributes, within a bounded time, never a raw exception or an exception group, and the
session still works afterwards.
"""

from __future__ import annotations

import socket
import time
import tracemalloc
from collections.abc import AsyncIterator

import anyio
import pytest

import tim_oa

from .hostile import (
    HostileServer,
    bomb,
    close_mid_body,
    delayed,
    envelope,
    good,
    html,
    http_date,
    huge_body,
    json_reply,
    redirect,
    reply,
    reset_after_read,
    reset_before_read,
    retry_after,
    silent,
    slow_headers,
    trickle_body,
    truncated_json,
)
from .support import (
    ACCOUNT,
    assert_usable,
    check_public,
    failure_of,
    make_session,
    result_of,
)

MiB = 1 << 20
DEFAULT_CAP = 8 * MiB


@pytest.fixture
async def oa(hostile: HostileServer) -> AsyncIterator[tim_oa.Session]:
    async with make_session(hostile.base_url) as session:
        yield session


# --- bodies that are not the envelope ----------------------------------------------------------


@pytest.mark.parametrize(
    "act",
    [html(), truncated_json(), json_reply([1, 2, 3], name="array")],
    ids=["html-200", "truncated-json", "json-array"],
)
async def test_a_body_that_is_not_the_envelope_is_malformed(
    hostile: HostileServer, oa: tim_oa.Session, act: object
) -> None:
    hostile.script(act)  # type: ignore[arg-type]
    exc, _ = await failure_of(lambda: oa.modify_account(ACCOUNT, name="x"))
    error = check_public(exc, tim_oa.MalformedResponseError)
    assert error.status_code == 200
    assert error.may_have_taken_effect is True  # a write the server may have applied
    assert error.command == "modify_official_account_base_info"
    await assert_usable(oa)


@pytest.mark.parametrize(
    "document",
    [
        {"ActionStatus": "OK", "ErrorCode": "0", "ErrorInfo": ""},
        {"ActionStatus": "OK", "ErrorCode": 0.0, "ErrorInfo": ""},
        {"ActionStatus": "OK", "ErrorCode": True, "ErrorInfo": ""},
        {"ActionStatus": "OK", "ErrorCode": None, "ErrorInfo": ""},
        {},
    ],
    ids=["code-str", "code-float", "code-bool", "code-null", "empty-object"],
)
async def test_an_envelope_of_the_wrong_shape_is_malformed_not_success(
    hostile: HostileServer, oa: tim_oa.Session, document: object
) -> None:
    hostile.script(json_reply(document))
    exc, _ = await failure_of(lambda: oa.destroy_account(ACCOUNT))
    check_public(exc, tim_oa.MalformedResponseError)
    await assert_usable(oa)


# --- size caps, compressed included ------------------------------------------------------------


async def _peak_during(call: object) -> tuple[BaseException, float]:
    """The error of ``call`` and the peak of traced memory (bytes) while it ran."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        exc, _ = await failure_of(call, limit=20)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return exc, peak


async def test_a_huge_body_stops_at_the_default_cap(
    hostile: HostileServer, oa: tim_oa.Session
) -> None:
    hostile.script(huge_body(24))  # valid JSON, three times the documented 8 MiB cap
    exc, peak = await _peak_during(lambda: oa.modify_account(ACCOUNT, name="x"))
    error = check_public(exc, tim_oa.TransportError)
    assert not error.is_timeout
    assert peak < 5 * DEFAULT_CAP, f"{peak / MiB:.0f} MiB held while reading a capped answer"
    await assert_usable(oa)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_compression_bomb_is_capped_on_decoded_bytes(
    hostile: HostileServer, oa: tim_oa.Session, encoding: str
) -> None:
    act = bomb(128, encoding)  # ~128 KB on the wire, 128 MiB of valid JSON once decoded
    hostile.script(act)
    exc, peak = await _peak_during(lambda: oa.modify_account(ACCOUNT, name="x"))
    check_public(exc, tim_oa.TransportError)
    assert peak < 5 * DEFAULT_CAP, f"{peak / MiB:.0f} MiB held while decoding a capped answer"
    await assert_usable(oa)


async def test_max_response_bytes_is_a_session_option(hostile: HostileServer) -> None:
    async with make_session(hostile.base_url, max_response_bytes=64 * 1024) as oa:
        hostile.script(huge_body(1))
        exc, _ = await failure_of(lambda: oa.modify_account(ACCOUNT, name="x"))
        check_public(exc, tim_oa.TransportError)
        hostile.script(bomb(1))
        exc, _ = await failure_of(lambda: oa.modify_account(ACCOUNT, name="x"))
        check_public(exc, tim_oa.TransportError)
        await assert_usable(oa)  # a normal answer is far below the cap


# --- slow, silent and broken connections -------------------------------------------------------


@pytest.mark.parametrize(
    "act",
    [trickle_body(0.2), slow_headers(0.2), silent()],
    ids=["trickled-body", "slow-headers", "never-answers"],
)
async def test_timeout_bounds_the_whole_attempt(hostile: HostileServer, act: object) -> None:
    async with make_session(hostile.base_url, timeout=1) as oa:
        hostile.script(act)  # type: ignore[arg-type]
        exc, elapsed = await failure_of(lambda: oa.modify_account(ACCOUNT, name="x"), limit=5)
        error = check_public(exc, tim_oa.TransportError)
        assert error.is_timeout is True
        assert error.request_sent is True  # the connection was made and the request written
        assert elapsed < 3, f"timeout=1 but the call took {elapsed:.1f} s"
        await assert_usable(oa)


async def test_retry_deadline_bounds_the_whole_call(hostile: HostileServer) -> None:
    hostile.always(trickle_body(0.2))
    async with make_session(hostile.base_url, timeout=1, max_retries=50, retry_deadline=2) as oa:
        exc, elapsed = await failure_of(lambda: oa.modify_account(ACCOUNT, name="x"), limit=6)
        error = check_public(exc, tim_oa.TransportError)
        assert error.is_timeout
        # no retry starts after the deadline, and each attempt is bounded by its timeout
        assert elapsed < 2 + 1 + 1.5, f"took {elapsed:.1f} s"
        assert error.attempts == len(hostile.requests)


async def test_reset_before_the_request_is_read(hostile: HostileServer) -> None:
    async with make_session(hostile.base_url, max_retries=2) as oa:
        hostile.script(reset_before_read(), reset_before_read(), reset_before_read())
        exc, _ = await failure_of(lambda: oa.get_accounts([ACCOUNT]))
        error = check_public(exc, tim_oa.TransportError)
        assert error.status_code is None and not error.is_timeout
        assert hostile.connections == 3  # a read is retried after a reset
        await assert_usable(oa)


async def test_a_create_without_custom_id_is_never_sent_twice_after_a_reset(
    hostile: HostileServer,
) -> None:
    async with make_session(hostile.base_url, max_retries=3) as oa:
        hostile.script(reset_after_read())
        exc, _ = await failure_of(lambda: oa.create_account("owner", "News"))
        error = check_public(exc, tim_oa.TransportError)
        assert error.request_sent is True
        # the server read it and may have created the account: a repeat could make a second one
        assert hostile.commands().count("create_official_account") == 1
        assert hostile.connections == 1
        await assert_usable(oa)


@pytest.mark.parametrize(
    "act",
    [reset_after_read(), close_mid_body(), reply(502, "bad gateway")],
    ids=["reset-after-read", "close-mid-body", "http-502"],
)
async def test_a_retry_after_an_unknown_outcome_says_so(
    hostile: HostileServer, act: object
) -> None:
    async with make_session(hostile.base_url, max_retries=2) as oa:
        hostile.always(act)  # type: ignore[arg-type]
        exc, _ = await failure_of(lambda: oa.modify_account(ACCOUNT, name="x"))
        error = check_public(exc, tim_oa.TransportError)
        assert error.request_sent is True and not error.is_timeout
        assert len(hostile.requests) == 3
        assert error.attempts == 3
        # the first two attempts were sent and their answers lost: they may have taken effect
        assert error.after_unknown_outcome is True
        hostile.always(good())
        await assert_usable(oa)


async def test_connection_refused_was_never_sent() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        async with make_session(f"http://127.0.0.1:{port}", max_retries=1) as oa:
            exc, elapsed = await failure_of(lambda: oa.create_account("owner", "News"))
    error = check_public(exc, tim_oa.TransportError)
    assert error.request_sent is False and error.status_code is None
    assert error.attempts == 2  # provably not sent: even a create may be retried
    assert elapsed < 5


# --- redirects ---------------------------------------------------------------------------------


async def test_a_redirect_to_another_host_is_not_followed(
    hostile: HostileServer, other_server: HostileServer
) -> None:
    async with make_session(hostile.base_url, max_retries=3) as oa:
        hostile.script(redirect(lambda r: other_server.base_url + r.target, 302))
        exc, _ = await failure_of(lambda: oa.modify_account(ACCOUNT, name="x"))
        error = check_public(exc, tim_oa.TransportError)
        assert error.status_code == 302
        assert other_server.connections == 0  # nothing (and no UserSig) reached the other host
        assert len(hostile.requests) == 1  # a redirect is final, not retried
        await assert_usable(oa)


@pytest.mark.parametrize("status", [301, 307, 308])
async def test_a_redirect_to_the_same_host_is_not_followed(
    hostile: HostileServer, status: int
) -> None:
    async with make_session(hostile.base_url, max_retries=3) as oa:
        hostile.script(redirect(lambda r: hostile.base_url + r.target, status))
        exc, _ = await failure_of(lambda: oa.modify_account(ACCOUNT, name="x"))
        error = check_public(exc, tim_oa.TransportError)
        assert error.status_code == status
        assert len(hostile.requests) == 1
        await assert_usable(oa)


# --- Retry-After -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "header", "at_least"),
    [(429, "1", 0.95), (503, "1", 0.95), (503, "date+2", 0.9), (429, "date+2", 0.9)],
    ids=["429-seconds", "503-seconds", "503-http-date", "429-http-date"],
)
async def test_retry_after_is_honoured_within_the_deadline(
    hostile: HostileServer, status: int, header: str, at_least: float
) -> None:
    value = http_date(2) if header == "date+2" else header
    async with make_session(hostile.base_url, max_retries=3, retry_deadline=30) as oa:
        hostile.script(retry_after(status, value))
        await result_of(lambda: oa.modify_account(ACCOUNT, name="x"), limit=10)
    first, second = hostile.requests[:2]
    assert len(hostile.requests) == 2
    waited = second.time - first.time
    assert waited >= at_least, f"Retry-After {value!r} but the retry came after {waited:.2f} s"
    assert waited < 5


async def test_retry_after_beyond_the_deadline_raises_at_once(hostile: HostileServer) -> None:
    async with make_session(hostile.base_url, max_retries=3, retry_deadline=5) as oa:
        hostile.script(retry_after(503, 120))
        exc, elapsed = await failure_of(lambda: oa.modify_account(ACCOUNT, name="x"), limit=10)
        error = check_public(exc, tim_oa.TransportError)
        assert error.status_code == 503
        assert error.retry_after is not None and error.retry_after > 5
        assert len(hostile.requests) == 1  # waiting would pass the deadline: no retry
        assert elapsed < 2
        await assert_usable(oa)


@pytest.mark.parametrize("value", ["soon", "-5", "1e400", "Mon, 99 Foo 2024 99:99:99 GMT", ""])
async def test_a_garbled_retry_after_is_ignored_not_fatal(
    hostile: HostileServer, value: str
) -> None:
    async with make_session(hostile.base_url, max_retries=2) as oa:
        hostile.script(retry_after(503, value))
        await result_of(lambda: oa.modify_account(ACCOUNT, name="x"), limit=10)
    assert len(hostile.requests) == 2


# --- the session closed under a request (item 15) ----------------------------------------------


async def test_closing_a_session_under_a_request_raises_session_closed(
    hostile: HostileServer,
) -> None:
    oa = make_session(hostile.base_url, max_retries=3)
    hostile.script(delayed(0.5, reply(502, "bad gateway")))
    errors: list[BaseException] = []

    async def call() -> None:
        exc, _ = await failure_of(lambda: oa.modify_account(ACCOUNT, name="x"), limit=5)
        errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(call)
        await anyio.sleep(0.2)
        await oa.aclose()
    check_public(errors[0], tim_oa.SessionClosedError)
    exc, _ = await failure_of(lambda: oa.modify_account(ACCOUNT, name="x"))
    check_public(exc, tim_oa.SessionClosedError)


async def test_a_call_on_a_closed_session_sends_nothing(hostile: HostileServer) -> None:
    oa = make_session(hostile.base_url)
    await oa.aclose()
    started = time.monotonic()
    exc, _ = await failure_of(lambda: oa.get_accounts([ACCOUNT]))
    check_public(exc, tim_oa.SessionClosedError)
    assert hostile.connections == 0 and time.monotonic() - started < 1


async def test_an_error_envelope_after_garbage_still_maps_to_its_class(
    hostile: HostileServer, oa: tim_oa.Session
) -> None:
    # ActionStatus FAIL with a known code, plus junk fields of every type: the code decides.
    junk = envelope(ActionStatus="FAIL", ErrorCode=130004, ErrorInfo=["x"], RequestId=5)
    hostile.script(json_reply(junk))
    exc, _ = await failure_of(lambda: oa.destroy_account(ACCOUNT))
    error = check_public(exc, tim_oa.AccountNotFoundError)
    assert error.code == 130004
    await assert_usable(oa)
