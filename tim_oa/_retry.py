"""The retry decision, in one place and free of I/O.

:meth:`RetryPolicy.next_delay` answers, for one failed attempt: may it be repeated (the error's
kind, from the code table in ``_codes.py``, and whether the command is safe to repeat, from
``_registry.py``), how long to wait (backoff with jitter, or longer when the server or the code
table asks for it), and whether the deadline still allows it. The session's request loop only
does the I/O, the logging and the UserSig renewal around it.
"""

from __future__ import annotations

import math
import random
from typing import Any

from ._codes import REFUSED, TRANSIENT, rule_for
from ._errors import ApiError, MalformedResponseError, TransportError, ValidationError
from ._validation import check_count, check_number

_FIELDS = ("max_retries", "base_delay", "max_delay", "jitter", "deadline", "max_retry_after")


class RetryPolicy:
    """How a session retries: bounded exponential backoff with jitter and an overall deadline.

    Pass one as ``Session(..., retry=RetryPolicy(...))`` or ``with_options(retry=...)``;
    ``max_retries=`` and ``retry_deadline=`` are shortcuts for its two most used fields. A policy
    is immutable (compare, hash, ``repr``); :meth:`replace` makes a changed copy.

    Args:
        max_retries: Retries after the first attempt; 0 disables retrying.
        base_delay: Delay before the first retry, before jitter, in seconds; it doubles on each
            further retry.
        max_delay: Cap on one backoff delay.
        jitter: The share of each delay that is random (0: fixed delays; the default 0.5 waits
            between half and all of the delay).
        deadline: Seconds from the first attempt at or after which no retry starts (``None``:
            no deadline). A wait that would cross it makes the error final at once.
        max_retry_after: The longest wait a server's ``Retry-After`` (or a code's documented
            "retry after") is honoured for; a longer one makes the error final at once.
    """

    # A plain slotted class rather than an attrs one: it is on the import path of Session, and
    # attrs would add ~9 ms to it.
    __slots__ = _FIELDS

    max_retries: int
    base_delay: float
    max_delay: float
    jitter: float
    deadline: float | None
    max_retry_after: float

    def __init__(
        self,
        max_retries: int = 3,
        base_delay: float = 0.25,
        max_delay: float = 8.0,
        jitter: float = 0.5,
        deadline: float | None = 60.0,
        max_retry_after: float = 300.0,
    ) -> None:
        check_count(max_retries, "max_retries", minimum=0)
        if deadline is not None and check_number(deadline, "deadline", minimum=0.0) == 0:
            raise ValidationError("deadline must be positive or None", field="deadline")
        set_ = object.__setattr__
        set_(self, "max_retries", max_retries)
        set_(self, "base_delay", check_number(base_delay, "base_delay", minimum=0.0))
        set_(self, "max_delay", check_number(max_delay, "max_delay", minimum=0.0))
        set_(self, "jitter", check_number(jitter, "jitter", minimum=0.0, maximum=1.0))
        set_(self, "deadline", deadline)
        set_(self, "max_retry_after", check_number(max_retry_after, "max_retry_after", minimum=0.0))

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in _FIELDS)

    def _items(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}

    def replace(self, **changes: Any) -> RetryPolicy:
        """A copy with some fields changed (checked like the constructor's arguments)."""
        unknown = set(changes) - set(_FIELDS)
        if unknown:
            raise TypeError(f"RetryPolicy has no field(s) {', '.join(sorted(unknown))}")
        return RetryPolicy(**{**self._items(), **changes})

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"RetryPolicy is immutable; use .replace({name}=...)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("RetryPolicy is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RetryPolicy):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self._items().items())
        return f"RetryPolicy({fields})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (RetryPolicy, self._values())

    def delay(self, retry_number: int, rng: random.Random | None = None) -> float:
        """The backoff before retry ``retry_number`` (0-based), jitter included."""
        ceiling = min(self.max_delay, self.base_delay * (2.0**retry_number))
        if not self.jitter:
            return ceiling
        r = rng.random() if rng is not None else random.random()
        return ceiling * (1.0 - self.jitter + self.jitter * r)

    def next_delay(
        self,
        exc: BaseException,
        *,
        retries: int,
        elapsed: float,
        safe_to_repeat: bool,
        rng: random.Random | None = None,
    ) -> float | None:
        """The wait before repeating a failed attempt, or ``None`` when ``exc`` is final.

        Args:
            exc: The error of the attempt.
            retries: Retries made so far (0 after the first attempt).
            elapsed: Seconds since the first attempt started.
            safe_to_repeat: Whether the command does no harm if sent again after an attempt
                that may have taken effect.
            rng: Source of jitter (tests).
        """
        if retries >= self.max_retries:
            return None
        least = retry_wait(exc, safe_to_repeat=safe_to_repeat)
        if least is None or least > self.max_retry_after:
            return None
        delay = self.delay(retries, rng)
        if least > delay:
            delay = least
        if self.deadline is not None and elapsed + delay >= self.deadline:
            return None
        return delay


def retry_wait(exc: BaseException, *, safe_to_repeat: bool) -> float | None:
    """The least wait before ``exc``'s request may be sent again; ``None``: never.

    Failures that prove the request was not processed (a refused connection, HTTP 429, a rate
    limit code) may be repeated for every command. Failures that leave the outcome unknown (a
    timeout or dropped connection after sending, HTTP 5xx, a garbled answer, a transient code)
    only when repeating is harmless. Other HTTP statuses and final codes never. The least wait is
    the server's ``Retry-After`` or the code table's documented wait.
    """
    if isinstance(exc, ApiError):
        rule = rule_for(exc.code, exc.command)
        if rule.retry is REFUSED or (rule.retry is TRANSIENT and safe_to_repeat):
            return rule.wait
        return None
    if isinstance(exc, TransportError):
        after = exc.retry_after
        least = after if after is not None and after > 0 and math.isfinite(after) else 0.0
        status = exc.status_code
        if status == 429 or not exc.request_sent:
            return least
        if status is not None and status != 200 and status < 500:
            return None  # 3xx/4xx: the request itself is wrong (a bad base_url, a redirect)
        return least if safe_to_repeat else None
    return None


def may_have_taken_effect(exc: BaseException) -> bool:
    """Whether the attempt that failed with ``exc`` may still have been applied by the server."""
    if isinstance(exc, MalformedResponseError):
        return exc.may_have_taken_effect
    if isinstance(exc, TransportError):
        status = exc.status_code
        return exc.request_sent and (status is None or status == 200 or status >= 500)
    if isinstance(exc, ApiError):
        return rule_for(exc.code, exc.command).retry is TRANSIENT
    return False
