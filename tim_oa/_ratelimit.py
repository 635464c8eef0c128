"""Pacing and in-flight bounds: the two primitives under the session's request loop.

:class:`Pacer` spaces grants evenly, ``(1 + slack) / (rate x margin)`` seconds apart (above 250 a
second, the slots due within :data:`GROUP` of a grant are granted with it: one wake-up of the
event loop per group, not per grant), and never
lets more than ``floor(rate x margin)`` through in any window of ``1 + slack`` seconds, counted on
the times the grants were actually made (the window also widens by the largest overshoot of a
pacing sleep in the last window, while the event loop lags). Callers queue first in, first out;
the caller at the head sleeps until its slot and hands on to the next. A cancelled caller leaves
the queue and has reserved nothing, so a cancelled burst costs the next caller nothing.

:class:`Slots` bounds requests in flight. Taking a free slot does not yield to the event loop (a
yield there costs a loop pass on every request); waiting for a busy one is cancellable and first
in, first out. Its limit may change while it is in use (the session's adaptive bound).

Both create their loop-bound objects (events) only while waiting, and drop waiters left by an
event loop that is gone (a session reused under a second ``asyncio.run``).
"""

from __future__ import annotations

import math
from collections import deque

import anyio

from ._clock import DEFAULT_CLOCK, Clock, loop_key

GROUP = 0.004
"""Seconds: a grant also grants the waiters whose slots fall within this time after it."""


class _Waiter:
    __slots__ = ("cancelled", "event", "granted")

    def __init__(self, event: anyio.Event | None) -> None:
        self.event = event
        self.cancelled = False
        self.granted = False


def _wake_next(waiters: deque[_Waiter]) -> None:
    """Drop cancelled waiters from the front and wake the new head."""
    while waiters and waiters[0].cancelled:
        waiters.popleft()
    if waiters:
        event = waiters[0].event
        if event is not None:
            event.set()


class Pacer:
    """Lets ``rate x margin`` callers through per ``1 + slack`` seconds, first in, first out.

    Args:
        rate: The rate the other side enforces, per second.
        margin: The share of ``rate`` to plan for (``0 < margin <= 1``).
        slack: Seconds added to the one-second window the grants are counted in (``>= 0``):
            the variation of the delay between a grant and the request reaching the server that
            the other side's count can absorb (see :data:`tim_oa.limiters.DEFAULT_SLACK`).
        clock: Where time is read and slept.
    """

    __slots__ = (
        "_ahead",
        "_cap",
        "_clock",
        "_event_type",
        "_interval",
        "_lag",
        "_lag_at",
        "_loop",
        "_next",
        "_recent",
        "_waiters",
        "_window",
        "rate",
    )

    def __init__(
        self,
        rate: float,
        *,
        margin: float = 1.0,
        slack: float = 0.0,
        clock: Clock = DEFAULT_CLOCK,
    ) -> None:
        planned = rate * margin
        if not planned > 0 or math.isinf(planned):
            raise ValueError("rate x margin must be a positive finite number")
        if not 0 <= slack < math.inf:
            raise ValueError("slack must be a non-negative finite number of seconds")
        self.rate = rate
        self._window = 1.0 + slack
        self._interval = self._window / planned
        self._cap = max(1, math.floor(planned))
        # Slots due within GROUP seconds of a grant are granted with it, above 1/GROUP grants a
        # second only: at 200/s the slots lie 5.1 ms apart and every grant is made alone.
        self._ahead = GROUP if self._interval < GROUP else 0.0
        # The largest overshoot of a pacing sleep in the last two windows (a request sent late
        # at t weighs on the grants up to t + window + lag): how far behind this event loop
        # runs. A loop that wakes late also sends late, by varying amounts, so the window widens
        # by it (only while the loop lags; a loop that keeps up overshoots ~1 ms).
        self._lag = 0.0
        self._lag_at = -math.inf
        self._recent: deque[float] = deque(maxlen=self._cap)  # times of the latest grants
        self._next = -math.inf  # earliest time of the next grant by spacing
        self._waiters: deque[_Waiter] = deque()
        self._loop: object = None
        self._event_type: type[anyio.Event] = anyio.Event
        self._clock = clock

    def _window_end(self) -> float:
        """The earliest time the window lets another grant through (``-inf``: it is not full)."""
        recent = self._recent
        return recent[0] + self._window + self._lag if len(recent) == self._cap else -math.inf

    def _due(self) -> float:
        """The earliest time the next grant may be made (spacing and the window)."""
        return max(self._next, self._window_end())

    def is_idle(self, now: float) -> bool:
        """True when nobody waits and forgetting this pacer could not break the rate."""
        recent = self._recent
        return (
            not self._waiters
            and now >= self._next
            and (not recent or now >= recent[-1] + self._window + self._lag)
        )

    async def acquire(self) -> None:
        """Wait for this caller's turn; return when the request may be sent."""
        now = self._clock.monotonic()
        if self._lag and now - self._lag_at > 2 * self._window:
            self._lag = 0.0  # seen over two windows ago: no grant it delayed is still counted
        if not self._waiters and now >= self._due():
            self._next = now + self._interval
            self._recent.append(now)
            return
        await self._queue()

    def _may_join(self, now: float) -> bool:
        """True when the next slot may be granted now, with a grant just made at ``now``."""
        return self._next <= now + self._ahead and self._window_end() <= now

    async def _queue(self) -> None:
        key = loop_key()
        waiters = self._waiters
        if waiters and self._loop is not key:
            waiters = self._waiters = deque()  # the old loop's waiters can never wake
        if not waiters:
            if self._loop is not key:  # the running loop's event class, looked up once per loop
                self._event_type = type(anyio.Event())
            self._loop = key
        waiter = _Waiter(self._event_type() if waiters else None)
        waiters.append(waiter)
        clock = self._clock
        try:
            if waiter.event is not None:
                await waiter.event.wait()  # set when this waiter reaches the head
                if waiter.granted:
                    return  # granted with the head's grant, and out of the queue already
            slept = False
            while True:
                due = self._due()
                now = clock.monotonic()
                if now >= due:
                    break
                await clock.sleep(due - now)
                slept = True
        except BaseException:
            if waiters and waiters[0] is waiter:
                waiters.popleft()
                _wake_next(waiters)
            else:
                waiter.cancelled = True  # skipped when it reaches the head
            raise
        if slept:
            late = now - due
            if late >= self._lag or now - self._lag_at > 2 * self._window:
                self._lag, self._lag_at = late, now
        # Spaced from the slot's due time, not from a late wake-up, so a slow loop pass does not
        # cost throughput; the window still bounds any catching up.
        self._next = due + self._interval
        recent = self._recent
        recent.append(now)
        waiters.popleft()
        # The waiters whose slots fall within the group go now too: one wake-up (and one wave of
        # requests, whose answers come back together) instead of one per slot.
        while self._ahead and waiters and self._may_join(now):
            joining = waiters.popleft()
            if joining.cancelled:
                continue
            self._next += self._interval
            recent.append(now)
            joining.granted = True
            joining.event.set()  # type: ignore[union-attr]
        _wake_next(waiters)


class KeyedPacers:
    """One :class:`Pacer` per key (e.g. per Official Account), created on first use."""

    __slots__ = ("_clock", "_margin", "_pacers", "_slack", "rate")

    _PRUNE_ABOVE = 10_000

    def __init__(
        self,
        rate: float,
        *,
        margin: float = 1.0,
        slack: float = 0.0,
        clock: Clock = DEFAULT_CLOCK,
    ) -> None:
        Pacer(rate, margin=margin, slack=slack, clock=clock)  # validates the arguments
        self.rate = rate
        self._margin = margin
        self._slack = slack
        self._clock = clock
        self._pacers: dict[object, Pacer] = {}

    async def acquire(self, key: object) -> None:
        """Wait for the next turn of ``key``."""
        pacer = self._pacers.get(key)
        if pacer is None:
            if len(self._pacers) >= self._PRUNE_ABOVE:
                self._prune()
            pacer = self._pacers[key] = Pacer(
                self.rate, margin=self._margin, slack=self._slack, clock=self._clock
            )
        await pacer.acquire()

    def _prune(self) -> None:
        now = self._clock.monotonic()
        self._pacers = {k: p for k, p in self._pacers.items() if not p.is_idle(now)}


class Slots:
    """A semaphore for requests in flight whose limit can change while in use.

    ``acquire`` takes a free slot without yielding to the event loop; when none is free it
    waits, first in, first out, and a cancelled waiter leaves the queue (or passes on a slot it
    was handed). Use ``await slots.acquire()`` and ``slots.release()`` in ``try``/``finally``.
    """

    __slots__ = ("_limit", "_loop", "_used", "_waiters")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._used = 0
        self._waiters: deque[_Waiter] = deque()
        self._loop: object = None

    @property
    def limit(self) -> int:
        """The number of slots."""
        return self._limit

    @limit.setter
    def limit(self, value: int) -> None:
        self._limit = value
        if self._waiters:
            self._hand_off()

    @property
    def in_use(self) -> int:
        """Slots taken now."""
        return self._used

    async def acquire(self) -> None:
        """Take a slot, waiting for one if all are taken."""
        used = self._used
        if used < self._limit and not self._waiters:
            if not used:
                self._loop = loop_key()
            self._used = used + 1
            return
        await self._wait()

    async def _wait(self) -> None:
        key = loop_key()
        if self._loop is not key:
            # Holders and waiters of an event loop that is gone will never release.
            self._used = 0
            self._waiters = deque()
            self._loop = key
        self._hand_off()  # drops cancelled waiters at the front, so a free slot is seen
        if self._used < self._limit and not self._waiters:
            self._used += 1
            return
        waiter = _Waiter(anyio.Event())
        self._waiters.append(waiter)
        try:
            await waiter.event.wait()  # type: ignore[union-attr]
        except BaseException:
            if waiter.granted:
                self.release()  # handed a slot while being cancelled: pass it on
            else:
                waiter.cancelled = True
            raise

    def release(self) -> None:
        """Give a slot back, handing it to the longest waiter if there is one."""
        if self._used > 0:
            self._used -= 1
        if self._waiters:
            self._hand_off()

    def _hand_off(self) -> None:
        waiters = self._waiters
        while waiters and (waiters[0].cancelled or self._used < self._limit):
            waiter = waiters.popleft()
            if waiter.cancelled:
                continue
            waiter.granted = True
            self._used += 1
            waiter.event.set()  # type: ignore[union-attr]
