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
from ._validation import check_clock, check_rate, check_share

__all__ = ["DEFAULT_MARGIN", "AnyioClock", "Clock", "Limiter", "LocalLimiter", "RedisLimiter"]

DEFAULT_MARGIN = 0.97
"""The share of each documented rate a :class:`LocalLimiter` plans for.

At 200 calls per second it sends at most 194 in any one-second window, evenly spaced (one every
5.2 ms): the 6 left over absorb the time between a grant and the request reaching the server
(event loop delays, the network), so a server counting strictly in any sliding second never
refuses."""


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
        margin: The share of each rate to plan for (default :data:`DEFAULT_MARGIN`, 0.97).

    Each command of each app gets its own budget: its calls are spaced evenly at
    ``rate x margin`` per second (a command Tencent publishes at a lower rate than 200, such as
    ``multiaccount_import`` at 100, at that share of ``rate``), and never more than
    ``floor(rate x margin)`` of them are let through in any one-second window, counted on the
    times they were let through. Waiters are served first in, first out; a cancelled waiter
    leaves the queue having reserved nothing.
    """

    __slots__ = ("_calls", "_clock", "_sends", "margin", "rate", "send_rate")

    def __init__(
        self,
        rate: float | None = 200,
        send_rate: float | None = 1,
        *,
        clock: Clock | None = None,
        margin: float = DEFAULT_MARGIN,
    ) -> None:
        self.rate = check_rate(rate, "rate")
        self.send_rate = check_rate(send_rate, "send_rate")
        self.margin = check_share(margin, "margin")
        checked = check_clock(clock)
        self._clock: Clock = DEFAULT_CLOCK if checked is None else checked
        self._calls: dict[tuple[int, str], Pacer] = {}
        self._sends = (
            None
            if self.send_rate is None
            else KeyedPacers(self.send_rate, margin=self.margin, clock=self._clock)
        )

    def __repr__(self) -> str:
        return (
            f"LocalLimiter(rate={self.rate!r}, send_rate={self.send_rate!r}, "
            f"margin={self.margin!r})"
        )

    async def acquire(self, command: str, *, app: int) -> None:
        """Wait for one call slot of ``command`` of app ``app``."""
        if self.rate is None:
            return
        pacer = self._calls.get((app, command))
        if pacer is None:
            # A command published at a lower rate (the account imports: 100/s) gets its share.
            rate = self.rate * lookup(command).rate_share
            pacer = self._calls[app, command] = Pacer(rate, margin=self.margin, clock=self._clock)
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
