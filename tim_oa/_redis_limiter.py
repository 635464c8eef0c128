"""A limiter shared by every process of an app, through Redis (``tim_oa.limiters.RedisLimiter``).

The API's limits belong to the app: 200 calls per second per command for the whole SDKAppID, and
one broadcast per second per Official Account. Processes that each pace themselves at 200/s add
up to many times that; this limiter keeps one schedule per (app, command) and per (app, account)
in Redis, which every process reads and advances atomically.

**The algorithm.** GCRA with no burst ("next free time"), the same as the in-process limiter:
a Lua script reads Redis's own clock (``TIME``, so workers' clocks never matter), hands the caller
the slot ``max(next_free, now)``, moves ``next_free`` one interval on, and answers how long to
wait. The caller sleeps that long and sends: no refusal and no polling, and callers are served in
the order they reserved. The interval is planned for ``rate x margin`` (0.97 by default), so at
200/s slots are 5.16 ms apart and at most 195 fall in any one-second window.

**Late wake-ups.** Grants, not slots, reach the server. A process that stalls (a busy machine,
a long garbage collection) would wake after its slot and send together with the callers of the
next slots. So a caller checks how late it is: the oversleep plus the part of the script's round
trip above the usual one (a stall while the answer waited). Later than ``late_tolerance``, it
reserves a new slot instead of sending (at most three times in a row; then it goes ahead). Every
grant then lies within ``late_tolerance`` after its slot, which keeps any one-second window at
``floor(rate x margin x (1 + late_tolerance)) + 1`` grants at most: 197 at 200/s with the
defaults (0.97 and 15 ms), so a server counting strictly in any sliding second never refuses.

**Cancellation.** A waiter cancelled before its slot gives the slot back with a second script.
When it is still the last slot handed out, the schedule moves back to it (and over any slots
already given back just before it); otherwise the slot goes to a small sorted set of given-back
slots that the next reservations take first. So a cancelled burst, cancelled in any order, costs
the next caller nothing. A caller cancelled while its reservation is in flight gives it back when
the answer arrives. The only slot that can be lost is one whose answer never came (the
per-operation timeout, a dropped connection): one interval per such failure.

**Keys.** ``<prefix>:{<app>}:call:<command>`` and ``<prefix>:{<app>}:send:<account_id>`` hold
the next free time (microseconds of Redis's clock); ``<prefix>:{<app>}:call-gaps:<command>`` and
``...:send-gaps:...`` are the given-back slots. Every write sets an expiry at the end of the
schedule, so a key lives only while it holds a future slot and nothing grows without bound. The
app id is in braces: a Redis Cluster hash tag, so the two keys of one script share a slot.

**When Redis fails.** Each Redis operation is bounded by ``timeout``. On an error or a timeout
the limiter logs one WARNING for the outage and, by default (``on_redis_error="fallback"``),
paces this process alone (a ``LocalLimiter``) at ``fallback_share`` of each rate (set it to
1 / the number of processes). It asks Redis again at most once per ``retry_redis_after``
seconds, on the next call after that; meanwhile calls do not touch Redis (no call waits for a
dead server's timeout more than once per ``retry_redis_after``). When Redis answers, shared
pacing resumes and an INFO line says so. With ``on_redis_error="raise"`` the calls that would
have used Redis raise :class:`~tim_oa.LimiterUnavailableError` instead. There is no retry loop
and no silent bypass.

**The hand-over.** Each process remembers the times of its own grants of the last second, per
schedule. Going down, the fallback counts them: a fallback grant waits until this process's
grants in the last second (shared ones included) are fewer than the fallback's per-second budget
(``floor(rate x fallback_share x margin)``), so the shared second that just ended and the first
fallback second do not add up. Coming back, the first reservation of each schedule carries this
process's fallback grants of the last second into Redis (the schedule moves on by that many
intervals before the slot, once: the carried grants are then forgotten), so the restarted shared
schedule does not add a full second to the fallback's. A process only knows its own grants: with
``fallback_share = 1 / processes`` and processes that used the shared budget about evenly, the
app stays within its rate across both hand-overs; a process that used far less than its share
just before an outage may add up to its fallback budget on top of the others' shared second.

**Why a script of our own, not** ``limits``. ``limits`` (its async Redis strategies) is well kept,
but it decides "hit or refuse" for a fixed or moving window: a caller refused must poll, and many
callers polling the same window wake together and burst at its edge, which is what a strict
server refuses. It timestamps entries with each worker's own ``time.time()``, it builds its own
client from a URI (coredis by default) instead of taking the user's ``redis.asyncio.Redis``, and
it has nothing to give a slot back. What is needed here is a reservation with a wait time, which
is two short scripts (below) whose whole state is one integer and a rarely used sorted set.

The module is over 500 lines on purpose: the two Lua scripts and the code that calls them and
recovers from their failures are read together.

redis-py is imported only when a :class:`RedisLimiter` is built, so importing this module (and
``tim_oa.limiters``) needs no Redis client installed. redis-py's asyncio client runs on asyncio
only, and so does this limiter.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from ._clock import DEFAULT_CLOCK, Clock
from ._errors import LimiterUnavailableError, ValidationError

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger("tim_oa")

__all__ = ["RedisLimiter"]

_MARGIN = 0.97
"""The share of each rate planned for: the same as the in-process limiter's."""

_USEC = 1_000_000

_LATE_TOLERANCE = 0.015
"""Seconds a grant may come after its slot: half of what the margin leaves at 0.97 (31 ms)."""

_LATE_RETRIES = 3
"""New slots a caller that woke too late may take in a row before it goes ahead anyway."""

_RTT_DRIFT = 1.01
"""The usual round trip follows a lasting rise (another network path) by 1% per call."""

# Both scripts keep times as integer microseconds of Redis's clock, written with '%.0f': Lua 5.1
# numbers are doubles (exact to 2^53, ~285 years of microseconds), and tostring() would print
# them with 14 significant digits.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local carry = tonumber(ARGV[2] or '0')
local next_free = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = nil
if carry > 0 then
  next_free = math.max(next_free, now) + carry * interval
elseif redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('(%.0f', now))
  local first = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if first then
    redis.call('ZREM', KEYS[2], first)
    slot = tonumber(first)
    if next_free > now then
      redis.call('PEXPIRE', KEYS[2], math.floor((next_free - now) / 1000) + 1)
    end
  end
end
if slot == nil then
  slot = math.max(next_free, now)
  next_free = slot + interval
  redis.call('SET', KEYS[1], string.format('%.0f', next_free),
             'PX', math.floor((next_free - now) / 1000) + 1)
end
return {slot - now, string.format('%.0f', slot)}
"""
"""KEYS: next-free key, gaps key. ARGV: interval (us), then the slots to carry (a process's
fallback grants of the last second, once after an outage). Returns [wait (us), slot (us)]."""

_RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local slot = tonumber(ARGV[2])
local next_free = tonumber(redis.call('GET', KEYS[1]) or '0')
if next_free <= now or slot >= next_free then
  return 0
end
if slot + interval == next_free then
  next_free = slot
  while redis.call('ZREM', KEYS[2], string.format('%.0f', next_free - interval)) == 1 do
    next_free = next_free - interval
  end
  if next_free <= now then
    redis.call('DEL', KEYS[1], KEYS[2])
    return 1
  end
  redis.call('SET', KEYS[1], string.format('%.0f', next_free),
             'PX', math.floor((next_free - now) / 1000) + 1)
  if redis.call('EXISTS', KEYS[2]) == 1 then
    redis.call('PEXPIRE', KEYS[2], math.floor((next_free - now) / 1000) + 1)
  end
  return 1
end
if slot >= now then
  redis.call('ZADD', KEYS[2], slot, string.format('%.0f', slot))
  redis.call('PEXPIRE', KEYS[2], math.floor((next_free - now) / 1000) + 1)
  return 2
end
return 0
"""
"""KEYS: next-free key, gaps key. ARGV: interval (us), slot (us). Returns 1 when the schedule
moved back, 2 when the slot was kept for the next caller, 0 when it had already passed."""


_Script = Callable[..., Awaitable[Any]]  # redis-py's AsyncScript: (keys=, args=) -> answer


class _RedisDown(Exception):
    """Redis did not answer usably; the text says why (internal, never leaves the module)."""


def _check_positive(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{name} must be a number", field=name)
    if not (value > 0 and math.isfinite(value)):
        raise ValidationError(f"{name} must be positive and finite, got {value!r}", field=name)
    return float(value)


def _check_share(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ValidationError(f"{name} must be a number in (0, 1], got {value!r}", field=name)
    return float(value)


class RedisLimiter:
    """Paces calls to the API's per-app limits across every process that shares one Redis.

    Pass it to each session of every process: ``Session(..., limiter=RedisLimiter(redis))``.
    See the module documentation for the algorithm, the keys and the failure policy.

    Args:
        redis: A ``redis.asyncio.Redis`` client (``pip install "tim-oa[redis]"``). It stays
            yours: the limiter never closes it.
        rate: Calls per second per command per app, for all processes together (default 200,
            the documented limit); ``None`` disables call pacing.
        send_rate: Broadcasts per second per Official Account (default 1, documented); ``None``
            disables send pacing.
        prefix: The first part of every key, to keep apart environments sharing one Redis.
        margin: The share of each rate planned for (default 0.97), in (0, 1].
        timeout: Seconds each Redis operation may take before Redis counts as unavailable
            (default 0.5).
        on_redis_error: ``"fallback"`` (default): pace locally at ``fallback_share`` of each rate
            while Redis is unavailable. ``"raise"``: raise :class:`~tim_oa.LimiterUnavailableError`.
        fallback_share: The share of each rate one process takes while Redis is unavailable
            (default 0.25: four processes stay within the limit); in (0, 1].
        retry_redis_after: Seconds between two attempts to reach Redis during an outage
            (default 1.0).
        late_tolerance: Seconds a grant may come after its slot before the caller takes a new
            slot instead (default 0.015; see the module documentation).
        clock: Where waits are slept and the outage timer is read (``monotonic()`` and an async
            ``sleep()``); the running loop's clock by default. The schedule itself is always on
            Redis's clock.
    """

    __slots__ = (
        "_carry",
        "_clock",
        "_down",
        "_fallback",
        "_fallback_locks",
        "_give_back_tasks",
        "_next_probe",
        "_recent",
        "_redis_errors",
        "_release",
        "_reserve",
        "_usual_rtt",
        "fallback_share",
        "late_tolerance",
        "margin",
        "on_redis_error",
        "prefix",
        "rate",
        "retry_redis_after",
        "send_rate",
        "timeout",
    )

    def __init__(
        self,
        redis: Redis,
        *,
        rate: float | None = 200,
        send_rate: float | None = 1,
        prefix: str = "tim_oa",
        margin: float = _MARGIN,
        timeout: float = 0.5,
        on_redis_error: Literal["fallback", "raise"] = "fallback",
        fallback_share: float = 0.25,
        retry_redis_after: float = 1.0,
        late_tolerance: float = _LATE_TOLERANCE,
        clock: Clock | None = None,
    ) -> None:
        register = getattr(redis, "register_script", None)
        if not callable(register):
            raise ValidationError(
                "redis must be a redis.asyncio.Redis client (pip install 'tim-oa[redis]')",
                field="redis",
            )
        self.rate = None if rate is None else _check_positive(rate, "rate")
        self.send_rate = None if send_rate is None else _check_positive(send_rate, "send_rate")
        if not isinstance(prefix, str) or not prefix:
            raise ValidationError("prefix must be a non-empty string", field="prefix")
        self.prefix = prefix
        self.margin = _check_share(margin, "margin")
        self.timeout = _check_positive(timeout, "timeout")
        if on_redis_error not in ("fallback", "raise"):
            raise ValidationError(
                f"on_redis_error must be 'fallback' or 'raise', got {on_redis_error!r}",
                field="on_redis_error",
            )
        self.on_redis_error = on_redis_error
        self.fallback_share = _check_share(fallback_share, "fallback_share")
        self.retry_redis_after = _check_positive(retry_redis_after, "retry_redis_after")
        self.late_tolerance = _check_positive(late_tolerance, "late_tolerance")
        if clock is not None and not isinstance(clock, Clock):
            raise ValidationError(
                "clock must have monotonic() and an async sleep(seconds)", field="clock"
            )
        self._clock: Clock = DEFAULT_CLOCK if clock is None else clock
        try:
            from redis.exceptions import RedisError
        except ImportError:  # a client-like object without redis-py: only OSError applies
            self._redis_errors: tuple[type[BaseException], ...] = (OSError,)
        else:
            self._redis_errors = (RedisError, OSError)
        self._reserve: _Script = register(_RESERVE)
        self._release: _Script = register(_RELEASE)
        from .limiters import LocalLimiter  # here: tim_oa.limiters may import this module

        share = self.fallback_share
        self._fallback = LocalLimiter(
            None if self.rate is None else self.rate * share,
            None if self.send_rate is None else self.send_rate * share,
            clock=self._clock,
            margin=self.margin,
            slack=0.0,  # the margin already leaves the room
        )
        self._down: str | None = None  # why Redis counts as unavailable, during an outage
        self._next_probe = -math.inf
        self._usual_rtt = math.inf  # the shortest recent round trip of the reserve script
        self._give_back_tasks: set[asyncio.Task[None]] = set()
        # Per schedule (its next-free key): this process's grants of the last second (monotonic
        # times), its fallback grants not yet carried into Redis, a lock serialising fallbacks.
        self._recent: dict[str, collections.deque[float]] = {}
        self._carry: dict[str, collections.deque[float]] = {}
        self._fallback_locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return (
            f"RedisLimiter(rate={self.rate!r}, send_rate={self.send_rate!r}, "
            f"prefix={self.prefix!r}, on_redis_error={self.on_redis_error!r})"
        )

    @property
    def redis_available(self) -> bool:
        """False during an outage (from the failed operation until one succeeds again)."""
        return self._down is None

    # --- the Limiter protocol -----------------------------------------------------------------

    async def acquire(self, command: str, *, app: int) -> None:
        """Wait for one call slot of ``command`` in the budget of app ``app`` (its SDKAppID)."""
        if self.rate is None:
            return
        await self._take("call", app, command, self.rate)

    async def acquire_send(self, account_id: str, *, app: int) -> None:
        """Wait for one broadcast slot of Official Account ``account_id`` of app ``app``."""
        if self.send_rate is None:
            return
        await self._take("send", app, account_id, self.send_rate)

    # --- the machinery ------------------------------------------------------------------------

    def keys(self, kind: Literal["call", "send"], app: int, name: str) -> tuple[str, str]:
        """The Redis keys of one schedule: its next free time and its given-back slots."""
        return (
            f"{self.prefix}:{{{app}}}:{kind}:{name}",
            f"{self.prefix}:{{{app}}}:{kind}-gaps:{name}",
        )

    async def _take(self, kind: Literal["call", "send"], app: int, name: str, rate: float) -> None:
        keys = self.keys(kind, app, name)
        while self._down is not None:
            now = self._clock.monotonic()
            if now >= self._next_probe:
                # This caller asks Redis; the others keep to the fallback meanwhile.
                self._next_probe = now + self.retry_redis_after
                break
            if await self._without_redis(kind, app, name, keys[0], rate):
                return
        interval = math.ceil(_USEC / (rate * self.margin))
        clock = self._clock
        for retry in range(_LATE_RETRIES + 1):
            failure: str | None = None
            carried = self._carried(keys[0])
            sent = clock.monotonic()
            try:
                wait, slot = await self._reserve_slot(keys, interval, carried)
            except _RedisDown as exc:
                failure = str(exc)
            if failure is not None:
                self._mark_down(failure)
                if not await self._without_redis(kind, app, name, keys[0], rate):
                    await self._take(kind, app, name, rate)  # Redis came back meanwhile
                return
            if self._down is not None:
                logger.info("Redis answers again; the rate limit is shared through it again")
                self._down = None
                self._forget_idle()
            answered = clock.monotonic()
            rtt = answered - sent
            self._usual_rtt = min(rtt, self._usual_rtt * _RTT_DRIFT)
            if wait > 0:
                try:
                    await clock.sleep(wait / _USEC)
                except BaseException:
                    await self._give_back(keys, interval, slot)
                    raise
            late = (clock.monotonic() - answered - wait / _USEC) + (rtt - self._usual_rtt)
            if late <= self.late_tolerance or retry == _LATE_RETRIES:
                self._granted(keys[0], clock.monotonic())
                return
            logger.debug("woke %.1f ms after a rate-limit slot; taking a new one", late * 1000)

    def _granted(self, key: str, now: float) -> None:
        """Remember one grant of this process (for the hand-overs; see the module docs)."""
        recent = self._recent.get(key)
        if recent is None:
            if len(self._recent) >= 1024:
                self._forget_idle()
            recent = self._recent[key] = collections.deque()
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        recent.append(now)

    def _carried(self, key: str) -> int:
        """The count of our fallback grants of the last second, handed to one reservation only."""
        carry = self._carry.pop(key, None)
        if not carry:
            return 0
        cutoff = self._clock.monotonic() - 1.0
        while carry and carry[0] <= cutoff:
            carry.popleft()
        return len(carry)

    def _forget_idle(self) -> None:
        """Drop the memories of schedules without a grant in the last second."""
        cutoff = self._clock.monotonic() - 1.0
        for table in (self._recent, self._carry):
            for key in [k for k, times in table.items() if not times or times[-1] <= cutoff]:
                del table[key]
        for key in [k for k, lock in self._fallback_locks.items() if not lock.locked()]:
            del self._fallback_locks[key]

    async def _reserve_slot(
        self, keys: tuple[str, str], interval: int, carried: int = 0
    ) -> tuple[int, int]:
        """Run the reserve script; return (microseconds to wait, the slot)."""
        # The script runs in a task of its own: a caller cancelled while it is in flight then
        # does not lose the answer, and gives the slot back when it arrives.
        args = (interval, carried) if carried else (interval,)
        task = asyncio.ensure_future(self._reserve(keys=keys, args=args))
        description: str | None = None
        try:
            answer = await asyncio.wait_for(asyncio.shield(task), self.timeout)
            wait, slot = int(answer[0]), int(answer[1])
        except asyncio.TimeoutError:
            task.cancel()
            description = f"no answer from Redis within {self.timeout:g} s"
        except self._redis_errors as exc:
            description = f"{type(exc).__name__}: {exc}"
        except (TypeError, ValueError, IndexError) as exc:
            description = f"unexpected answer from Redis ({type(exc).__name__})"
        except BaseException:
            # Cancelled (or interrupted) while the answer was due, or just as it came: the slot
            # goes back as soon as the task has it (a callback runs even on a finished task).
            task.add_done_callback(lambda done: self._give_back_later(done, keys, interval))
            raise
        if description is not None:
            # Raised outside the except block: no __context__ carries the client's exception.
            raise _RedisDown(description)
        return wait, slot

    def _give_back_later(
        self, done: asyncio.Future[Any], keys: tuple[str, str], interval: int
    ) -> None:
        if done.cancelled() or done.exception() is not None:
            return
        try:
            slot = int(done.result()[1])
        except (TypeError, ValueError, IndexError):
            return
        task = asyncio.ensure_future(self._release_slot(keys, interval, slot))
        self._give_back_tasks.add(task)
        task.add_done_callback(self._give_back_tasks.discard)

    async def _give_back(self, keys: tuple[str, str], interval: int, slot: int) -> None:
        """Give an unused slot back; waits for it unless cancelled again (then it runs on)."""
        task = asyncio.ensure_future(self._release_slot(keys, interval, slot))
        self._give_back_tasks.add(task)
        task.add_done_callback(self._give_back_tasks.discard)
        try:
            await asyncio.shield(task)
        except BaseException:  # cancelled again: the task finishes on its own
            return

    async def _release_slot(self, keys: tuple[str, str], interval: int, slot: int) -> None:
        errors: tuple[type[BaseException], ...] = (asyncio.TimeoutError, *self._redis_errors)
        try:
            await asyncio.wait_for(self._release(keys=keys, args=(interval, slot)), self.timeout)
        except errors as exc:
            # The slot is lost: one interval of this schedule. Not an outage by itself.
            logger.debug("could not give a rate-limit slot back to Redis: %s", type(exc).__name__)

    def _mark_down(self, why: str) -> None:
        self._next_probe = self._clock.monotonic() + self.retry_redis_after
        if self._down is None:
            self._down = why
            if self.on_redis_error == "raise":
                logger.warning(
                    "Redis is unavailable (%s); calls fail until it answers (next try in %g s)",
                    why,
                    self.retry_redis_after,
                )
            else:
                logger.warning(
                    "Redis is unavailable (%s); pacing this process alone at %g%% of the rate "
                    "limit until it answers (next try in %g s)",
                    why,
                    self.fallback_share * 100,
                    self.retry_redis_after,
                )

    async def _without_redis(
        self, kind: Literal["call", "send"], app: int, name: str, key: str, rate: float
    ) -> bool:
        """One fallback grant; False when Redis came back meanwhile (then ask it instead)."""
        if self.on_redis_error == "raise":
            raise LimiterUnavailableError(
                f"the shared rate limiter cannot reach Redis: {self._down}"
            )
        lock = self._fallback_locks.get(key)
        if lock is None:
            lock = self._fallback_locks[key] = asyncio.Lock()
        clock = self._clock
        async with lock:
            # The fallback's budget of a second counts this process's grants of the last one.
            budget = max(1, math.floor(rate * self.fallback_share * self.margin))
            recent = self._recent.get(key)
            while recent and len(recent) >= budget:
                now = clock.monotonic()
                while recent and recent[0] <= now - 1.0:
                    recent.popleft()
                if len(recent) >= budget:
                    await clock.sleep(recent[-budget] + 1.0 - now + 1e-6)
            if kind == "call":
                await self._fallback.acquire(name, app=app)
            else:
                await self._fallback.acquire_send(name, app=app)
            if self._down is None:
                return False
            now = clock.monotonic()
            self._granted(key, now)
            self._carry.setdefault(key, collections.deque()).append(now)
            return True
