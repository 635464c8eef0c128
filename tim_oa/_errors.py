"""The whole exception tree of tim_oa, and nothing else.

Every exception raised by a public call derives from :class:`TimOAError` (bad arguments may also
raise ``TypeError``/``ValueError`` through :class:`ValidationError`). Messages never contain a
UserSig, a secret key or a request URL (whose query string carries the UserSig)::

    TimOAError
    ├── ValidationError (also ValueError)      bad input, raised before any request
    ├── TransportError                         no usable API answer (network, timeout, HTTP status)
    │   └── MalformedResponseError             an answer whose JSON is not the documented shape
    ├── ApiError                               a non-zero ErrorCode (unknown codes: ApiError itself)
    │   ├── InvalidRequestError
    │   ├── AuthError
    │   │   └── UserSigExpiredError
    │   ├── PermissionDeniedError
    │   ├── AccountNotFoundError
    │   ├── AccountIdInUseError
    │   ├── SubscriberLimitError
    │   ├── SubscriptionLimitError
    │   ├── ServiceNotEnabledError
    │   ├── RateLimitedError
    │   ├── RefusedByWebhookError
    │   └── ServerError
    ├── PaginationError                        a walk over pages that would not end
    ├── BatchError                             BatchResult.raise_for_failures(); carries .result
    │   └── ProgressCallbackError              an on_progress callback raised; carries .result
    ├── BatchAbortedError                      an id not sent after a job-stopping error
    ├── MissingResultError                     an id the server's answer left out
    ├── SessionClosedError                     a call on (or a retry after) a closed session
    ├── EventLoopError                         a session used from an event loop it cannot serve
    │   └── SyncInAsyncError                   a SyncSession called inside a running event loop
    ├── LimiterUnavailableError                a shared limiter's store (Redis) cannot be reached
    └── WebhookError                           a callback that cannot be accepted; carries .reason

Which class an API error code raises, and whether it is worth retrying, is decided by the one
table in :mod:`tim_oa._codes`. This module imports nothing of tim_oa's at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for annotations only: no import circle at run time
    from ._batch import BatchResult


class TimOAError(Exception):
    """Base class of every error raised by tim_oa.

    Attributes:
        attempts: How many requests were made before the error was raised (1 without retries).
        after_unknown_outcome: True when an earlier attempt of the same call may have taken
            effect (its answer was lost: a timeout or dropped connection after sending, HTTP
            5xx) before this error was raised by a later attempt. A destroy answered 130004 or
            a create answered 130008 after such an attempt may be the call's own earlier
            success.
    """

    attempts: int = 1
    after_unknown_outcome: bool = False


class ValidationError(TimOAError, ValueError):
    """Bad input, caught before any request is sent.

    ``field`` names the offending argument (wire or Python name) and ``limit`` the rule it broke,
    when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None, limit: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.limit = limit


class TransportError(TimOAError):
    """The request did not produce a usable API answer.

    Raised for network failures, timeouts, HTTP statuses other than 200, and bodies that are not
    the JSON envelope.

    Attributes:
        command: The wire command.
        status_code: The HTTP status, when an answer arrived.
        request_sent: False when the request certainly never reached the server (a failed
            connect), which makes it safe to retry any command.
        is_timeout: True when the attempt ran out of time.
        retry_after: Seconds the server asked to wait (``Retry-After`` on 429/503), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        command: str | None = None,
        status_code: int | None = None,
        request_sent: bool = True,
        is_timeout: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.command = command
        self.status_code = status_code
        self.request_sent = request_sent
        self.is_timeout = is_timeout
        self.retry_after = retry_after


class MalformedResponseError(TransportError):
    """The server answered, but not in the documented shape (wrong types, missing fields).

    Attributes:
        may_have_taken_effect: True when the command may have been applied by the server even
            though its answer could not be read (for example a broadcast answered ``ErrorCode``
            0 whose ``MsgKey`` is missing): do not blindly send it again.
    """

    def __init__(
        self,
        message: str,
        *,
        command: str | None = None,
        status_code: int | None = 200,
        may_have_taken_effect: bool = True,
    ) -> None:
        super().__init__(message, command=command, status_code=status_code, request_sent=True)
        self.may_have_taken_effect = may_have_taken_effect


class ApiError(TimOAError):
    """The API answered with a non-zero ``ErrorCode``.

    ``code`` is the numeric code, ``info`` the server's ``ErrorInfo`` text, ``command`` the wire
    command and ``request_id`` the ``RequestId`` when the server sent one.
    """

    def __init__(
        self,
        code: int,
        info: str = "",
        *,
        command: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.code = code
        self.info = info
        self.command = command
        self.request_id = request_id
        super().__init__(self._message())

    def _message(self) -> str:
        where = f"{self.command}: " if self.command else ""
        text = f" {self.info}" if self.info else ""
        return f"{where}error {self.code}{text}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_api_error,
            (type(self), self.code, self.info, self.command, self.request_id),
        )


def _rebuild_api_error(
    cls: type[ApiError], code: int, info: str, command: str | None, request_id: str | None
) -> ApiError:
    return cls(code, info, command=command, request_id=request_id)


class InvalidRequestError(ApiError):
    """The request was malformed or a parameter was rejected (6017, 20001, 600xx parse errors)."""


class AuthError(ApiError):
    """The admin identity or UserSig was rejected (700xx, 60004-60006)."""


class UserSigExpiredError(AuthError):
    """The UserSig has expired (70001). The session renews it once and retries by itself."""


class PermissionDeniedError(ApiError):
    """The operation is not permitted (130002, 10007, 60010, 60021)."""


class AccountNotFoundError(ApiError):
    """The Official Account does not exist or was destroyed (130004, 10010)."""


class AccountIdInUseError(ApiError):
    """The custom Official Account id is already used (130008)."""


class SubscriberLimitError(ApiError):
    """The account has reached its ``MaxSubscriberNum`` (130006)."""


class SubscriptionLimitError(ApiError):
    """The user subscribes to as many accounts as allowed (130010)."""


class ServiceNotEnabledError(ApiError):
    """The app has not enabled the Official Account service, or its plan lapsed (131000, 60020)."""


class RateLimitedError(ApiError):
    """A server-side rate limit was hit (60007, 60011, 60018, 60019)."""


class RefusedByWebhookError(ApiError):
    """The app's own "before" webhook refused the request (10016, 20006, 120001-130000).

    ``code`` is the code the webhook answered with when it chose one of the app-defined codes
    (120001 to 130000) and ``info`` its ``ErrorInfo``; 20006 (a refused create) and 10016 (a
    refused send) are Tencent's codes for a plain refusal. Never retried: the same request would
    be refused the same way.
    """


class ServerError(ApiError):
    """A transient server-side failure (10002, 20005, 60008, ...). Retried with backoff."""


class PaginationError(TimOAError):
    """A walk over pages would not end (a cursor that does not move, empty pages without end)."""


class BatchError(TimOAError):
    """Raised by :meth:`BatchResult.raise_for_failures`; ``result`` holds every outcome."""

    def __init__(self, message: str, result: BatchResult) -> None:
        super().__init__(message)
        self.result = result


class ProgressCallbackError(BatchError):
    """An ``on_progress`` callback raised during a bulk job.

    The job itself ran to the end: ``result`` holds every id's outcome, and ``__cause__`` is the
    callback's exception.
    """


class BatchAbortedError(TimOAError):
    """An id was not sent because an earlier chunk failed with an error every chunk would hit.

    ``cause`` is that earlier error (e.g. :class:`AccountNotFoundError`).
    """

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"not sent: the job stopped after {type(cause).__name__}: {cause}")
        self.cause = cause


class MissingResultError(TimOAError):
    """The server's answer to a chunk left some of its ids out; those ids count as failed."""

    def __init__(self, count: int) -> None:
        super().__init__(f"the server's answer left out {count} id(s) of the chunk")
        self.count = count


class SessionClosedError(TimOAError):
    """The session was closed before (or while) the call ran; open a new session."""


class EventLoopError(TimOAError):
    """The session cannot serve a call from this event loop (see the README, "Event loops")."""


class SyncInAsyncError(EventLoopError):
    """A :class:`SyncSession` was called inside a running event loop.

    A blocking call there would stall every other task of that loop (and, from the session's own
    loop thread, wait for itself forever), so it is refused before anything runs: use
    :class:`Session` and ``await`` its methods instead (a notebook cell may ``await`` directly).
    """


class LimiterUnavailableError(TimOAError):
    """A shared rate limiter cannot reach its store (``RedisLimiter(..., on_redis_error="raise")``).

    Raised instead of sending without a limit; the default policy falls back to a local limiter.
    """


class WebhookError(TimOAError):
    """A callback request that cannot be accepted.

    ``reason`` is a short machine-readable word (``"signature"``, ``"stale"``, ``"sdkappid"``,
    ``"command"``, ``"body"``, ...) and the message says what was wrong, without secrets.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
