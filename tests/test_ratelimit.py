"""The client-side limiters, on a virtual clock (trio's MockClock) so no test sleeps for real.

The session tests here run against a strict server model: it counts each command's accepted
requests in every closed one-second window ``[t - 1, t]`` and refuses (60007) the one over the
limit, the way a strict sliding-window server would.
"""

from __future__ import annotations

import itertools
import json
import random
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest
import trio
import trio.testing

import tim_oa
from tim_oa._ratelimit import KeyedPacers, Pacer
from tim_oa.limiters import DEFAULT_MARGIN, DEFAULT_SLACK, LocalLimiter

from .conftest import BASE_URL, ok


def on_virtual_clock(func: Callable[[], Awaitable[Any]]) -> Any:
    return trio.run(func, clock=trio.testing.MockClock(autojump_threshold=0))


def interval(rate: float) -> float:
    """The default limiter's spacing at ``rate``: 1 + slack seconds over rate x margin."""
    return (1 + DEFAULT_SLACK) / (rate * DEFAULT_MARGIN)


def grant_times(pacer: Pacer, *, callers: int, each: int) -> list[float]:
    """On a virtual clock, ``callers`` tasks take ``each`` turns of ``pacer``: the grant times."""

    async def main() -> list[float]:
        stamps: list[float] = []

        async def caller() -> None:
            for _ in range(each):
                await pacer.acquire()
                stamps.append(anyio.current_time())

        async with anyio.create_task_group() as tg:
            for _ in range(callers):
                tg.start_soon(caller)
        return stamps

    return list(on_virtual_clock(main))


def most_in_any_second(stamps: list[float], width: float = 1.0) -> int:
    """The largest number of stamps in any closed window [t - width, t]."""
    stamps = sorted(stamps)
    best = start = 0
    for end, t in enumerate(stamps):
        while stamps[start] < t - width - 1e-9:
            start += 1
        best = max(best, end - start + 1)
    return best


class StrictServer:
    """Answers after ``rtt``; refuses a command's request over ``limit`` in any closed second."""

    def __init__(self, *, limit: int = 200, rtt: float = 0.05) -> None:
        self.limit = limit
        self.rtt = rtt
        self.accepted: dict[str, deque[float]] = {}
        self.stamps: list[float] = []
        self.refused = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        now = anyio.current_time()
        command = request.url.path.rsplit("/", 1)[1]
        window = self.accepted.setdefault(command, deque())
        while window and window[0] < now - 1.0:
            window.popleft()
        if len(window) >= self.limit:
            self.refused += 1
            answer = {"ActionStatus": "FAIL", "ErrorCode": 60007, "ErrorInfo": "too fast"}
        else:
            window.append(now)
            self.stamps.append(now)
            answer = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
        await anyio.sleep(self.rtt)
        return httpx.Response(200, json=answer)


def session_on(handler: Any, **options: Any) -> tim_oa.Session:
    options.setdefault("usersig", "s")
    return tim_oa.Session(
        sdkappid=1,
        identifier="a",
        base_url=BASE_URL,
        transport=httpx.MockTransport(handler),
        **options,
    )


# --- the pacer on its own -----------------------------------------------------------------------


def test_pacer_spaces_calls_at_the_rate() -> None:
    stamps = sorted(grant_times(Pacer(100.0), callers=5, each=10))
    assert len(stamps) == 50
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) == pytest.approx(0.01, abs=1e-9)
    assert stamps[-1] - stamps[0] == pytest.approx(0.49, abs=1e-6)


def test_pacer_serves_first_in_first_out() -> None:
    async def main() -> list[int]:
        pacer = Pacer(10.0)
        order: list[int] = []

        async def caller(n: int) -> None:
            await pacer.acquire()
            order.append(n)

        async with anyio.create_task_group() as tg:
            for n in range(20):
                tg.start_soon(caller, n)
                await anyio.sleep(0.001)
        return order

    assert on_virtual_clock(main) == list(range(20))


def test_keyed_pacers_are_per_key() -> None:
    async def main() -> dict[str, list[float]]:
        pacer = KeyedPacers(1.0)
        stamps: dict[str, list[float]] = {"a": [], "b": []}
        for _ in range(3):
            for key in ("a", "b"):
                await pacer.acquire(key)
                stamps[key].append(anyio.current_time())
        return stamps

    stamps = on_virtual_clock(main)
    start = stamps["a"][0]
    assert [round(t - start, 6) for t in stamps["a"]] == [0.0, 1.0, 2.0]
    assert [round(t - start, 6) for t in stamps["b"]] == [0.0, 1.0, 2.0]


class LateClock:
    """trio's virtual clock, but every sleep overshoots by up to ``late`` seconds (a busy loop)."""

    def __init__(self, late: float, seed: int = 7) -> None:
        self.late = late
        self.rng = random.Random(seed)

    def monotonic(self) -> float:
        return trio.current_time()

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(seconds + self.rng.random() * self.late)


def test_pacer_catches_up_on_late_wakeups_but_never_passes_the_window() -> None:
    """Wake-ups up to 3 intervals late: throughput stays at the planned rate, and no closed
    window of 1 + slack seconds ever sees more than floor(rate x margin) grants."""

    pacer = Pacer(200.0, margin=DEFAULT_MARGIN, slack=DEFAULT_SLACK, clock=LateClock(late=3 / 200))
    stamps = grant_times(pacer, callers=50, each=40)
    assert len(stamps) == 2000
    assert most_in_any_second(stamps, 1 + DEFAULT_SLACK) <= 200
    ideal = 1999 * interval(200)
    assert max(stamps) - min(stamps) <= ideal * 1.03


def test_cancelled_waiters_give_their_turns_back() -> None:
    async def main() -> float:
        pacer = Pacer(10.0)
        await pacer.acquire()  # t = 0; the next turn is at 0.1
        async with anyio.create_task_group() as tg:
            for _ in range(100):
                tg.start_soon(pacer.acquire)
            await anyio.sleep(0.05)
            tg.cancel_scope.cancel()  # the head (sleeping) and 99 queued behind it
        start = anyio.current_time()
        await pacer.acquire()
        return anyio.current_time() - start

    assert on_virtual_clock(main) == pytest.approx(0.05, abs=1e-9)  # the rest of one interval


def test_limiter_arguments_are_checked() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"rate": 0}, "rate"),
        ({"rate": float("nan")}, "rate"),
        ({"rate": True}, "rate"),
        ({"rate": "200"}, "rate"),
        ({"send_rate": float("inf")}, "send_rate"),
        ({"margin": 0}, "margin"),
        ({"margin": 1.5}, "margin"),
        ({"slack": -0.01}, "slack"),
        ({"slack": 10}, "slack"),  # seconds, not milliseconds
        ({"slack": True}, "slack"),
        ({"clock": object()}, "clock"),
    ]
    for kw, field in cases:
        with pytest.raises(tim_oa.ValidationError) as info:
            LocalLimiter(**kw)
        assert info.value.field == field


def test_local_limiter_budgets_are_per_app_and_command() -> None:
    async def main() -> list[float]:
        limiter = LocalLimiter(rate=10, margin=1.0, slack=0)
        stamps = []
        for app, command in [(1, "a"), (2, "a"), (1, "b"), (1, "a")]:
            await limiter.acquire(command, app=app)
            stamps.append(anyio.current_time())
        return stamps

    start, *rest = on_virtual_clock(main)
    assert [round(t - start, 6) for t in rest] == [0.0, 0.0, 0.1]


# --- the session against a strict server --------------------------------------------------------


def test_session_rate_limit_is_per_command_and_shared_by_tasks() -> None:
    async def main() -> dict[str, list[float]]:
        stamps: dict[str, list[float]] = {}

        def handler(request: httpx.Request) -> httpx.Response:
            command = request.url.path.rsplit("/", 1)[1]
            stamps.setdefault(command, []).append(anyio.current_time())
            return ok(OfficialAccountInfoList=[], SubscriberList=[], Next="")

        # Enough slots for all 20 callers: with fewer, which caller gets a freed slot depends on
        # trio's (randomised) scheduling, and a command's spacing on the other command's turns.
        oa = session_on(handler, rate_limit=20.0, max_concurrency=20)
        async with oa, anyio.create_task_group() as tg:
            for i in range(10):
                tg.start_soon(oa.destroy_account, f"@TOA#_{i}")
                tg.start_soon(oa.modify_subscriber, "@TOA#_a", f"u{i}", "x")
        return stamps

    stamps = on_virtual_clock(main)
    for command in ("destroy_official_account", "modify_subscriber_info"):
        times = stamps[command]
        assert len(times) == 10
        # Each command is spaced at (1 + slack) / 20 s on its own, not queued behind the other.
        assert times[-1] - times[0] == pytest.approx(9 * interval(20), abs=1e-6)


def test_rate_limit_none_disables() -> None:
    async def main() -> float:
        oa = session_on(lambda r: ok(), rate_limit=None)
        start = anyio.current_time()
        async with oa:
            for i in range(50):
                await oa.destroy_account(f"@TOA#_{i}")
        return anyio.current_time() - start

    assert on_virtual_clock(main) == 0.0


async def _flood(oa: tim_oa.Session, calls: int, workers: int = 100) -> None:
    counter = itertools.count()

    async def worker() -> None:
        while next(counter) < calls:
            await oa.call("destroy_official_account", {"Official_Account": "@TOA#_a"})

    async with anyio.create_task_group() as tg:
        for _ in range(workers):
            tg.start_soon(worker)


@pytest.mark.parametrize(("rtt", "calls"), [(0.05, 2000), (0.1, 2000), (0.3, 2000)])
def test_strict_sliding_window_server_never_refuses_and_throughput_holds(
    rtt: float, calls: int
) -> None:
    """The default session (adaptive in-flight bound, limiter with its slack) at several round
    trips: 0 refusals, and the elapsed time within 3 % of the limiter's spacing."""

    async def main() -> StrictServer:
        server = StrictServer(limit=200, rtt=rtt)
        async with session_on(server, max_retries=0) as oa:
            await _flood(oa, calls)
        return server

    server = on_virtual_clock(main)
    assert server.refused == 0
    assert len(server.stamps) == calls
    assert most_in_any_second(server.stamps) <= 200
    ideal = (calls - 1) * interval(200)
    assert max(server.stamps) - min(server.stamps) <= ideal * 1.03


def test_adaptive_bound_follows_the_round_trip() -> None:
    async def main() -> tuple[int, int, int]:
        server = StrictServer(rtt=0.2)
        async with session_on(server) as oa:
            before = oa.in_flight_limit
            await _flood(oa, 300)
            after = oa.in_flight_limit
            fixed = oa.with_options(max_concurrency=7).in_flight_limit
        return before, after, fixed

    before, after, fixed = on_virtual_clock(main)
    assert before == 500  # not yet measured: the ceiling, 200/s x 2 s x 1.25 (the limiter paces)
    assert after == 50  # 200/s x 200 ms x 1.25
    assert fixed == 7


def test_a_cancelled_burst_leaves_no_reservations() -> None:
    """2,000 queued calls cancelled after 0.2 s: the next call waits at most one interval."""

    async def main() -> float:
        server = StrictServer(rtt=0.02)
        async with session_on(server) as oa:
            async with anyio.create_task_group() as tg:
                for _ in range(2000):
                    tg.start_soon(oa.call, "destroy_official_account", {"Official_Account": "x"})
                await anyio.sleep(0.2)
                tg.cancel_scope.cancel()
            assert len(server.stamps) < 500  # most were still queued behind the limiter
            start = anyio.current_time()
            await oa.call("destroy_official_account", {"Official_Account": "x"})
            return anyio.current_time() - start

    waited = on_virtual_clock(main)
    assert waited <= interval(200) + 0.02 + 1e-6  # one interval plus the round trip


def test_cancelled_sends_leave_no_pacing_reservations() -> None:
    """30 queued sends to one account cancelled: the next send waits at most one interval."""

    async def main() -> float:
        sent: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            sent.append(request)
            return ok(MsgKey="1_1_1", MsgTime=1)

        async with session_on(handler) as oa:
            body = [tim_oa.TextElem("hi")]
            async with anyio.create_task_group() as tg:
                for _ in range(30):
                    tg.start_soon(oa.send_message, "@TOA#_news", body)
                await anyio.sleep(0.2)
                tg.cancel_scope.cancel()
            assert len(sent) == 1  # one send went out; 29 were waiting for their pacing slot
            start = anyio.current_time()
            await oa.send_message("@TOA#_news", body)
            return anyio.current_time() - start

    waited = on_virtual_clock(main)
    assert waited <= interval(1) - 0.2 + 1e-6


def test_with_options_shares_the_limiter_while_settings_are_equal() -> None:
    async def main() -> list[float]:
        stamps: list[float] = []

        def handler(request: httpx.Request) -> httpx.Response:
            stamps.append(anyio.current_time())
            return ok()

        async with session_on(handler, rate_limit=10) as oa:
            child = oa.with_options(max_retries=0)
            other = oa.with_options(rate_limit=5)
            assert child._limiter is oa._limiter
            assert other._limiter is not oa._limiter
            for session in (oa, child, oa, child):
                await session.call("destroy_official_account", {"Official_Account": "x"})
        return stamps

    stamps = on_virtual_clock(main)
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(stamps)]
    assert gaps == [round(interval(10), 6)] * 3


def test_a_custom_limiter_is_asked_for_every_attempt_and_send() -> None:
    asked: list[tuple[str, str, int]] = []

    class Recording:
        async def acquire(self, command: str, *, app: int) -> None:
            asked.append(("call", command, app))

        async def acquire_send(self, account_id: str, *, app: int) -> None:
            asked.append(("send", account_id, app))

    answers = iter([httpx.Response(502), ok(), ok(MsgKey="1_1_1", MsgTime=1)])

    async def main() -> None:
        async with session_on(lambda r: next(answers), limiter=Recording()) as oa:
            await oa.destroy_account("@TOA#_a")
            await oa.call(
                "send_official_account_msg",
                {"Official_Account": "@TOA#_a", "Random": 1, "MsgBody": []},
            )

    on_virtual_clock(main)
    assert asked == [
        ("call", "destroy_official_account", 1),
        ("call", "destroy_official_account", 1),
        ("send", "@TOA#_a", 1),
        ("call", "send_official_account_msg", 1),
    ]


def test_limiter_with_rate_options_is_refused() -> None:
    limiter = LocalLimiter()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"rate_limit": 100}, "rate_limit"),
        ({"send_rate": None}, "send_rate"),
    ]
    for kw, field in cases:
        with pytest.raises(tim_oa.ValidationError) as info:
            session_on(lambda r: ok(), limiter=limiter, **kw)
        assert info.value.field == field
    oa = session_on(lambda r: ok(), limiter=limiter, rate_limit=200)  # the default: fine
    assert oa._limiter is limiter
    with pytest.raises(tim_oa.ValidationError):
        oa.with_options(rate_limit=50)  # the session paces with its limiter
    assert oa.with_options(limiter=None, rate_limit=50)._limiter is not limiter
    with pytest.raises(tim_oa.ValidationError) as info:
        session_on(lambda r: ok(), limiter=object())
    assert info.value.field == "limiter"


def test_requests_carry_a_json_body_under_pacing() -> None:
    """Pacing changes when requests leave, never what they carry."""

    async def main() -> list[dict[str, Any]]:
        bodies: list[dict[str, Any]] = []

        def handler(request: httpx.Request) -> httpx.Response:
            bodies.append(json.loads(request.content))
            return ok()

        async with session_on(handler, rate_limit=50) as oa:
            for i in range(3):
                await oa.call("destroy_official_account", {"Official_Account": f"@TOA#_{i}"})
        return bodies

    assert on_virtual_clock(main) == [{"Official_Account": f"@TOA#_{i}"} for i in range(3)]


def test_waiters_of_an_abandoned_event_loop_do_not_block_the_next_one() -> None:
    """A session reused under a second ``asyncio.run`` after the first loop was left with a
    caller queued in the pacer: the new loop's caller is served, not queued behind it."""
    import asyncio

    pacer = Pacer(20.0)
    old_loop = asyncio.new_event_loop()

    async def queued_forever() -> None:
        await pacer.acquire()
        await pacer.acquire()  # queued as the head, asleep in the old loop

    task = old_loop.create_task(queued_forever())
    old_loop.run_until_complete(asyncio.sleep(0.01))
    assert not task.done()

    async def next_call() -> None:
        with anyio.fail_after(2):
            await pacer.acquire()

    try:
        asyncio.run(next_call())
    finally:
        task.cancel()
        old_loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
        old_loop.close()


def test_without_a_rate_the_adaptive_bound_keeps_the_pool_small() -> None:
    async def main() -> tuple[int, int]:
        bounds = []
        for rate in (None, 200.0):
            async with session_on(StrictServer(rtt=0.2), rate_limit=rate) as oa:
                await _flood(oa, 50)
                bounds.append(oa.in_flight_limit)
        return bounds[0], bounds[1]

    unlimited, limited = on_virtual_clock(main)
    assert unlimited == 16  # nothing to size it by: a small pool, not the ceiling
    assert limited == 50  # the same round trip with a rate: 200/s x 200 ms x 1.25
