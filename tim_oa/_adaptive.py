"""The adaptive in-flight bound: the requests a session keeps on the wire by default.

It applies when ``max_concurrency`` is ``None``. A session paced at ``rate`` calls per second
with answers taking ``rtt`` seconds has, by Little's law, ``rate x rtt`` requests in flight; fewer
slots than that cap the throughput below the rate, many more only open connections nobody needs.
The bound is therefore ``rate x rtt x ADAPTIVE_HEADROOM`` (the headroom covers the slots held
while callers wait for the limiter), at least :data:`ADAPTIVE_MIN`, and at most a ceiling that
scales with the rate: room for :data:`ADAPTIVE_MAX_RTT` seconds of round trip (500 at 200 calls/s,
2,500 at 1,000/s), and never more than half the process's limit of open files (each request in
flight holds a socket).

Before the first answer is timed the round trip is unknown (:data:`INITIAL_RTT` is infinite) and
the bound is the ceiling. That does not flood the server: the limiter still spaces requests at the
rate, so what is in flight when the first answer comes back is exactly what the rate sends in one
real round trip. The first answer's round trip then replaces the unknown outright, and later ones
move a moving average. No round trip is spent on a small probe wave, and no guess of the round
trip (a fast one would starve a far region's first second) decides anything.
"""

from __future__ import annotations

import functools
import math

ADAPTIVE_MIN = 4
"""The adaptive in-flight bound never goes below this."""
ADAPTIVE_MAX_RTT = 2.0
"""Seconds of round trip the ceiling of the adaptive bound has room for at the session's rate."""
ADAPTIVE_UNLIMITED = 16
"""The in-flight bound when no rate is known (``rate_limit=None``, or a limiter without ``rate``):
nothing to size it by, so the pool stays small."""
ADAPTIVE_HEADROOM = 1.25
"""In flight = rate x round trip x this: room for the limiter's waits inside the slots."""
INITIAL_RTT = math.inf
"""The round trip until the first answer is timed: unknown, so the bound is the ceiling."""
RTT_WEIGHT = 0.2
"""The weight of each new round trip in the moving average."""
FD_FALLBACK = 1024
"""The limit of open files assumed where it cannot be read."""


@functools.cache
def open_file_budget() -> int:
    """Half the soft limit of open files: the most sockets the adaptive bound lets a session use.

    Read once; where ``resource`` is missing (Windows) :data:`FD_FALLBACK` files are assumed.
    """
    soft = FD_FALLBACK
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        soft = 1 << 20 if limit == resource.RLIM_INFINITY else limit
    except (ImportError, OSError, ValueError):  # pragma: no cover - not POSIX
        pass
    return max(ADAPTIVE_MIN, soft // 2)


def adaptive_ceiling(rate: float | None) -> int:
    """The most the adaptive bound allows at ``rate`` calls/s (``None``: no rate known)."""
    if rate is None:
        return ADAPTIVE_UNLIMITED
    wanted = min(rate * ADAPTIVE_MAX_RTT * ADAPTIVE_HEADROOM, 1e9)
    return max(ADAPTIVE_MIN, min(open_file_budget(), math.ceil(wanted)))


def adaptive_limit(rate: float | None, rtt: float, ceiling: int | None = None) -> int:
    """The bound for ``rate`` calls/s at round trip ``rtt`` seconds (infinite: not yet timed).

    ``ceiling``: ``adaptive_ceiling(rate)``, if the caller has it already.
    """
    if ceiling is None:
        ceiling = adaptive_ceiling(rate)
    if rate is None or rtt >= ADAPTIVE_MAX_RTT:
        return ceiling
    return min(ceiling, max(ADAPTIVE_MIN, math.ceil(rate * rtt * ADAPTIVE_HEADROOM)))


def next_rtt(average: float, seconds: float) -> float:
    """The round-trip average after an answer that took ``seconds``."""
    if average == INITIAL_RTT:
        return seconds  # the first answer sizes the bound: no guess to average it with
    return average + RTT_WEIGHT * (seconds - average)
