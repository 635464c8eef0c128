"""When to retry, and how long to wait: one small policy object."""

from __future__ import annotations

import random

import attrs

from ._codes import is_retryable_code
from ._errors import ApiError, RateLimitedError, TransportError


@attrs.frozen
class RetryPolicy:
    """Bounded exponential backoff with jitter and an overall deadline.

    Args:
        max_retries: Retries after the first attempt; 0 disables retrying.
        base_delay: Delay before the first retry, before jitter, in seconds.
        max_delay: Cap on a single delay.
        deadline: Seconds from the first attempt after which no new retry starts (None: none).
    """

    max_retries: int = 3
    base_delay: float = 0.25
    max_delay: float = 8.0
    deadline: float | None = 60.0

    def delay(self, retry_number: int, rng: random.Random | None = None) -> float:
        """The wait before retry ``retry_number`` (0-based): half fixed, half random."""
        ceiling = min(self.max_delay, self.base_delay * (2.0**retry_number))
        jitter = rng.random() if rng is not None else random.random()
        return ceiling * (0.5 + 0.5 * jitter)


def is_retryable(error: Exception, *, safe_to_repeat: bool) -> bool:
    """Whether ``error`` may be retried for a command with the given repeat safety.

    Failures that prove the request was not processed (refused connection, rate limiting, HTTP
    429) are retried for every command. Failures that leave the outcome unknown (timeouts after
    sending, HTTP 5xx, transient server codes) are retried only when repeating is harmless.
    Invalid requests, permission and not-found errors are never retried.
    """
    if isinstance(error, RateLimitedError):
        return True
    if isinstance(error, TransportError):
        if error.status_code == 429 or not error.request_sent:
            return True
        if (
            error.status_code is not None
            and error.status_code not in (200,)
            and error.status_code < 500
        ):
            return False  # 4xx: the request itself is wrong (a bad base_url, say)
        return safe_to_repeat  # 5xx, a garbled 200 body, or a timeout/drop after sending
    if isinstance(error, ApiError):
        return safe_to_repeat and is_retryable_code(error.code)
    return False
