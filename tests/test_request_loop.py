"""The request loop's guarantees: argument checks before any I/O, the UserSig before the slot,
secrets absent from tracebacks, Retry-After, closing with calls in flight, lost replies, and the
options that reach the transport."""

from __future__ import annotations

import logging
import math
import traceback
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
import respx

import tim_oa
from tim_oa._ratelimit import Slots

from .conftest import BASE_URL, SDKAPPID, fail, ok

SVC = "/v4/official_account_open_http_svc/"
DESTROY = SVC + "destroy_official_account"
MODIFY = SVC + "modify_official_account_base_info"
SECRET_SIG = "eJyrVgrxCdYrSy1SslIyUqoFAD-SECRET-USERSIG-0123456789"


class FakeTransport:
    """What the request loop asks of a transport besides ``post`` (see ``TransportBase``)."""

    def unseen(self) -> bool:
        return False


class RecordingClock:
    """A fake clock for sequential calls: sleeping advances it and is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()


def session(**kw: Any) -> tim_oa.Session:
    kw.setdefault("usersig", "sig")
    kw.setdefault("base_url", BASE_URL)
    kw.setdefault("identifier", "administrator")
    return tim_oa.Session(sdkappid=SDKAPPID, **kw)


# --- arguments -----------------------------------------------------------------------------------

NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"identifier": ""}, "identifier"),
        ({"identifier": "admin\nX-Evil: 1"}, "identifier"),
        ({"identifier": "admin\x00"}, "identifier"),
        ({"identifier": "admin\u2028"}, "identifier"),
        ({"identifier": "\ud800"}, "identifier"),
        ({"identifier": 7}, "identifier"),
        ({"base_url": b"http://127.0.0.1"}, "base_url"),
        ({"base_url": "http://[::1"}, "base_url"),
        ({"base_url": "https://h/?x=1"}, "base_url"),
        ({"base_url": "https://h /"}, "base_url"),
        ({"rate_limit": "200"}, "rate_limit"),
        ({"rate_limit": True}, "rate_limit"),
        ({"rate_limit": NAN}, "rate_limit"),
        ({"rate_limit": INF}, "rate_limit"),
        ({"send_rate": -1}, "send_rate"),
        ({"send_rate": NAN}, "send_rate"),
        ({"retry_deadline": NAN}, "retry_deadline"),
        ({"retry_deadline": INF}, "retry_deadline"),
        ({"retry_deadline": "60"}, "retry_deadline"),
        ({"retry_deadline": 0}, "retry_deadline"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"timeout": NAN}, "timeout"),
        ({"timeout": INF}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": "5"}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"timeout": httpx.Timeout(NAN)}, "timeout"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": 2.0}, "max_concurrency"),
        ({"max_concurrency": True}, "max_concurrency"),
        ({"retry": 3}, "retry"),
        ({"retry": tim_oa.RetryPolicy(max_retries=5), "max_retries": 2}, "max_retries"),
        ({"retry": tim_oa.RetryPolicy(deadline=10), "retry_deadline": 30}, "retry_deadline"),
        ({"user_agent": "x\r\nEvil: 1"}, "user_agent"),
        ({"clock": object()}, "clock"),
        ({"allow_insecure_http": "yes"}, "allow_insecure_http"),
        ({"max_response_bytes": 0}, "max_response_bytes"),
        ({"backend": "curl"}, "backend"),
        ({"http_client": object()}, "http_client"),
    ],
)
def test_bad_session_options_name_the_argument(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        session(**kw)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"identifier": ""}, "identifier"),
        ({"identifier": "a\nb"}, "identifier"),
        ({"timeout": NAN}, "timeout"),
        ({"rate_limit": INF}, "rate_limit"),
        ({"retry_deadline": -1}, "retry_deadline"),
        ({"max_concurrency": -3}, "max_concurrency"),
        ({"retry": "fast"}, "retry"),
        ({"retry": tim_oa.RetryPolicy(max_retries=1), "max_retries": 2}, "max_retries"),
    ],
)
def test_with_options_checks_the_same(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        session().with_options(**kw)
    assert info.value.field == field


@pytest.mark.parametrize(
    "body",
    [
        {"Official_Account": "@TOA#_a", "X": math.nan},
        {"Official_Account": "@TOA#_a", "X": math.inf},
        {"Official_Account": "@TOA#_a", "X": object()},
        {"Official_Account": "@TOA#_a", "X": {1, 2}},
        ["not", "a", "mapping"],
    ],
)
async def test_bad_call_body_raises_before_any_wait(api: respx.MockRouter, body: Any) -> None:
    """The body is checked before the slot: here the only slot is held by a stuck call."""
    gate = anyio.Event()

    async def stuck(request: httpx.Request) -> httpx.Response:
        await gate.wait()
        return ok()

    api.post(DESTROY).mock(side_effect=stuck)
    async with session(max_concurrency=1) as oa, anyio.create_task_group() as tg:
        tg.start_soon(oa.destroy_account, "@TOA#_held")
        await anyio.wait_all_tasks_blocked()
        with anyio.fail_after(2), pytest.raises(tim_oa.ValidationError) as info:
            await oa.call("destroy_official_account", body)
        gate.set()
    assert info.value.field == "body"
    assert api.calls.call_count == 1  # only the stuck call went out


# --- transport options ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://console.tim.qq.com",
        "http://adminapisgp.im.qcloud.com/",
        "http://adminapi.my-imcloud.com",
        "http://ANY.QQ.COM.",
        "http://qq.com",
    ],
)
def test_plain_http_to_tencent_is_refused_unless_allowed(url: str) -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        session(base_url=url)
    assert info.value.field == "base_url"
    assert "allow_insecure_http" in str(info.value)
    assert session(base_url=url, allow_insecure_http=True).base_url == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080", "http://localhost", "http://[::1]:9", "https://console.tim.qq.com"],
)
def test_plain_http_elsewhere_and_https_are_fine(url: str) -> None:
    assert session(base_url=url).base_url == url


async def test_user_agent_default_and_override(api: respx.MockRouter) -> None:
    api.post(DESTROY).mock(return_value=ok())
    async with session() as oa:
        await oa.destroy_account("@TOA#_a")
    assert api.calls.last.request.headers["user-agent"].startswith(f"tim-oa/{tim_oa.__version__} ")
    async with session(user_agent="my-app/2.0") as oa:
        await oa.destroy_account("@TOA#_a")
    assert api.calls.last.request.headers["user-agent"] == "my-app/2.0"


async def test_a_callers_client_keeps_its_own_timeout(api: respx.MockRouter) -> None:
    api.post(DESTROY).mock(return_value=ok())
    async with httpx.AsyncClient(timeout=42.0) as client:
        async with session(http_client=client) as oa:
            await oa.destroy_account("@TOA#_a")
        assert api.calls.last.request.extensions["timeout"]["read"] == 42.0
        async with session(http_client=client, timeout=3.0) as oa:
            await oa.destroy_account("@TOA#_a")
        assert api.calls.last.request.extensions["timeout"]["read"] == 3.0
        async with session(http_client=client) as oa:
            await oa.with_options(timeout=7.0).destroy_account("@TOA#_a")
        assert api.calls.last.request.extensions["timeout"]["read"] == 7.0


# --- the UserSig ---------------------------------------------------------------------------------


async def test_a_slow_usersig_provider_holds_no_slot(api: respx.MockRouter) -> None:
    gate = anyio.Event()

    async def provider(identifier: str) -> str:
        if not gate.is_set() and identifier == "slow":
            await gate.wait()
        return "sig"

    api.post(DESTROY).mock(return_value=ok())
    async with session(usersig=provider, max_concurrency=1) as oa:
        slow = oa.with_options(identifier="slow")
        async with anyio.create_task_group() as tg:
            tg.start_soon(slow.destroy_account, "@TOA#_slow")
            await anyio.wait_all_tasks_blocked()
            with anyio.fail_after(2):  # would hang if the slow fetch held the only slot
                await oa.destroy_account("@TOA#_fast")
            gate.set()
    assert api.calls.call_count == 2


async def test_a_callable_provider_is_asked_once_per_renewal(api: respx.MockRouter) -> None:
    asked: list[str] = []

    def provider(identifier: str) -> str:
        asked.append(identifier)
        return f"sig-{len(asked)}"

    api.post(MODIFY).mock(side_effect=[fail(70001), ok()])
    async with session(usersig=provider) as oa:
        await oa.modify_account("@TOA#_news", name="News")
    assert len(asked) == 2  # the first attempt, then the renewal (used for the resend)
    assert [c.request.url.params["usersig"] for c in api.calls] == ["sig-1", "sig-2"]


# --- secrets in tracebacks -----------------------------------------------------------------------


def rendered(exc: BaseException) -> str:
    """The traceback as a logging handler with locals would print it, chains included."""
    return "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())


def secret_session(kind: str) -> tim_oa.Session:
    """Made in its own frame, so the secret is in no local of the frames a traceback shows."""
    provider: Any = {
        "fixed": SECRET_SIG,
        "callable": lambda identifier: SECRET_SIG,
        "async": _async_secret,
    }[kind]
    return session(usersig=provider, max_retries=1)


async def _async_secret(identifier: str) -> str:
    return SECRET_SIG


@pytest.mark.parametrize(
    "answer",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.Response(502),
        fail(70009, "bad signature"),
        fail(20005, "busy"),
        httpx.Response(200, text="<html>"),
    ],
    ids=["connect", "timeout", "502", "70009", "20005", "garbled"],
)
@pytest.mark.parametrize("kind", ["fixed", "callable", "async"])
@pytest.mark.parametrize("renewal", [False, True], ids=["", "after-70001"])
async def test_no_usersig_in_tracebacks_with_locals(
    api: respx.MockRouter, answer: Any, kind: str, renewal: bool
) -> None:
    api.post(MODIFY).mock(side_effect=[fail(70001), answer, answer] if renewal else [answer] * 2)
    oa = secret_session(kind)
    async with oa:
        with pytest.raises(tim_oa.TimOAError) as info:
            await oa.modify_account("@TOA#_news", name="News")
    text = rendered(info.value)
    assert "_request" in text and "payload = " in text  # the loop's locals were rendered
    assert SECRET_SIG not in text
    assert info.value.__context__ is None or SECRET_SIG not in rendered(info.value.__context__)


async def test_no_usersig_in_tracebacks_from_a_failing_transport() -> None:
    class Exploding(FakeTransport):
        async def post(self, command: str, path: str, query: str, content: bytes, **kw: Any) -> Any:
            raise RuntimeError("boom")  # an unexpected failure deep in a transport

        async def aclose(self) -> None:
            pass

    oa = session(usersig=SECRET_SIG)
    oa._shared.transport = Exploding()  # type: ignore[assignment]
    with pytest.raises(RuntimeError) as info:
        await oa.destroy_account("@TOA#_a")
    frames = [f for f in traceback.extract_tb(info.value.__traceback__) if f.name == "_request"]
    assert frames, "the request loop is on the traceback"
    tb: Any = info.value.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "_request":
            assert SECRET_SIG not in repr(tb.tb_frame.f_locals)
        tb = tb.tb_next


async def test_other_errors_of_ours_are_final_and_leave_without_transport_frames() -> None:
    calls = 0

    class OtherLoop(FakeTransport):
        async def post(self, command: str, path: str, query: str, *a: Any, **kw: Any) -> Any:
            nonlocal calls
            calls += 1
            raise tim_oa.EventLoopError("this client belongs to another event loop")

    oa = session(usersig=SECRET_SIG)
    oa._shared.transport = OtherLoop()  # type: ignore[assignment]
    with pytest.raises(tim_oa.EventLoopError) as info:
        await oa.destroy_account("@TOA#_a")
    assert calls == 1
    names = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert "post" not in names and "_request" in names
    assert SECRET_SIG not in rendered(info.value)


# --- retries: Retry-After, the clock, lost replies, final codes ----------------------------------


async def test_retry_after_is_honoured_on_the_sessions_clock(api: respx.MockRouter) -> None:
    clock = RecordingClock()
    api.post(MODIFY).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.Response(503, headers={"Retry-After": "4.5"}),
            ok(),
        ]
    )
    async with session(clock=clock) as oa:
        await oa.modify_account("@TOA#_news", name="News")
    assert clock.sleeps == [3.0, 4.5]  # the backoff is zeroed in tests: the server's wait wins


async def test_retry_after_beyond_the_deadline_raises_now(api: respx.MockRouter) -> None:
    clock = RecordingClock()
    api.post(MODIFY).mock(side_effect=[httpx.Response(429, headers={"Retry-After": "120"}), ok()])
    async with session(clock=clock) as oa:
        with pytest.raises(tim_oa.TransportError) as info:
            await oa.modify_account("@TOA#_news", name="News")
    assert info.value.status_code == 429 and info.value.retry_after == 120.0
    assert clock.sleeps == [] and api.calls.call_count == 1


async def test_backoff_sleeps_on_the_sessions_clock(
    api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tim_oa.RetryPolicy, "delay", lambda self, n, rng=None: 2.0**n)
    clock = RecordingClock()
    api.post(MODIFY).mock(side_effect=[fail(20005), fail(20005), ok()])
    async with session(clock=clock, retry=tim_oa.RetryPolicy(deadline=10)) as oa:
        await oa.modify_account("@TOA#_news", name="News")
    assert clock.sleeps == [1.0, 2.0]


async def test_retry_policy_argument_configures_retries(api: respx.MockRouter) -> None:
    route = api.post(MODIFY).mock(side_effect=[fail(20005)] * 6 + [ok()])
    policy = tim_oa.RetryPolicy(max_retries=5, base_delay=0)  # retries without waiting
    async with session(retry=policy) as oa:
        assert oa.retry is policy and oa.max_retries == 5
        with pytest.raises(tim_oa.ServerError) as info:
            await oa.modify_account("@TOA#_news", name="News")
        assert info.value.attempts == 6
        child = oa.with_options(retry=tim_oa.RetryPolicy(max_retries=0))
        assert child.max_retries == 0 and oa.max_retries == 5
        assert oa.with_options(max_retries=1).retry.base_delay == policy.base_delay
    assert route.call_count == 6
    same = session(retry=policy, max_retries=5, retry_deadline=60.0)  # agreeing shortcuts
    assert same.retry is policy


@pytest.mark.parametrize(
    ("path", "code", "cls"),
    [
        (MODIFY, 70050, tim_oa.AuthError),
        (SVC + "send_official_account_msg", 60019, tim_oa.RateLimitedError),
        (SVC + "official_account_msg_recall", 10004, tim_oa.InvalidRequestError),
    ],
)
async def test_final_answers_are_not_retried(
    api: respx.MockRouter, path: str, code: int, cls: type[Exception]
) -> None:
    route = api.post(path).mock(side_effect=[fail(code), ok()])
    async with session() as oa:
        with pytest.raises(cls):
            await oa.call(
                path.rsplit("/", 1)[1],
                {"Official_Account": "@TOA#_a", "Random": 1, "MsgKeyList": ["1_1_1"]},
            )
    assert route.call_count == 1


async def test_lost_reply_marks_the_later_error(
    api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    api.post(DESTROY).mock(side_effect=[httpx.ReadTimeout("lost"), fail(130004)])
    async with session() as oa:
        with (
            caplog.at_level(logging.INFO, logger="tim_oa"),
            pytest.raises(tim_oa.AccountNotFoundError) as info,
        ):
            # The raw call: destroy_account itself reads this 130004 as done (test_lost_replies).
            await oa.call("destroy_official_account", {"Official_Account": "@TOA#_a"})
    assert info.value.after_unknown_outcome is True
    assert info.value.attempts == 2
    assert any("outcome is unknown" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "first",
    [httpx.ConnectError("refused"), httpx.Response(429), fail(60007)],
    ids=["unsent", "429", "rate-limited"],
)
async def test_refused_first_attempt_is_not_an_unknown_outcome(
    api: respx.MockRouter, first: Any
) -> None:
    api.post(DESTROY).mock(side_effect=[first, fail(130004)])
    async with session() as oa:
        with pytest.raises(tim_oa.AccountNotFoundError) as info:
            await oa.destroy_account("@TOA#_a")
    assert info.value.after_unknown_outcome is False


async def test_the_first_attempts_own_error_is_not_after_an_unknown_outcome(
    api: respx.MockRouter,
) -> None:
    api.post(DESTROY).mock(side_effect=[httpx.ReadTimeout("lost")])
    async with session(max_retries=0) as oa:
        with pytest.raises(tim_oa.TransportError) as info:
            await oa.destroy_account("@TOA#_a")
    assert info.value.after_unknown_outcome is False


# --- closing -------------------------------------------------------------------------------------


async def test_closing_with_calls_in_flight_raises_session_closed(api: respx.MockRouter) -> None:
    arrived = anyio.Event()
    release = anyio.Event()

    async def first_then_fail(request: httpx.Request) -> httpx.Response:
        arrived.set()
        await release.wait()
        return httpx.Response(502)  # retryable: the retry finds the session closed

    route = api.post(MODIFY).mock(side_effect=first_then_fail)
    oa = session()
    errors: list[BaseException] = []

    async def run() -> None:
        try:
            await oa.modify_account("@TOA#_news", name="News")
        except BaseException as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await arrived.wait()
        await oa.aclose()
        release.set()
    assert len(errors) == 1 and isinstance(errors[0], tim_oa.SessionClosedError)
    assert route.call_count == 1
    with pytest.raises(tim_oa.SessionClosedError):
        await oa.destroy_account("@TOA#_a")


async def test_a_pool_closed_under_an_attempt_raises_session_closed() -> None:
    """The race: the session is closed while an attempt is inside the transport."""
    oa = session()

    class ClosedUnderneath(FakeTransport):
        async def post(self, *args: Any, **kw: Any) -> Any:
            oa._shared.closed = True
            raise RuntimeError("Cannot send a request, as the client has been closed.")

    oa._shared.transport = ClosedUnderneath()  # type: ignore[assignment]
    with pytest.raises(tim_oa.SessionClosedError) as info:
        await oa.destroy_account("@TOA#_a")
    assert info.value.__context__ is None


# --- the in-flight slots -------------------------------------------------------------------------


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_free_slot_does_not_yield(anyio_backend: str) -> None:
    async def check() -> None:
        slots = Slots(2)
        ran = False

        async def other() -> None:
            nonlocal ran
            ran = True

        async with anyio.create_task_group() as tg:
            tg.start_soon(other)
            await slots.acquire()
            await slots.acquire()
            assert not ran, "taking a free slot yielded to the event loop"
            slots.release()
            slots.release()

    await check()


def test_slots_survive_a_second_event_loop() -> None:
    import asyncio

    slots = Slots(1)

    async def take_and_abandon() -> None:
        await slots.acquire()  # never released: the loop ends with the slot held

    async def take() -> None:
        with anyio.fail_after(1):
            await slots.acquire()
        slots.release()

    asyncio.run(take_and_abandon())
    asyncio.run(take())


async def test_slot_limit_changes_wake_waiters() -> None:
    slots = Slots(1)
    await slots.acquire()
    got: list[int] = []

    async def waiter(n: int) -> None:
        await slots.acquire()
        got.append(n)

    async with anyio.create_task_group() as tg:
        for n in range(3):
            tg.start_soon(waiter, n)
        await anyio.wait_all_tasks_blocked()
        assert got == []
        slots.limit = 3
        await anyio.wait_all_tasks_blocked()
        assert got == [0, 1]
        slots.release()
    assert got == [0, 1, 2]


async def test_a_cancelled_slot_waiter_leaves_the_queue() -> None:
    slots = Slots(1)
    await slots.acquire()
    with anyio.move_on_after(0.01):
        await slots.acquire()
    slots.release()
    assert slots.in_use == 0
    with anyio.fail_after(1):
        await slots.acquire()  # the cancelled waiter is not served instead


def test_max_concurrency_none_is_adaptive_with_a_ceiling_that_scales_with_the_rate(
    make_session: Callable[..., tim_oa.Session],
) -> None:
    oa = make_session(rate_limit=200)
    # 2 s of round trip at 200 calls/s, with the headroom of 1.25; unmeasured, the bound is it.
    assert oa.max_concurrency == 500 and oa.in_flight_limit == 500
    assert make_session(rate_limit=1000).max_concurrency == 2500
    assert make_session(rate_limit=None).max_concurrency == 16
    assert make_session(max_concurrency=5).max_concurrency == 5
    assert oa._shared.transport._max_connections == 500


# --- typing --------------------------------------------------------------------------------------

TYPED_PROGRAM = """
import tim_oa
from typing_extensions import assert_type

async def main() -> None:
    async with tim_oa.Session(1, "admin", "sig", base_url="http://127.0.0.1:1") as oa:
        assert_type(oa, tim_oa.Session)
        assert_type(oa.with_options(max_retries=0), tim_oa.Session)
        await oa.destory_account("@TOA#_x")
"""


def test_async_with_and_with_options_keep_the_session_type(tmp_path: Any) -> None:
    api = pytest.importorskip("mypy.api")
    program = tmp_path / "prog.py"
    program.write_text(TYPED_PROGRAM)
    out, _, status = api.run(["--strict", "--no-error-summary", str(program)])
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 1 and '"Session" has no attribute "destory_account"' in errors[0], out
    assert status == 1
