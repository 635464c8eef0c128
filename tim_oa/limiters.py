"""Limiters: what paces a session's calls to the API's rate limits.

The API's limits belong to the app (the SDKAppID), not to a process: 200 calls per second per
command, and one broadcast per second per Official Account. A :class:`Limiter` is the object a
:class:`~tim_oa.Session` asks before each request::

    limiter = tim_oa.limiters.LocalLimiter(rate=200, send_rate=1)
    async with tim_oa.Session(..., limiter=limiter) as oa:
        ...

:class:`LocalLimiter` is the default (``limiter=None`` builds one from the session's
``rate_limit`` and ``send_rate``); it paces the tasks of one process. A limiter shared by many
processes implements the same two methods.

**The contract of a limiter.** ``acquire`` returns when one request of ``command`` may be sent
now; ``acquire_send`` returns when one broadcast of ``account_id`` may be sent now (the session
then also calls ``acquire`` for the send itself). Pacing is smooth: a caller reserves its turn and
sleeps until it, rather than being refused and polling. A call that is cancelled while waiting
must not consume budget it did not use: the next caller must not wait for the turns of cancelled
ones (after a cancelled burst, the next call waits at most about one interval). Both methods must
be safe to call from many tasks of one event loop at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ._clock import DEFAULT_CLOCK, AnyioClock, Clock
from ._ratelimit import KeyedPacers, Pacer
from ._registry import lookup
from ._validation import check_clock, check_number, check_rate, check_share

__all__ = [
    "DEFAULT_MARGIN",
    "DEFAULT_SLACK",
    "AnyioClock",
    "Clock",
    "Limiter",
    "LocalLimiter",
    "RedisLimiter",
]

DEFAULT_MARGIN = 1.0
"""The share of each documented rate a :class:`LocalLimiter` plans for: all of it. What keeps a
strict server from refusing is :data:`DEFAULT_SLACK`, an allowance in seconds, not a cut of the
rate (it was 0.97: a 3 % cut of every rate)."""

DEFAULT_SLACK = 0.02
"""Seconds a :class:`LocalLimiter` adds to the one-second window it counts each budget in.

A server refuses when more than ``rate`` calls *arrive* within one second; the limiter only knows
when it *granted* them, and each request reaches the server some delay ``d`` later (event loop,
network). If ``rate + 1`` arrivals fell within one closed second, their grants fell within
``1 + (d_max - d_min)`` seconds. So when no window of ``1 + slack`` seconds holds more than
``rate`` grants, no server second holds more than ``rate`` arrivals while the delays vary by at
most ``slack``: the allowance is for the *variation* of the delay (a constant delay costs nothing),
an absolute time, the same at every rate. It costs ``slack / (1 + slack)`` of the rate: 2 % for
20 ms (at 200/s one call every 5.1 ms, 200 in any 1.02 s). The earlier margin of 3 % of the rate
bought about 31 ms of the same allowance. (10 ms measured too little on the bench: a 100,000-id
add against a strict server then saw one refusal per job; 15-20 ms, none.)

The event loop is the one source of that variation the limiter can see: a loop that stalls wakes
its pacing sleeps late and sends late. So the window also widens by the largest overshoot of a
pacing sleep in the last window (about 1 ms on a loop that keeps up, tens of ms on a busy one),
which costs throughput only while the loop lags."""


@runtime_checkable
class Limiter(Protocol):
    """Paces requests to the API's per-app limits; see the module documentation."""

    async def acquire(self, command: str, *, app: int) -> None:
        """Wait for one call slot of ``command`` in the budget of app ``app`` (its SDKAppID)."""
        ...

    async def acquire_send(self, account_id: str, *, app: int) -> None:
        """Wait for one broadcast slot of Official Account ``account_id`` of app ``app``."""
        ...


class LocalLimiter:
    """The in-process limiter: paces the tasks of one process (every session that shares it).

    Args:
        rate: Calls per second per command per app (default 200, the documented limit);
            ``None`` disables it.
        send_rate: Broadcasts per second per Official Account (default 1, documented);
            ``None`` disables it.
        clock: Where time is read and slept (default: the event loop's clock).
        margin: The share of each rate to plan for (default :data:`DEFAULT_MARGIN`, all of it).
        slack: Seconds added to the one-second window each budget is counted in (default
            :data:`DEFAULT_SLACK`, 20 ms): the variation of the delay between a grant and the
            request reaching the server that a strict server's count absorbs. At most 1.

    Each command of each app gets its own budget: never more than ``floor(rate x margin)`` of its
    calls are let through in any window of ``1 + slack`` seconds, counted on the times they were
    let through, and they are spaced evenly (``(1 + slack) / (rate x margin)`` seconds apart; above
    250 a second the slots due within 4 ms of a grant go with it, one wake-up per group). A
    command Tencent publishes at a lower rate than 200, such as ``multiaccount_import`` at 100,
    gets that share of ``rate``. Waiters are served first in, first out; a cancelled waiter leaves
    the queue having reserved nothing.
    """

    __slots__ = ("_calls", "_clock", "_sends", "margin", "rate", "send_rate", "slack")

    def __init__(
        self,
        rate: float | None = 200,
        send_rate: float | None = 1,
        *,
        clock: Clock | None = None,
        margin: float = DEFAULT_MARGIN,
        slack: float = DEFAULT_SLACK,
    ) -> None:
        self.rate = check_rate(rate, "rate")
        self.send_rate = check_rate(send_rate, "send_rate")
        self.margin = check_share(margin, "margin")
        self.slack = float(check_number(slack, "slack", minimum=0, maximum=1))
        checked = check_clock(clock)
        self._clock: Clock = DEFAULT_CLOCK if checked is None else checked
        self._calls: dict[tuple[int, str], Pacer] = {}
        self._sends = (
            None
            if self.send_rate is None
            else KeyedPacers(
                self.send_rate, margin=self.margin, slack=self.slack, clock=self._clock
            )
        )

    def __repr__(self) -> str:
        return (
            f"LocalLimiter(rate={self.rate!r}, send_rate={self.send_rate!r}, "
            f"margin={self.margin!r}, slack={self.slack!r})"
        )

    async def acquire(self, command: str, *, app: int) -> None:
        """Wait for one call slot of ``command`` of app ``app``."""
        if self.rate is None:
            return
        pacer = self._calls.get((app, command))
        if pacer is None:
            # A command published at a lower rate (the account imports: 100/s) gets its share.
            rate = self.rate * lookup(command).rate_share
            pacer = self._calls[app, command] = Pacer(
                rate, margin=self.margin, slack=self.slack, clock=self._clock
            )
        await pacer.acquire()

    async def acquire_send(self, account_id: str, *, app: int) -> None:
        """Wait for one broadcast slot of ``account_id`` of app ``app``."""
        if self._sends is not None:
            await self._sends.acquire((app, account_id))


if TYPE_CHECKING:
    from ._redis_limiter import RedisLimiter


def __getattr__(name: str) -> Any:
    # The shared limiter loads on first use: it needs asyncio, which a session does not.
    if name == "RedisLimiter":
        from ._redis_limiter import RedisLimiter

        return RedisLimiter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
