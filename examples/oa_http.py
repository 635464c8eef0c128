"""What a web app answers its own callers when a tim_oa call fails: an HTTP status and a JSON body.

The FastAPI and Django examples share it. The rule of thumb: the caller's mistakes (bad input,
an unknown account) are 4xx; a refusal of *our* credentials or plan is a 500 that an operator
must fix (it is logged, the details are not shown to the caller); Tencent being slow, busy or
down is 502 / 503 / 504, which the caller may retry later. tim_oa's exception texts never hold a
secret, so they can be logged as they are.
"""

from __future__ import annotations

import logging
from typing import Any

import tim_oa

logger = logging.getLogger(__name__)

# Checked in order: the first class the error is an instance of decides.
STATUS_FOR: tuple[tuple[type[tim_oa.TimOAError], int], ...] = (
    (tim_oa.ValidationError, 422),
    (tim_oa.AccountNotFoundError, 404),
    (tim_oa.AccountIdInUseError, 409),
    (tim_oa.SubscriberLimitError, 409),
    (tim_oa.SubscriptionLimitError, 409),
    (tim_oa.InvalidRequestError, 400),
    (tim_oa.RateLimitedError, 503),
    (tim_oa.ServerError, 502),
    # Our own credentials, admin account or plan: nothing the caller can do.
    (tim_oa.AuthError, 500),
    (tim_oa.PermissionDeniedError, 500),
    (tim_oa.ServiceNotEnabledError, 500),
)


def error_answer(exc: tim_oa.TimOAError) -> tuple[int, dict[str, Any]]:
    """The status and JSON body for a failed call; server-side problems are logged."""
    if isinstance(exc, tim_oa.TransportError):  # no answer, or not a readable one
        status = 504 if exc.is_timeout else 502
    else:
        status = next((code for cls, code in STATUS_FOR if isinstance(exc, cls)), 500)
    body: dict[str, Any] = {"error": type(exc).__name__}
    if status >= 500:
        logger.error("Official Account API call failed: %r", exc)
    else:
        body["detail"] = str(exc)
    if isinstance(exc, tim_oa.ValidationError):
        body["field"] = exc.field
    if isinstance(exc, tim_oa.ApiError):
        body["code"] = exc.code
    return status, body
